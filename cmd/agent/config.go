package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"

	"bindpay/internal/confirm"
	"bindpay/internal/display"
	"bindpay/internal/platform"
)

// defaultConfigPath is read when --config is not given; its absence is fine.
const defaultConfigPath = "/etc/bindpay/agent.toml"

// defaultFramebuffer is fb.DefaultDevice (fb_test.go checks), named here so
// that a build without the framebuffer (nofb.go) need not link package fb.
const defaultFramebuffer = "/dev/fb0"

// Config is the agent's configuration: the TOML file (deploy/agent.toml
// documents every key), overridden by flags.
type Config struct {
	TerminalID     string `toml:"terminal_id"`
	TerminalIDFile string `toml:"terminal_id_file"`
	StateDir       string `toml:"state_dir"`
	LogFormat      string `toml:"log_format"`
	Modem          struct {
		Device         string   `toml:"device"`
		Baud           int      `toml:"baud"`
		HealthInterval duration `toml:"health_interval"`
	} `toml:"modem"`
	Platform struct {
		URL               string   `toml:"url"`
		KeyFile           string   `toml:"key_file"`
		CAFile            string   `toml:"ca_file"`
		AllowInsecureHTTP bool     `toml:"allow_insecure_http"`
		PollInterval      duration `toml:"poll_interval"`
	} `toml:"platform"`
	SMS struct {
		Senders      []string `toml:"senders"`
		FallbackTo   string   `toml:"fallback_to"`
		FallbackBody string   `toml:"fallback_body"`
		PartialTTL   duration `toml:"partial_ttl"`
	} `toml:"sms"`
	Display struct {
		Outputs     []string `toml:"outputs"`
		Lang        string   `toml:"lang"`
		Console     string   `toml:"console"`
		ConsoleQR   string   `toml:"console_qr"`
		Framebuffer string   `toml:"framebuffer"`
		Font        string   `toml:"font"`
		StatusFile  string   `toml:"status_file"`
	} `toml:"display"`

	// Set from the above by loadConfig.
	allowlist    confirm.Allowlist
	key          []byte
	insecureHTTP bool // platform.url is plain http to a remote host (allowed): warn at start
}

func defaultConfig() Config {
	var c Config
	c.StateDir = "/var/lib/bindpay"
	c.LogFormat = "text"
	c.Modem.Device = "/dev/bindpay-modem"
	c.Modem.Baud = 115200
	c.Modem.HealthInterval = duration(5 * time.Minute)
	c.Platform.PollInterval = duration(5 * time.Minute)
	c.SMS.FallbackTo = "10658000"
	c.SMS.PartialTTL = duration(24 * time.Hour)
	c.SMS.FallbackBody = "BIND {tid}"
	c.Display.Outputs = []string{"console"}
	c.Display.Lang = "zh-CN"
	c.Display.ConsoleQR = "dark"
	c.Display.Framebuffer = defaultFramebuffer
	c.Display.StatusFile = "/run/bindpay/status.json"
	return c
}

// options are the global flags: the config file and one flag per key.
type options struct {
	configPath string
	configSet  bool
	flags      *flag.FlagSet
	set        map[string]bool // flags given on the command line
	cfg        Config          // defaults, then the flag values; applied over the file where set
}

// setting is one configuration key and its flag: the one place that names
// both, says what it is for, and reaches its field. The default is the
// field's value in defaultConfig, which --help shows.
type setting struct {
	flag, key, usage string
	field            func(c *Config) any // *string, *int, *bool, *duration, or *[]string
	repeat           bool                // *[]string: each use of the flag adds one (else a comma list)
}

// settings are every key of the config file that has a flag.
var settings = []setting{
	{flag: "terminal-id", key: "terminal_id", usage: "terminal ID; empty: terminal_id_file, else the modem's IMEI", field: func(c *Config) any { return &c.TerminalID }},
	{flag: "terminal-id-file", key: "terminal_id_file", usage: "file holding the terminal ID", field: func(c *Config) any { return &c.TerminalIDFile }},
	{flag: "state-dir", key: "state_dir", usage: "state directory for the binding record", field: func(c *Config) any { return &c.StateDir }},
	{flag: "log-format", key: "log_format", usage: "log format: text or json", field: func(c *Config) any { return &c.LogFormat }},
	{flag: "modem", key: "modem.device", usage: "modem AT-command serial port", field: func(c *Config) any { return &c.Modem.Device }},
	{flag: "baud", key: "modem.baud", usage: "serial speed", field: func(c *Config) any { return &c.Modem.Baud }},
	{flag: "modem-health-interval", key: "modem.health_interval", usage: "how often the waiting agent checks the modem and re-scans its storage", field: func(c *Config) any { return &c.Modem.HealthInterval }},
	{flag: "platform-url", key: "platform.url", usage: "service platform base URL, https:// (http:// only to loopback)", field: func(c *Config) any { return &c.Platform.URL }},
	{flag: "key-file", key: "platform.key_file", usage: "terminal key file, 64 hex digits, mode 0600", field: func(c *Config) any { return &c.Platform.KeyFile }},
	{flag: "ca-file", key: "platform.ca_file", usage: "PEM bundle of extra roots for the platform's TLS certificate", field: func(c *Config) any { return &c.Platform.CAFile }},
	{flag: "allow-insecure-http", key: "platform.allow_insecure_http", usage: "allow a plain http:// platform.url to a host that is not loopback", field: func(c *Config) any { return &c.Platform.AllowInsecureHTTP }},
	{flag: "poll-interval", key: "platform.poll_interval", usage: "how often the waiting agent asks the platform again (±20 % jitter)", field: func(c *Config) any { return &c.Platform.PollInterval }},
	{flag: "sms-sender", key: "sms.senders", usage: "number a confirmation may come from (10658000* for a prefix); repeatable", field: func(c *Config) any { return &c.SMS.Senders }, repeat: true},
	{flag: "sms-fallback-to", key: "sms.fallback_to", usage: "number to text when the platform is unreachable", field: func(c *Config) any { return &c.SMS.FallbackTo }},
	{flag: "sms-fallback-body", key: "sms.fallback_body", usage: "text to send when the platform is unreachable, {tid} = terminal ID", field: func(c *Config) any { return &c.SMS.FallbackBody }},
	{flag: "sms-partial-ttl", key: "sms.partial_ttl", usage: "how long parts of an incomplete concatenated SMS are kept", field: func(c *Config) any { return &c.SMS.PartialTTL }},
	{flag: "display", key: "display.outputs", usage: "comma list of displays: console, framebuffer, status", field: func(c *Config) any { return &c.Display.Outputs }},
	{flag: "lang", key: "display.lang", usage: "language of the prompt: " + strings.Join(display.Languages(), ", "), field: func(c *Config) any { return &c.Display.Lang }},
	{flag: "console", key: "display.console", usage: "tty for the console display; empty: standard output", field: func(c *Config) any { return &c.Display.Console }},
	{flag: "console-qr", key: "display.console_qr", usage: "QR code on the console: dark (light text on dark, as /dev/tty1), light, or off", field: func(c *Config) any { return &c.Display.ConsoleQR }},
	{flag: "framebuffer", key: "display.framebuffer", usage: "framebuffer device", field: func(c *Config) any { return &c.Display.Framebuffer }},
	{flag: "font", key: "display.font", usage: "TTF/OTF/TTC font with Chinese glyphs for the framebuffer", field: func(c *Config) any { return &c.Display.Font }},
	{flag: "status-file", key: "display.status_file", usage: "JSON status file for the terminal's UI app", field: func(c *Config) any { return &c.Display.StatusFile }},
}

// register declares the setting's flag on fs, bound to its field in c,
// whose current value is the default shown by --help.
func (s setting) register(fs *flag.FlagSet, c *Config) {
	usage := s.usage + " [" + s.key + "]"
	switch p := s.field(c).(type) {
	case *string:
		fs.StringVar(p, s.flag, *p, usage)
	case *int:
		fs.IntVar(p, s.flag, *p, usage)
	case *bool:
		fs.BoolVar(p, s.flag, *p, usage)
	case *duration:
		fs.Var(p, s.flag, usage)
	case *[]string:
		if s.repeat {
			fs.Var(listFlag{p}, s.flag, usage)
		} else {
			fs.Var(commaFlag{p}, s.flag, usage)
		}
	default:
		panic(fmt.Sprintf("setting %s: field of type %T", s.flag, p))
	}
}

// copy sets the setting's field in dst to its value in src.
func (s setting) copy(dst, src *Config) {
	switch d := s.field(dst).(type) {
	case *string:
		*d = *s.field(src).(*string)
	case *int:
		*d = *s.field(src).(*int)
	case *bool:
		*d = *s.field(src).(*bool)
	case *duration:
		*d = *s.field(src).(*duration)
	case *[]string:
		*d = slices.Clone(*s.field(src).(*[]string))
	}
}

// duration is a time.Duration read from TOML and flags as "5m".
type duration time.Duration

func (d *duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("want a duration such as \"5m\": %w", err)
	}
	*d = duration(v)
	return nil
}

func (d *duration) String() string     { return time.Duration(*d).String() }
func (d *duration) Set(s string) error { return d.UnmarshalText([]byte(s)) }

type listFlag struct{ vals *[]string }

func (l listFlag) String() string {
	if l.vals == nil {
		return ""
	}
	return strings.Join(*l.vals, ",")
}
func (l listFlag) Set(v string) error { *l.vals = append(*l.vals, v); return nil }

type commaFlag struct{ vals *[]string }

func (c commaFlag) String() string {
	if c.vals == nil {
		return ""
	}
	return strings.Join(*c.vals, ",")
}
func (c commaFlag) Set(v string) error {
	*c.vals = nil
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*c.vals = append(*c.vals, s)
		}
	}
	return nil
}

const usageText = `usage: bindpay-agent [--config FILE] [flags] [run|status [--json]|reset|doctor [--json]|version]

Binds this terminal to the mobile number that pays for its services: shows
what to text, waits for the operator's confirmation SMS on the modem, and
records the binding. "run" (the default) exits 0 once bound.

Flags (each overrides the config file key in brackets):
`

// parseArgs parses the global flags and splits off the command.
func parseArgs(args []string, stderr io.Writer) (*options, string, []string, error) {
	o := &options{set: map[string]bool{}}
	fs := flag.NewFlagSet("bindpay-agent", flag.ContinueOnError)
	// Parse quietly: a bad flag is reported in one line by main; --help
	// prints the usage.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	o.cfg = defaultConfig()
	o.cfg.SMS.Senders = nil // a repeated --sms-sender builds the list
	fs.StringVar(&o.configPath, "config", defaultConfigPath, "config file (TOML); a missing default file is not an error")
	for _, s := range settings {
		s.register(fs, &o.cfg)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stderr, usageText)
			fs.SetOutput(stderr)
			fs.PrintDefaults()
			return nil, "", nil, silentExit(0)
		}
		return nil, "", nil, &exitError{code: exitUsage, err: fmt.Errorf("bad command line: %w (see --help)", err)}
	}
	fs.Visit(func(f *flag.Flag) { o.set[f.Name] = true })
	o.configSet = o.set["config"]
	o.flags = fs
	cmd, rest := "run", fs.Args()
	if len(rest) > 0 {
		cmd, rest = rest[0], rest[1:]
	}
	return o, cmd, rest, nil
}

// loadConfig reads the config file, applies the flags over it and checks
// the result. Every error is a configuration error (exit 2) saying what and
// where.
func loadConfig(o *options) (Config, error) {
	cfg := defaultConfig()
	if err := readConfigFile(o.configPath, o.configSet, &cfg); err != nil {
		return cfg, err
	}
	for _, s := range settings {
		if o.set[s.flag] {
			s.copy(&cfg, &o.cfg)
		}
	}
	if err := cfg.resolveTerminalID(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// resolveTerminalID settles the terminal ID the same way for every command
// (run, status, reset, doctor): terminal_id, else the contents of
// terminal_id_file, else "" (the modem's IMEI, which only run and doctor can
// ask for). The ID must follow the protocol's rule: it is shown on screen,
// sent to the platform and written in the record.
func (c *Config) resolveTerminalID() error {
	if c.TerminalID == "" && c.TerminalIDFile != "" {
		b, err := readSmallFile(c.TerminalIDFile, 256)
		if err != nil {
			return usageErr("terminal_id_file: %w", err)
		}
		c.TerminalID = strings.TrimSpace(string(b))
		if c.TerminalID == "" {
			return usageErr("terminal_id_file %s is empty", c.TerminalIDFile)
		}
		if err := confirm.CheckTerminalID(c.TerminalID); err != nil {
			return usageErr("terminal_id_file %s: %w", c.TerminalIDFile, err)
		}
		return nil
	}
	if c.TerminalID != "" {
		if err := confirm.CheckTerminalID(c.TerminalID); err != nil {
			return usageErr("terminal_id: %w", err)
		}
	}
	return nil
}

// readSmallFile reads a regular file of at most limit bytes.
func readSmallFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return b, nil
}

func readConfigFile(path string, named bool, cfg *Config) error {
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !named:
		return nil
	case err != nil:
		return usageErr("read config: %w", err)
	}
	dec := toml.NewDecoder(bytes.NewReader(b)).DisallowUnknownFields()
	if err := dec.Decode(cfg); err != nil {
		var missing *toml.StrictMissingError
		if errors.As(err, &missing) {
			keys := make([]string, len(missing.Errors))
			for i, e := range missing.Errors {
				keys[i] = strings.Join(e.Key(), ".")
			}
			sort.Strings(keys)
			return usageErr("config %s: unknown key %s (see deploy/agent.toml for the keys)", path, strings.Join(keys, ", "))
		}
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, col := de.Position()
			return usageErr("config %s:%d:%d: %v", path, row, col, de)
		}
		return usageErr("config %s: %w", path, err)
	}
	return nil
}

// validate checks what `run` needs and loads the key and terminal ID file.
// status and reset need only the state directory.
func (c *Config) validate() error {
	switch c.LogFormat {
	case "text", "json":
	default:
		return usageErr("log_format %q: want text or json", c.LogFormat)
	}
	if c.StateDir == "" {
		return usageErr("state_dir is empty: set it or pass --state-dir")
	}
	if c.Modem.Device == "" {
		return usageErr("modem.device is empty: set it or pass --modem")
	}
	if c.Modem.HealthInterval < duration(time.Second) {
		return usageErr("modem.health_interval %v: want a duration of at least 1s, such as \"5m\"", time.Duration(c.Modem.HealthInterval))
	}
	if c.Platform.PollInterval < duration(time.Second) {
		return usageErr("platform.poll_interval %v: want a duration of at least 1s, such as \"5m\"", time.Duration(c.Platform.PollInterval))
	}
	if c.SMS.PartialTTL < duration(time.Minute) {
		return usageErr("sms.partial_ttl %v: want a duration of at least 1m, such as \"24h\"", time.Duration(c.SMS.PartialTTL))
	}
	if c.Modem.Baud <= 0 {
		return usageErr("modem.baud %d: want a positive speed such as 115200", c.Modem.Baud)
	}
	if c.Platform.URL == "" {
		return usageErr("platform.url is not set: set it in the config or pass --platform-url")
	}
	insecure, err := platform.CheckURL(c.Platform.URL, c.Platform.AllowInsecureHTTP)
	if err != nil {
		return usageErr("platform.url %w", err)
	}
	c.insecureHTTP = insecure
	al, err := confirm.NewAllowlist(c.SMS.Senders)
	if err != nil {
		return usageErr("sms.senders: %w (list the numbers the operator's confirmation comes from, or pass --sms-sender)", err)
	}
	c.allowlist = al
	if err := confirm.CheckSMSTo(c.SMS.FallbackTo); err != nil {
		return usageErr("sms.fallback_to: %w", err)
	}
	// The body is checked with the longest terminal ID in place of {tid}.
	if err := confirm.CheckSMSBody(strings.ReplaceAll(c.SMS.FallbackBody, "{tid}", strings.Repeat("T", 32))); err != nil {
		return usageErr("sms.fallback_body (with {tid} as a 32-character ID): %w", err)
	}
	if len(c.Display.Outputs) == 0 {
		return usageErr("display.outputs is empty: want console, framebuffer and/or status")
	}
	for _, o := range c.Display.Outputs {
		switch o {
		case "console", "framebuffer", "status":
		default:
			return usageErr("display output %q: supported: console, framebuffer, status", o)
		}
	}
	switch c.Display.ConsoleQR {
	case "dark", "light", "off":
	default:
		return usageErr("display.console_qr %q: want dark, light or off", c.Display.ConsoleQR)
	}
	if slices.Contains(c.Display.Outputs, "framebuffer") && !withFramebuffer {
		return usageErr("display output framebuffer: this bindpay-agent was built without it (build with -tags fb); use console or status")
	}
	if slices.Contains(c.Display.Outputs, "framebuffer") && c.Display.Framebuffer == "" {
		return usageErr("display.framebuffer is empty: want a device such as /dev/fb0")
	}
	if slices.Contains(c.Display.Outputs, "status") && !filepath.IsAbs(c.Display.StatusFile) {
		return usageErr("display.status_file %q: want an absolute path such as /run/bindpay/status.json", c.Display.StatusFile)
	}
	if !slices.Contains(display.Languages(), c.Display.Lang) {
		return usageErr("display.lang %q: supported: %s", c.Display.Lang, strings.Join(display.Languages(), ", "))
	}
	return c.loadKey()
}

// loadKey reads platform.key_file, when set, into c.key.
func (c *Config) loadKey() error {
	if c.Platform.KeyFile != "" && c.key == nil {
		key, err := confirm.LoadKey(c.Platform.KeyFile)
		if err != nil {
			return usageErr("platform.key_file: %w", err)
		}
		c.key = key
	}
	return nil
}
