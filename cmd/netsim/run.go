package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"bindpay/internal/netsim"
)

const usage = `bindpay-netsim: the operator's network side of bindpay, simulated on loopback

usage:
  bindpay-netsim serve --terminal TID [--terminal TID ...] [flags]
      run the service platform, OSS, SMS platform and one simulated modem (pty) per
      terminal; prints "modem TID PATH" per terminal (PATH: a symlink to the pty),
      then "url URL"; serves until SIGINT/SIGTERM
        --listen ADDR            HTTP address (default 127.0.0.1:0)
        --master-key-file FILE   master key, hex (default: the demo key "example master key")
        --master-key-hex HEX     master key, hex
        --key-dir DIR            write each terminal's key to DIR/TID.key (hex, mode 0600)
        --confirm-delay D        delay before the confirmation SMS (default 0s)
        --require-signed         refuse unsigned platform queries (401)
        --state-file FILE        write {"url":…,"modems":{TID:pty}} there once ready
        --admin-token-file FILE  open the platform's admin API (/v1/admin/) with the bearer
                                 token in FILE, created (random, mode 0600) when missing
        --verbose                also log every HTTP request and the modems' AT traffic
        --modem-profile NAME     simulated modem family: generic (default), huawei, quectel,
                                 sim800, simcom, zte (see internal/modemsim)
  bindpay-netsim phone --url URL [--from 13800138000] [--to 10658000] BODY...
      a phone texts BODY (e.g. "BIND STB0012345678"); exit 0 when accepted
  bindpay-netsim sms --url URL --terminal TID --from NUMBER TEXT...
      deliver an arbitrary SMS into the terminal's modem (e.g. a spoofed confirmation)
  bindpay-netsim timeline --url URL --admin-token-file FILE TID
      print the platform's audit timeline of the terminal (its admin API; serve
      must have been given the same --admin-token-file)
  bindpay-netsim help
      this text

exit codes: 0 success, 1 failure, 2 usage or configuration error
`

// usageError is a bad command line or configuration: exit code 2. An empty
// msg means the flag package has already told the user.
type usageError struct{ msg string }

func (e *usageError) Error() string {
	if e.msg == "" {
		return "usage error"
	}
	return e.msg
}

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exitCode reports err on stderr, if there is anything to say, and returns
// the process exit code.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var ue *usageError
	if errors.As(err, &ue) {
		if ue.msg != "" {
			fmt.Fprintf(stderr, "bindpay-netsim: %s\n(see 'bindpay-netsim help')\n", ue.msg)
		}
		return 2
	}
	fmt.Fprintf(stderr, "bindpay-netsim: %v\n", err)
	return 1
}

// run is the whole program but for the process: args exclude the program
// name. It returns nil on success and when ctx is cancelled.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return &usageError{}
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		cfg, err := parseServe(rest, stderr)
		if err != nil {
			return helpIsOK(err)
		}
		return serve(ctx, cfg, stdout, stderr)
	case "phone":
		cfg, err := parsePhone(rest, stderr)
		if err != nil {
			return helpIsOK(err)
		}
		return phone(ctx, cfg, stdout)
	case "sms":
		cfg, err := parseSMS(rest, stderr)
		if err != nil {
			return helpIsOK(err)
		}
		return sms(ctx, cfg, stdout)
	case "timeline":
		cfg, err := parseTimeline(rest, stderr)
		if err != nil {
			return helpIsOK(err)
		}
		return timeline(ctx, cfg, stdout)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		return usagef("unknown command %q", cmd)
	}
}

// newFlagSet returns a FlagSet that reports to stderr and prints the
// command's part of the usage.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("bindpay-netsim "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	return fs
}

// parseFlags parses args into fs, turning errors into usage errors; -h is
// errHelp.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return &usageError{} // fs has printed it
	}
	return nil
}

// errHelp: the user asked for help (-h), and got it.
var errHelp = errors.New("help requested")

func helpIsOK(err error) error {
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}

// phoneConfig is the command line of "phone".
type phoneConfig struct {
	url      string
	from, to string
	body     string
}

func parsePhone(args []string, stderr io.Writer) (phoneConfig, error) {
	var c phoneConfig
	fs := newFlagSet("phone", stderr)
	fs.StringVar(&c.url, "url", "", "simulator URL (the `url` line of serve)")
	fs.StringVar(&c.from, "from", "13800138000", "the phone's number: the number to bind")
	fs.StringVar(&c.to, "to", netsim.DefaultServiceNumber, "the activation number")
	if err := parseFlags(fs, args); err != nil {
		return c, err
	}
	c.body = strings.Join(fs.Args(), " ")
	if err := checkURL(c.url); err != nil {
		return c, err
	}
	if strings.TrimSpace(c.body) == "" {
		return c, usagef("phone: no SMS body (e.g. BIND STB0012345678)")
	}
	return c, nil
}

func phone(ctx context.Context, c phoneConfig, stdout io.Writer) error {
	var ok struct {
		TerminalID string `json:"terminal_id"`
		MSISDN     string `json:"msisdn"`
	}
	err := post(ctx, c.url, "/v1/phone/sms", netsim.PhoneSMS{From: c.from, To: c.to, Body: c.body}, http.StatusAccepted, &ok)
	if err != nil {
		return fmt.Errorf("phone: SMS from %s to %s: %w", c.from, c.to, err)
	}
	fmt.Fprintf(stdout, "accepted: terminal %s bound to %s; confirmation SMS on its way\n", ok.TerminalID, ok.MSISDN)
	return nil
}

// smsConfig is the command line of "sms".
type smsConfig struct {
	url      string
	terminal string
	from     string
	text     string
}

func parseSMS(args []string, stderr io.Writer) (smsConfig, error) {
	var c smsConfig
	fs := newFlagSet("sms", stderr)
	fs.StringVar(&c.url, "url", "", "simulator URL (the `url` line of serve)")
	fs.StringVar(&c.terminal, "terminal", "", "terminal whose modem receives the SMS")
	fs.StringVar(&c.from, "from", "", "sender number shown to the terminal")
	if err := parseFlags(fs, args); err != nil {
		return c, err
	}
	c.text = strings.Join(fs.Args(), " ")
	if err := checkURL(c.url); err != nil {
		return c, err
	}
	switch {
	case c.terminal == "":
		return c, usagef("sms: --terminal is required")
	case c.from == "":
		return c, usagef("sms: --from is required")
	case c.text == "":
		return c, usagef("sms: no SMS text")
	}
	return c, nil
}

func sms(ctx context.Context, c smsConfig, stdout io.Writer) error {
	err := post(ctx, c.url, "/v1/sim/sms", netsim.SIMSMS{Terminal: c.terminal, From: c.from, Text: c.text}, http.StatusOK, nil)
	if err != nil {
		return fmt.Errorf("sms to terminal %s: %w", c.terminal, err)
	}
	fmt.Fprintf(stdout, "delivered to terminal %s's modem, from %s\n", c.terminal, c.from)
	return nil
}

func checkURL(s string) error {
	if s == "" {
		return usagef("--url is required (the url line printed by 'bindpay-netsim serve')")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usagef("--url %q: want http://HOST:PORT", s)
	}
	return nil
}

// timelineConfig is the command line of "timeline".
type timelineConfig struct {
	url       string
	tokenFile string
	terminal  string
}

func parseTimeline(args []string, stderr io.Writer) (timelineConfig, error) {
	var c timelineConfig
	fs := newFlagSet("timeline", stderr)
	fs.StringVar(&c.url, "url", "", "simulator URL (the `url` line of serve)")
	fs.StringVar(&c.tokenFile, "admin-token-file", "", "the admin token `file` serve was given")
	if err := parseFlags(fs, args); err != nil {
		return c, err
	}
	if err := checkURL(c.url); err != nil {
		return c, err
	}
	switch {
	case c.tokenFile == "":
		return c, usagef("timeline: --admin-token-file is required (the one given to serve)")
	case fs.NArg() != 1:
		return c, usagef("timeline: want one terminal ID")
	}
	c.terminal = fs.Arg(0)
	return c, nil
}

// adminView is the part of the admin API's terminal view that timeline
// prints.
type adminView struct {
	State        string `json:"state"`
	MSISDNMasked string `json:"msisdn_masked"`
	Timeline     []struct {
		At     string `json:"at"`
		Actor  string `json:"actor"`
		Event  string `json:"event"`
		Detail string `json:"detail"`
	} `json:"timeline"`
}

func timeline(ctx context.Context, c timelineConfig, stdout io.Writer) error {
	b, err := os.ReadFile(c.tokenFile)
	if err != nil {
		return fmt.Errorf("timeline: admin token: %w", err)
	}
	var v adminView
	err = call(ctx, http.MethodGet, c.url, "/v1/admin/terminals/"+url.PathEscape(c.terminal), strings.TrimSpace(string(b)), nil, http.StatusOK, &v)
	if err != nil {
		return fmt.Errorf("timeline of terminal %s: %w", c.terminal, err)
	}
	state := v.State
	if v.MSISDNMasked != "" {
		state += " to " + v.MSISDNMasked
	}
	fmt.Fprintf(stdout, "terminal %s: %s\n", c.terminal, state)
	for _, e := range v.Timeline {
		fmt.Fprintf(stdout, "%s  %-6s  %-22s  %s\n", e.At, e.Actor, e.Event, e.Detail)
	}
	return nil
}

// post sends v as JSON to base+path and decodes a want-status answer into
// out (if not nil); any other answer is an error carrying the server's reason.
func post(ctx context.Context, base, path string, v any, want int, out any) error {
	return call(ctx, http.MethodPost, base, path, "", v, want, out)
}

// call is post for any method, with a bearer token when token is not ""
// and a JSON body when v is not nil.
func call(ctx context.Context, method, base, path, token string, v any, want int, out any) error {
	var body io.Reader
	if v != nil {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(base, "/")+path, body)
	if err != nil {
		return err
	}
	if v != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode != want {
		var e netsim.Error
		if json.Unmarshal(data, &e) == nil && e.Message != "" {
			return fmt.Errorf("refused: %s (%s, HTTP %d)", e.Message, e.Code, resp.StatusCode)
		}
		return fmt.Errorf("HTTP %s: %.200q", resp.Status, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("malformed answer: %w", err)
		}
	}
	return nil
}
