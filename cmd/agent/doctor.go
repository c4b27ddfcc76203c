package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"bindpay/internal/modem"
	"bindpay/internal/platform"
)

// doctorCheck is one line of `bindpay-agent doctor`.
type doctorCheck struct {
	Name   string `json:"name"`
	Value  string `json:"value,omitempty"`
	Err    string `json:"error,omitempty"`
	Needed bool   `json:"needed"` // binding cannot work while it fails
}

// doctorTimeout bounds the whole probe: a hung modem or platform is a
// finding, not a hang.
const doctorTimeout = 60 * time.Second

// cmdDoctor is `bindpay-agent doctor [--json]`: it probes the modem and the
// platform and explains each fault in one line. It exits 0 when everything
// binding needs works, 1 otherwise.
func cmdDoctor(ctx context.Context, cfg Config, args []string, stdout io.Writer) error {
	asJSON, err := parseJSONFlag("doctor", args)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, doctorTimeout)
	defer cancel()

	var checks []doctorCheck
	add := func(c doctorCheck) { checks = append(checks, c) }
	if err := cfg.validate(); err != nil {
		add(doctorCheck{Name: "config", Err: err.Error(), Needed: true})
	} else {
		add(doctorCheck{Name: "config", Value: "valid", Needed: true})
	}

	tid := cfg.TerminalID
	port, err := openSerial(cfg.Modem.Device, cfg.Modem.Baud)(ctx)
	if err != nil {
		add(doctorCheck{Name: "modem", Err: err.Error(), Needed: true})
	} else {
		add(doctorCheck{Name: "modem", Value: cfg.Modem.Device + " opened", Needed: true})
		rep, perr := modem.Probe(ctx, port, modem.SessionConfig{})
		port.Close()
		if perr != nil {
			add(doctorCheck{Name: "AT commands", Err: perr.Error() + " (is this the modem's AT port? try the other ttyUSB interfaces)", Needed: true})
		} else {
			for _, c := range rep.Checks() {
				add(doctorCheck{Name: c.Name, Value: c.Value, Err: c.Err, Needed: c.Needed})
			}
			if tid == "" && rep.IMEI.OK() {
				tid = rep.IMEI.Value
			}
		}
	}
	for _, c := range probePlatform(ctx, cfg, tid) {
		add(c)
	}

	ok := true
	for _, c := range checks {
		if c.Err != "" && c.Needed {
			ok = false
		}
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			OK     bool          `json:"ok"`
			Checks []doctorCheck `json:"checks"`
		}{ok, checks}); err != nil {
			return fmt.Errorf("doctor: %w", err)
		}
	} else {
		for _, c := range checks {
			mark, text := "[ ok ]", c.Value
			if c.Err != "" {
				mark, text = "[FAIL]", c.Err
				if !c.Needed {
					mark = "[warn]"
				}
			}
			fmt.Fprintf(stdout, "%s %-24s %s\n", mark, c.Name, text)
		}
		if ok {
			fmt.Fprintln(stdout, "everything binding needs works")
		} else {
			fmt.Fprintln(stdout, "binding cannot work until the [FAIL] lines are fixed")
		}
	}
	if !ok {
		return silentExit(exitFailure)
	}
	return nil
}

// probePlatform asks the service platform once and times the answer. A
// clock the platform finds off is its own line (a warning when the agent
// could correct it); TLS and certificate faults, unsigned answers and
// redirects each get one line saying what to do.
func probePlatform(ctx context.Context, cfg Config, tid string) []doctorCheck {
	c := doctorCheck{Name: "service platform", Needed: true}
	switch {
	case cfg.Platform.URL == "":
		c.Err = "platform.url is not set"
		return []doctorCheck{c}
	case tid == "":
		c.Err = "not checked: no terminal ID (set terminal_id, or the modem must give its IMEI)"
		return []doctorCheck{c}
	}
	var skew *doctorCheck
	pc, err := newPlatformClient(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		c.Err = err.Error()
		return []doctorCheck{c}
	}
	pc.OnSkew = func(off time.Duration) {
		skew = &doctorCheck{Name: "clock", Err: fmt.Sprintf("this terminal's clock is %v off the platform's: the agent corrects its signed requests, but fix NTP", off)}
	}
	start := time.Now()
	b, err := pc.Binding(ctx, tid)
	took := time.Since(start).Round(time.Millisecond)
	c.Err = platformFault(err, cfg, tid)
	switch {
	case err != nil:
	case b.Bound:
		c.Value = fmt.Sprintf("%s answered in %v: terminal %s bound to %s", cfg.Platform.URL, took, tid, b.MSISDN)
	default:
		c.Value = fmt.Sprintf("%s answered in %v: terminal %s not bound; user texts %q to %s", cfg.Platform.URL, took, tid, b.Activation.SMSBody, b.Activation.SMSTo)
	}
	checks := []doctorCheck{c}
	if skew != nil {
		checks = append(checks, *skew)
	}
	return checks
}

// platformFault is the one line that says what a failed platform query
// means and what to do; "" for nil.
func platformFault(err error, cfg Config, tid string) string {
	var (
		unknownCA  x509.UnknownAuthorityError
		hostname   x509.HostnameError
		invalid    x509.CertificateInvalidError
		recordErr  *tls.RecordHeaderError
		statusErr  *platform.StatusError
		fallback   = fmt.Sprintf("; until then the prompt falls back to texting %s", cfg.SMS.FallbackTo)
		certAdvice = "check platform.url, or add the issuing CA to platform.ca_file"
	)
	switch {
	case err == nil:
		return ""
	case errors.Is(err, platform.ErrUnknownTerminal):
		return fmt.Sprintf("terminal %s is unknown to the operator: contact support with this ID", tid)
	case errors.As(err, &unknownCA):
		return fmt.Sprintf("TLS: the platform's certificate is signed by an authority this terminal does not trust (%v): %s%s", unknownCA.Cert.Issuer, certAdvice, fallback)
	case errors.As(err, &hostname):
		return fmt.Sprintf("TLS: the platform's certificate is not for this host (%v): %s%s", hostname.Error(), certAdvice, fallback)
	case errors.As(err, &invalid):
		return fmt.Sprintf("TLS: the platform's certificate is not valid (%v): check the terminal's clock and the certificate%s", invalid.Error(), fallback)
	case errors.As(err, &recordErr):
		return "TLS: the platform does not speak TLS on this port: check the scheme and port of platform.url" + fallback
	case errors.Is(err, platform.ErrUnverified):
		return "the answer is not signed with this terminal's key: a captive portal or proxy answered, or platform.key_file is not this terminal's key" + fallback
	case errors.Is(err, platform.ErrRedirect):
		return fmt.Sprintf("%v (redirects are never followed)", err)
	case errors.As(err, &statusErr) && statusErr.Code == 401:
		return "the platform refused the request's signature: platform.key_file is not the key the platform has for " + tid + ", or the clock is far off" + fallback
	}
	return fmt.Sprintf("%v (check platform.url and the network%s)", err, fallback)
}
