package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// load loads content and checks its link, as serve does.
func load(t *testing.T, content string) (Config, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "platform.toml")
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	c, err := Load(p, true)
	if err != nil {
		return c, err
	}
	return c, c.CheckLink()
}

func TestLoad(t *testing.T) {
	cases := []struct {
		name    string
		content string
		errHas  string // "" = valid
	}{
		{"defaults with a sim link", `link.kind = "sim"`, ""},
		{"http link complete", `
[link]
kind = "http"
sendsms_url = "http://127.0.0.1:13013/cgi-bin/sendsms"
dlr_url_base = "http://127.0.0.1:8080"
callback_key_file = "/etc/bindpay/callback.key"`, ""},
		{"http link without sendsms_url", `link.kind = "http"`, "link.sendsms_url"},
		{"http link without callback key", `
[link]
sendsms_url = "http://gw/cgi-bin/sendsms"
dlr_url_base = "http://127.0.0.1:8080"`, "link.callback_key_file"},
		{"unknown key", "link.kind = \"sim\"\n[mo]\ndedup = \"1m\"", "unknown key mo.dedup"},
		{"bad duration", "link.kind = \"sim\"\nmo.dedup_window = \"ten\"", "want a duration"},
		{"negative duration", "link.kind = \"sim\"\nmo.dedup_window = \"-1m\"", "mo.dedup_window"},
		{"bad store", "link.kind = \"sim\"\nstore.url = \"mysql://x\"", "store.url"},
		{"postgres store", "link.kind = \"sim\"\nstore.url = \"postgres://u@db/bindpay\"", ""},
		{"bad listen", "link.kind = \"sim\"\nlisten = \"8080\"", "listen"},
		{"half tls", "link.kind = \"sim\"\ntls.cert_file = \"/c\"", "tls.cert_file"},
		{"bad kind", `link.kind = "carrier-pigeon"`, "link.kind"},
		{"smpp not yet", `link.kind = "smpp"`, "smpp"},
		{"bad oss url", "link.kind = \"sim\"\noss.url = \"ftp://x\"", "oss.url"},
		{"bad lang", "link.kind = \"sim\"\nsms.lang = \"fr\"", "sms.lang"},
		{"lease shorter than a send", "link.kind = \"sim\"\noutbox.lease = \"5s\"", "outbox.lease"},
		{"syntax error", "link.kind = ", "platform.toml:1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := load(t, c.content)
			if c.errHas == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.errHas)
		})
	}
}

func TestLoadValues(t *testing.T) {
	c, err := load(t, "link.kind = \"sim\"\n[mo]\ndedup_window = \"2m\"\n[api]\nallow_unsigned = true")
	require.NoError(t, err)
	assert.Equal(t, 2*time.Minute, c.MO.DedupWindow.D())
	assert.True(t, c.API.AllowUnsigned)
	assert.Equal(t, "10658000", c.SMS.From, "defaults stay")
}

func TestLoadMissing(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none.toml")
	_, err := Load(missing, true)
	require.ErrorIs(t, err, os.ErrNotExist, "a file named by --config must exist")
	c, err := Load(missing, false)
	require.NoError(t, err, "no default file: the defaults")
	err = c.CheckLink()
	require.Error(t, err, "the default http link needs its keys to serve")
	assert.Contains(t, err.Error(), "link.sendsms_url")
}
