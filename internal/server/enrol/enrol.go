// Package enrol reads terminal enrolments — from a CSV or JSON file
// (bindpay-platform enrol) or an admin request — and writes them to the
// store all at once: every row is checked first, and one bad row means
// nothing is enrolled. Enrolling the same rows again changes nothing.
package enrol

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"bindpay/internal/server/number"
	"bindpay/internal/server/store"
)

// terminalID is the terminal ID grammar of the protocol.
var terminalID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// ValidTerminalID reports whether id follows the protocol's terminal ID
// grammar: 1 to 32 of A-Z a-z 0-9 _ -.
func ValidTerminalID(id string) bool { return terminalID.MatchString(id) }

// RowError is one bad row, by its 1-based line in the file (the header
// line counts).
type RowError struct {
	Line   int
	Reason string
}

// Errors is every bad row of a file.
type Errors []RowError

func (e Errors) Error() string {
	lines := make([]string, len(e))
	for i, r := range e {
		lines[i] = fmt.Sprintf("line %d: %s", r.Line, r.Reason)
	}
	return strings.Join(lines, "; ")
}

// ErrFormat: the file is neither CSV nor a JSON array of objects.
var ErrFormat = errors.New("unknown enrolment format")

// Parse reads an enrolment file: JSON when name ends in .json (an array
// of {"terminal_id","key_version","sim_msisdn"}), else CSV (columns
// terminal_id,key_version,sim_msisdn, the last two optional, a header line
// optional). It returns the rows, or Errors naming every bad one.
func Parse(name string, data []byte) ([]store.Enrolment, error) {
	var (
		rows []row
		err  error
	)
	if strings.HasSuffix(strings.ToLower(name), ".json") {
		rows, err = parseJSON(data)
	} else {
		rows, err = parseCSV(data)
	}
	if err != nil {
		return nil, err
	}
	return check(rows)
}

// row is one raw row with its line.
type row struct {
	line                    int
	tid, keyVersion, msisdn string
}

func parseCSV(data []byte) ([]row, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	r.Comment = '#'
	var out []row
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, Errors{{Line: pe.Line, Reason: pe.Err.Error()}}
			}
			return nil, fmt.Errorf("enrol: %w", err)
		}
		line, _ := r.FieldPos(0)
		if len(out) == 0 && strings.EqualFold(strings.TrimSpace(rec[0]), "terminal_id") {
			continue // the header
		}
		if len(rec) > 3 {
			out = append(out, row{line: line, tid: "\x00too many"})
			continue
		}
		rec = append(rec, "", "")
		out = append(out, row{line: line, tid: strings.TrimSpace(rec[0]), keyVersion: strings.TrimSpace(rec[1]), msisdn: strings.TrimSpace(rec[2])})
	}
}

func parseJSON(data []byte) ([]row, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	lineAt := func(off int64) int { return 1 + bytes.Count(data[:off], []byte("\n")) }
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('[') {
		return nil, fmt.Errorf("%w: want a JSON array of objects", ErrFormat)
	}
	var out []row
	for dec.More() {
		var obj struct {
			TerminalID *string         `json:"terminal_id"`
			KeyVersion json.RawMessage `json:"key_version"`
			SIMMSISDN  *string         `json:"sim_msisdn"`
		}
		// The line of the object is where its first byte is.
		off := dec.InputOffset()
		for off < int64(len(data)) && strings.ContainsRune(" \t\r\n,", rune(data[off])) {
			off++
		}
		line := lineAt(off)
		if err := dec.Decode(&obj); err != nil {
			return nil, Errors{{Line: line, Reason: "not an enrolment object: " + err.Error()}}
		}
		r := row{line: line}
		if obj.TerminalID != nil {
			r.tid = *obj.TerminalID
		}
		if obj.SIMMSISDN != nil {
			r.msisdn = *obj.SIMMSISDN
		}
		if len(obj.KeyVersion) > 0 && string(obj.KeyVersion) != "null" {
			r.keyVersion = strings.Trim(string(obj.KeyVersion), `"`)
		}
		out = append(out, r)
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	return out, nil
}

// check validates every row; duplicates within the file (ignoring case)
// are bad rows too.
func check(rows []row) ([]store.Enrolment, error) {
	var (
		bad  Errors
		out  []store.Enrolment
		seen = map[string]int{}
	)
	for _, r := range rows {
		e, reason := checkRow(r)
		if reason == "" {
			if prev, ok := seen[strings.ToLower(e.TerminalID)]; ok {
				reason = fmt.Sprintf("terminal %s again (first on line %d)", e.TerminalID, prev)
			} else {
				seen[strings.ToLower(e.TerminalID)] = r.line
			}
		}
		if reason != "" {
			bad = append(bad, RowError{Line: r.line, Reason: reason})
			continue
		}
		out = append(out, e)
	}
	if len(bad) > 0 {
		return nil, bad
	}
	return out, nil
}

func checkRow(r row) (store.Enrolment, string) {
	if r.tid == "\x00too many" {
		return store.Enrolment{}, "more than 3 columns (want terminal_id,key_version,sim_msisdn)"
	}
	if !terminalID.MatchString(r.tid) {
		return store.Enrolment{}, fmt.Sprintf("terminal_id %q: want 1 to 32 of A-Z a-z 0-9 _ -", r.tid)
	}
	e := store.Enrolment{TerminalID: r.tid, KeyVersion: 1}
	if r.keyVersion != "" {
		v, err := strconv.Atoi(r.keyVersion)
		if err != nil || v < 1 {
			return store.Enrolment{}, fmt.Sprintf("key_version %q: want a whole number from 1", r.keyVersion)
		}
		e.KeyVersion = v
	}
	if r.msisdn != "" {
		n, err := number.E164(r.msisdn)
		if err != nil {
			return store.Enrolment{}, fmt.Sprintf("sim_msisdn %q: want the terminal SIM's mobile number", r.msisdn)
		}
		e.SIMMSISDN = n
	}
	return e, ""
}

// Result counts what Apply did.
type Result struct{ New, Updated, Unchanged int }

// Apply enrols every row in one transaction, with an audit entry for each
// change made by actor. A clash with a terminal enrolled under another
// case (store.ErrConflict) rolls everything back.
func Apply(ctx context.Context, s store.Store, rows []store.Enrolment, actor string, now time.Time) (Result, error) {
	var res Result
	err := s.Update(ctx, func(tx store.Tx) error {
		res = Result{}
		for _, e := range rows {
			before, err := tx.Terminal(ctx, e.TerminalID)
			existed := err == nil
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			t, changed, err := tx.Enrol(ctx, e, now)
			if err != nil {
				return err
			}
			switch {
			case !changed:
				res.Unchanged++
				continue
			case existed:
				res.Updated++
			default:
				res.New++
			}
			detail := fmt.Sprintf("key version %d", t.KeyVersion)
			if t.SIMMSISDN != "" {
				detail += ", SIM " + number.Mask(t.SIMMSISDN)
			}
			if existed {
				detail = fmt.Sprintf("was key version %d; now %s", before.KeyVersion, detail)
			}
			if err := tx.Audit(ctx, store.AuditEntry{At: now, TerminalID: t.ID, Actor: actor, Event: "enrolled", Detail: detail}); err != nil {
				return err
			}
		}
		return nil
	})
	return res, err
}
