// Package config is bindpay-platform's configuration: the TOML file
// (deploy/platform.toml documents every key), its defaults and its checks.
// It only parses and validates; reading the secret files it names is the
// caller's (package secret), so that netsim can build a Config in code.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"

	"bindpay/internal/server/store"
)

// DefaultPath is read when --config is not given; its absence is fine.
const DefaultPath = "/etc/bindpay/platform.toml"

// Duration is a time.Duration written as a Go duration string ("10m").
type Duration time.Duration

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("want a duration such as \"30s\" or \"10m\": %w", err)
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Config is the platform's configuration.
type Config struct {
	Listen        string `toml:"listen"`
	MasterKeyFile string `toml:"master_key_file"`
	LogFormat     string `toml:"log_format"`
	TLS           struct {
		CertFile string `toml:"cert_file"`
		KeyFile  string `toml:"key_file"`
	} `toml:"tls"`
	Store struct {
		URL     string `toml:"url"`
		Migrate bool   `toml:"migrate"`
	} `toml:"store"`
	Admin struct {
		TokenFile string `toml:"token_file"`
	} `toml:"admin"`
	SMS struct {
		From string `toml:"from"`
		Lang string `toml:"lang"`
	} `toml:"sms"`
	Link struct {
		Kind            string   `toml:"kind"`
		SendSMSURL      string   `toml:"sendsms_url"`
		Username        string   `toml:"username"`
		Password        string   `toml:"password"`
		DLRURLBase      string   `toml:"dlr_url_base"`
		CallbackKeyFile string   `toml:"callback_key_file"`
		Timeout         Duration `toml:"timeout"`
		Address         string   `toml:"address"`
		SystemID        string   `toml:"system_id"`
		SystemType      string   `toml:"system_type"`
	} `toml:"link"`
	OSS struct {
		URL          string   `toml:"url"`
		Timeout      Duration `toml:"timeout"`
		RetryInitial Duration `toml:"retry_initial"`
		RetryMax     Duration `toml:"retry_max"`
	} `toml:"oss"`
	API struct {
		AllowUnsigned bool     `toml:"allow_unsigned"`
		NonceTTL      Duration `toml:"nonce_ttl"`
		MaxInFlight   int      `toml:"max_in_flight"`
	} `toml:"api"`
	MO struct {
		DedupWindow Duration `toml:"dedup_window"`
		Retention   Duration `toml:"retention"`
	} `toml:"mo"`
	Outbox struct {
		Validity     Duration `toml:"validity"`
		RetryInitial Duration `toml:"retry_initial"`
		RetryMax     Duration `toml:"retry_max"`
		Lease        Duration `toml:"lease"`
		Poll         Duration `toml:"poll"`
		Batch        int      `toml:"batch"`
	} `toml:"outbox"`
}

// Default returns the configuration with every default set.
func Default() Config {
	var c Config
	c.Listen = "127.0.0.1:8080"
	c.MasterKeyFile = "/etc/bindpay/master.key"
	c.LogFormat = "text"
	c.Store.URL = "sqlite:///var/lib/bindpay-platform/platform.db"
	c.SMS.From = "10658000"
	c.SMS.Lang = "zh-CN"
	c.Link.Kind = "http"
	c.Link.Timeout = Duration(10 * time.Second)
	c.OSS.Timeout = Duration(5 * time.Second)
	c.OSS.RetryInitial = Duration(30 * time.Second)
	c.OSS.RetryMax = Duration(10 * time.Minute)
	c.API.NonceTTL = Duration(24 * time.Hour)
	c.API.MaxInFlight = 256
	c.MO.DedupWindow = Duration(10 * time.Minute)
	c.MO.Retention = Duration(7 * 24 * time.Hour)
	c.Outbox.Validity = Duration(24 * time.Hour)
	c.Outbox.RetryInitial = Duration(5 * time.Second)
	c.Outbox.RetryMax = Duration(10 * time.Minute)
	c.Outbox.Lease = Duration(time.Minute)
	c.Outbox.Poll = Duration(time.Second)
	c.Outbox.Batch = 16
	return c
}

// Load reads the file at path over the defaults and validates the result.
// A missing file is an error only when explicit (named by --config).
func Load(path string, explicit bool) (Config, error) {
	c := Default()
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !explicit:
		return c, c.Validate()
	case err != nil:
		return Config{}, fmt.Errorf("config: %w", err)
	}
	dec := toml.NewDecoder(bytes.NewReader(b)).DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		var strict *toml.StrictMissingError
		if errors.As(err, &strict) && len(strict.Errors) > 0 {
			return Config{}, fmt.Errorf("config %s: unknown key %s (see deploy/platform.toml for the keys)",
				path, strings.Join(strict.Errors[0].Key(), "."))
		}
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, col := de.Position()
			return Config{}, fmt.Errorf("config %s:%d:%d: %s", path, row, col, de.Error())
		}
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Validate checks the values; the error names the key.
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("listen %q: want host:port (127.0.0.1:8080): %w", c.Listen, err)
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		return errors.New("tls.cert_file and tls.key_file go together: set both or neither")
	}
	if _, _, err := store.ParseURL(c.Store.URL); err != nil {
		return fmt.Errorf("store.url: %w", err)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("log_format %q: want text or json", c.LogFormat)
	}
	if c.SMS.From == "" || strings.Trim(c.SMS.From, "0123456789+") != "" {
		return fmt.Errorf("sms.from %q: want the short code's digits (10658000)", c.SMS.From)
	}
	switch c.SMS.Lang {
	case "zh-CN", "en":
	default:
		return fmt.Errorf("sms.lang %q: want zh-CN or en", c.SMS.Lang)
	}
	switch c.Link.Kind {
	case "http", "sim":
	case "smpp":
		return errors.New("link.kind \"smpp\": not in this build yet; use \"http\" (Kannel) or \"sim\"")
	default:
		return fmt.Errorf("link.kind %q: want http, smpp or sim", c.Link.Kind)
	}
	if c.OSS.URL != "" {
		if err := httpURL("oss.url", c.OSS.URL); err != nil {
			return err
		}
	}
	for _, d := range []struct {
		key string
		v   Duration
	}{
		{"link.timeout", c.Link.Timeout}, {"oss.timeout", c.OSS.Timeout}, {"oss.retry_initial", c.OSS.RetryInitial},
		{"oss.retry_max", c.OSS.RetryMax}, {"api.nonce_ttl", c.API.NonceTTL}, {"mo.dedup_window", c.MO.DedupWindow},
		{"mo.retention", c.MO.Retention}, {"outbox.validity", c.Outbox.Validity},
		{"outbox.retry_initial", c.Outbox.RetryInitial}, {"outbox.retry_max", c.Outbox.RetryMax},
		{"outbox.lease", c.Outbox.Lease}, {"outbox.poll", c.Outbox.Poll},
	} {
		if d.v <= 0 {
			return fmt.Errorf("%s %s: want a positive duration", d.key, d.v.D())
		}
	}
	if c.MO.Retention < c.MO.DedupWindow {
		return fmt.Errorf("mo.retention %s: want at least mo.dedup_window (%s)", c.MO.Retention.D(), c.MO.DedupWindow.D())
	}
	if c.Outbox.Lease <= c.Link.Timeout {
		return fmt.Errorf("outbox.lease %s: want more than link.timeout (%s), so that a lease outlives a send", c.Outbox.Lease.D(), c.Link.Timeout.D())
	}
	if c.Outbox.Batch < 1 || c.API.MaxInFlight < 1 {
		return errors.New("outbox.batch and api.max_in_flight: want at least 1")
	}
	return nil
}

// CheckLink checks what the link needs to run (serve calls it; the other
// commands do not need a link, so that `keys derive` works with a config
// that names only the master key).
func (c Config) CheckLink() error {
	if c.Link.Kind != "http" {
		return nil
	}
	if err := httpURL("link.sendsms_url", c.Link.SendSMSURL); err != nil {
		return err
	}
	if err := httpURL("link.dlr_url_base", c.Link.DLRURLBase); err != nil {
		return err
	}
	if c.Link.CallbackKeyFile == "" {
		return errors.New("link.callback_key_file: required for link.kind = \"http\" (the gateway's secret on /v1/sms/mo and /v1/sms/dlr)")
	}
	return nil
}

func httpURL(key, v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s %q: want an http:// or https:// URL", key, v)
	}
	return nil
}
