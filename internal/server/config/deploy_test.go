package config

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const deployFile = "../../../deploy/platform.toml"

// keys lists every TOML key of Config as "section.key".
func keys(t reflect.Type, prefix string) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		name := f.Tag.Get("toml")
		if name == "" {
			continue
		}
		if f.Type.Kind() == reflect.Struct {
			out = append(out, keys(f.Type, prefix+name+".")...)
			continue
		}
		out = append(out, prefix+name)
	}
	return out
}

var commented = regexp.MustCompile(`(?m)^# ([a-z_]+ = .*)$`)

// TestDeployConfigDocumentsEveryKey: deploy/platform.toml shows every key,
// with its default, and loads with every key uncommented.
func TestDeployConfigDocumentsEveryKey(t *testing.T) {
	b, err := os.ReadFile(deployFile)
	require.NoError(t, err)
	doc := string(b)
	section := ""
	documented := map[string]bool{}
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(line, "[") {
			section = strings.Trim(line, "[]") + "."
			continue
		}
		if m := commented.FindStringSubmatch(line); m != nil {
			documented[section+strings.Fields(m[1])[0]] = true
		}
	}
	for _, k := range keys(reflect.TypeOf(Config{}), "") {
		assert.True(t, documented[k], "deploy/platform.toml does not document %s", k)
	}
	assert.Len(t, documented, len(keys(reflect.TypeOf(Config{}), "")), "no key documented that does not exist")

	p := filepath.Join(t.TempDir(), "platform.toml")
	require.NoError(t, os.WriteFile(p, []byte(commented.ReplaceAllString(doc, "$1")), 0o644))
	c, err := Load(p, true)
	require.NoError(t, err, "every key uncommented")
	def := Default()
	def.Link.SendSMSURL, def.Link.DLRURLBase, def.Link.CallbackKeyFile = c.Link.SendSMSURL, c.Link.DLRURLBase, c.Link.CallbackKeyFile
	assert.Equal(t, def, c, "the values shown are the defaults (but the http link's, which have none)")
}
