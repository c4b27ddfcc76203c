package main

import (
	"context"
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
	add(probePlatform(ctx, cfg, tid))

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

// probePlatform asks the service platform once and times the answer.
func probePlatform(ctx context.Context, cfg Config, tid string) doctorCheck {
	c := doctorCheck{Name: "service platform", Needed: true}
	switch {
	case cfg.Platform.URL == "":
		c.Err = "platform.url is not set"
		return c
	case tid == "":
		c.Err = "not checked: no terminal ID (set terminal_id, or the modem must give its IMEI)"
		return c
	}
	pc, err := newPlatformClient(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		c.Err = err.Error()
		return c
	}
	start := time.Now()
	b, err := pc.Binding(ctx, tid)
	took := time.Since(start).Round(time.Millisecond)
	switch {
	case errors.Is(err, platform.ErrUnknownTerminal):
		c.Err = fmt.Sprintf("%s answered in %v: terminal %s is unknown to the operator: contact support with this ID", cfg.Platform.URL, took, tid)
	case err != nil:
		c.Err = fmt.Sprintf("%v (check platform.url and the network; the prompt falls back to texting %s)", err, cfg.SMS.FallbackTo)
	case b.Bound:
		c.Value = fmt.Sprintf("%s answered in %v: terminal %s bound to %s", cfg.Platform.URL, took, tid, b.MSISDN)
	default:
		c.Value = fmt.Sprintf("%s answered in %v: terminal %s not bound; user texts %q to %s", cfg.Platform.URL, took, tid, b.Activation.SMSBody, b.Activation.SMSTo)
	}
	return c
}
