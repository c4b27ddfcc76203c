package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/afero"

	"bindpay/internal/flagstore"
)

// cmdStatus is `bindpay-agent status [--json]`: it prints the record and
// exits 0 when bound, 1 when not. It only reads.
func cmdStatus(cfg Config, args []string, stdout io.Writer) error {
	asJSON, err := parseJSONFlag("status", args)
	if err != nil {
		return err
	}
	if cfg.StateDir == "" {
		return usageErr("state_dir is empty: set it or pass --state-dir")
	}
	store := flagstore.New(afero.NewOsFs(), cfg.StateDir, time.Now)
	rec, err := store.Peek(cfg.TerminalID)
	bound := err == nil
	if err != nil && !errors.Is(err, flagstore.ErrNotFound) && !errors.Is(err, flagstore.ErrCorrupt) {
		return fmt.Errorf("status: %w", err)
	}
	if asJSON {
		out := map[string]any{"bound": bound, "record": store.Path()}
		if bound {
			out["version"] = rec.Version
			out["terminal_id"] = rec.TerminalID
			out["msisdn"] = rec.MSISDN
			out["source"] = rec.Source
			out["bound_at"] = rec.BoundAt
			if rec.Nonce != "" {
				out["nonce"] = rec.Nonce
			}
		} else if errors.Is(err, flagstore.ErrCorrupt) {
			out["error"] = err.Error()
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return fmt.Errorf("status: %w", err)
		}
	} else if bound {
		fmt.Fprintf(stdout, "bound\nterminal_id: %s\nmsisdn: %s\nsource: %s\nbound_at: %s\nrecord: %s\n",
			rec.TerminalID, rec.MSISDN, rec.Source, rec.BoundAt.Format(time.RFC3339), store.Path())
	} else if errors.Is(err, flagstore.ErrCorrupt) {
		fmt.Fprintf(stdout, "not bound: %v\n", err)
	} else {
		fmt.Fprintf(stdout, "not bound (no record at %s)\n", store.Path())
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
	// The record's nonce is used up before the record goes: the
	// confirmation that bound it, should it still sit in the modem or be
	// sent again, is then a replay.
	if rec, err := store.Peek(""); err == nil && rec.Nonce != "" {
		if err := flagstore.NewLedger(osfs, cfg.StateDir, time.Now).Consume(rec.Nonce); err != nil {
			return fmt.Errorf("reset: record the binding's nonce as used: %w", err)
		}
	}
	if err := store.Remove(); err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	fmt.Fprintf(stdout, "binding record removed (%s); the next run will ask for activation\n", store.Path())
	return nil
}
