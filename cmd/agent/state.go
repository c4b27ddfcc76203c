package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/afero"

	"bindpay/internal/boot"
	"bindpay/internal/flagstore"
)

// cmdStatus is `bindpay-agent status [--json]`: it prints the record and
// exits 0 when bound, 1 when not. It only reads. It judges the record as the
// fast path of `run` does (boot.CheckRecord: this terminal's, with its proof
// when a key is configured); in IMEI mode it cannot know this terminal's ID
// without the modem and says so.
func cmdStatus(cfg Config, args []string, stdout io.Writer) error {
	asJSON, err := parseJSONFlag("status", args)
	if err != nil {
		return err
	}
	if cfg.StateDir == "" {
		return usageErr("state_dir is empty: set it or pass --state-dir")
	}
	if err := cfg.loadKey(); err != nil {
		return err
	}
	store := flagstore.New(afero.NewOsFs(), cfg.StateDir, time.Now)
	rec, err := store.Peek(cfg.TerminalID)
	if err != nil && !errors.Is(err, flagstore.ErrNotFound) && !errors.Is(err, flagstore.ErrCorrupt) {
		return fmt.Errorf("status: %w", err)
	}
	var (
		found   = err == nil
		verdict = boot.RecordForeign
		why     string
	)
	if found {
		verdict, why = boot.CheckRecord(rec, cfg.TerminalID, cfg.key)
	}
	bound := found && verdict == boot.RecordBound
	proof := "none"
	switch {
	case found && rec.Token != "" && cfg.key != nil && verdict == boot.RecordBound:
		proof = "verified"
	case found && rec.Token != "":
		proof = "not checked (no terminal key)"
	}
	if cfg.key != nil && found && verdict != boot.RecordBound {
		proof = "does not hold"
		if verdict == boot.RecordUnproven {
			proof = "none"
		}
	}
	imeiMode := cfg.TerminalID == ""
	const imeiNote = "terminal ID not compared: none is configured (terminal_id, terminal_id_file) and status does not open the modem for its IMEI"
	if asJSON {
		out := map[string]any{"bound": bound, "record": store.Path()}
		if found {
			out["version"] = rec.Version
			out["terminal_id"] = rec.TerminalID
			out["msisdn"] = rec.MSISDN
			out["source"] = rec.Source
			out["bound_at"] = rec.BoundAt
			if rec.Nonce != "" {
				out["nonce"] = rec.Nonce
			}
			out["proof"] = proof
			out["terminal_id_checked"] = !imeiMode
		}
		switch {
		case found && !bound:
			out["error"] = "record not usable: " + why
		case errors.Is(err, flagstore.ErrCorrupt):
			out["error"] = err.Error()
		}
		if found && imeiMode {
			out["note"] = imeiNote
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return fmt.Errorf("status: %w", err)
		}
	} else {
		switch {
		case bound:
			fmt.Fprintf(stdout, "bound\nterminal_id: %s\nmsisdn: %s\nsource: %s\nbound_at: %s\nproof: %s\nrecord: %s\n",
				rec.TerminalID, rec.MSISDN, rec.Source, rec.BoundAt.Format(time.RFC3339), proof, store.Path())
			if imeiMode {
				fmt.Fprintf(stdout, "note: %s\n", imeiNote)
			}
		case found && verdict == boot.RecordUnproven:
			fmt.Fprintf(stdout, "not bound: %s; `run` asks the service platform to prove the binding (record %s)\n", why, store.Path())
		case found:
			fmt.Fprintf(stdout, "not bound: %s; `run` moves it aside (record %s)\n", why, store.Path())
		case errors.Is(err, flagstore.ErrCorrupt):
			fmt.Fprintf(stdout, "not bound: %v\n", err)
		default:
			fmt.Fprintf(stdout, "not bound (no record at %s)\n", store.Path())
		}
	}
	if !bound {
		return silentExit(exitFailure)
	}
	return nil
}

// parseJSONFlag parses the arguments of a command whose only option is --json.
func parseJSONFlag(cmd string, args []string) (asJSON bool, err error) {
	for _, a := range args {
		switch a {
		case "--json", "-json":
			asJSON = true
		default:
			return false, usageErr("%s: unknown argument %q (%s [--json])", cmd, a, cmd)
		}
	}
	return asJSON, nil
}

// cmdReset is `bindpay-agent reset`: it removes the record, so that the next
// run asks the platform and shows the prompt again.
func cmdReset(cfg Config, stdout io.Writer) error {
	if cfg.StateDir == "" {
		return usageErr("state_dir is empty: set it or pass --state-dir")
	}
	osfs := afero.NewOsFs()
	store := flagstore.New(osfs, cfg.StateDir, time.Now)
	// The activation's nonces are used up before the record goes: the
	// confirmation that bound it, or any stale one, should it still sit in
	// the modem or be sent again, is then a replay.
	var extra []string
	if rec, err := store.Peek(""); err == nil && rec.Nonce != "" {
		extra = append(extra, rec.Nonce)
	}
	if err := flagstore.NewLedger(osfs, cfg.StateDir, time.Now).ConsumeIssued(extra...); err != nil {
		return fmt.Errorf("reset: record the activation's nonces as used: %w", err)
	}
	if err := store.Remove(); err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	fmt.Fprintf(stdout, "binding record removed (%s); the next run will ask for activation\n", store.Path())
	return nil
}
