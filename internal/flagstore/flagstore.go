package flagstore

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/afero"

	"bindpay/internal/confirm"
)

// FileName is the name of the record file in the state directory.
const FileName = "binding.json"

// Version is the record format version this package writes. Version 2
// added the token that proves the binding; records of version 1 (no token)
// are still read (see the package documentation for how the flow treats
// them).
const Version = 2

// Version1 is the format before the proof: read, never written.
const Version1 = 1

// MaxSize is the largest record file Load accepts; a real one is a few
// hundred bytes, so anything bigger is garbage and is not read into memory.
const MaxSize = 64 << 10

// Sources of a binding, recorded in Record.Source.
const (
	SourceSMS      = "sms"      // a verified confirmation SMS
	SourcePlatform = "platform" // the service platform answered bound:true
)

const (
	checksumPrefix  = "sha256:"
	tempInfix       = ".tmp-"
	corruptInfix    = ".corrupt-"
	quarantineStamp = "20060102T150405Z"
	// fileMode is the mode of every state file: only the agent's user
	// reads the record and the ledger.
	fileMode = 0o600
)

// Errors reported by the store; test with errors.Is.
var (
	// ErrNotFound: there is no record; the terminal is not bound.
	ErrNotFound = errors.New("no binding record")
	// ErrCorrupt: a record exists but cannot be trusted; Load has moved it
	// aside (see the error text for where) and the terminal is not bound.
	ErrCorrupt = errors.New("binding record is corrupt")
	// ErrInvalid: Save was handed a record it will not write.
	ErrInvalid = errors.New("invalid binding record")
)

// errNotRegular: a state file's name holds something other than a regular
// file (a symbolic link, a FIFO, a device, a directory, a socket). It is
// never opened for reading. Load and the Ledger count it as corrupt and
// move it aside, Peek reports it as corrupt: the error text names the path
// and what is there.
var errNotRegular = errors.New("not a regular file")

// Record is the binding flag: the terminal is bound to a number.
type Record struct {
	Version    int       `json:"version"`
	TerminalID string    `json:"terminal_id"`
	MSISDN     string    `json:"msisdn"` // masked bound number, e.g. 138****8000
	Source     string    `json:"source"` // SourceSMS or SourcePlatform
	BoundAt    time.Time `json:"bound_at"`
	Nonce      string    `json:"nonce,omitempty"`
	// Token is the BP1 token that proved the binding (the confirmation
	// SMS's, or the platform's bound answer's); "" in version 1 records and
	// when no terminal key was configured and the platform sent none.
	Token string `json:"token,omitempty"`
}

// file is the on-disk shape: the record's fields plus the checksum.
type file struct {
	Record
	Checksum string `json:"checksum"`
}

// Store reads and writes the record in one directory of a file system.
type Store struct {
	fs   afero.Fs
	dir  string
	now  func() time.Time
	path string
}

// New returns a store for dir/binding.json on fs. now stamps quarantined
// files and records saved without a BoundAt; nil means time.Now.
func New(fs afero.Fs, dir string, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{fs: fs, dir: dir, now: now, path: filepath.Join(dir, FileName)}
}

// Path returns the record file's path.
func (s *Store) Path() string { return s.path }

// Load reads and verifies the record. It returns an error wrapping
// ErrNotFound when there is none, and one wrapping ErrCorrupt (after moving
// the file aside) when there is one that cannot be trusted. With a
// non-empty terminalID a record written for another terminal counts as
// corrupt; with "" any terminal's record is accepted.
func (s *Store) Load(terminalID string) (Record, error) {
	r, why, err := s.inspect(terminalID)
	if err != nil {
		return Record{}, err
	}
	if why != "" {
		return Record{}, s.quarantine(why)
	}
	return r, nil
}

// Peek is Load without side effects: an unusable record is reported (an
// error wrapping ErrCorrupt) but left where it is. It serves `status`,
// which only reads.
func (s *Store) Peek(terminalID string) (Record, error) {
	r, why, err := s.inspect(terminalID)
	if err != nil {
		return Record{}, err
	}
	if why != "" {
		return Record{}, fmt.Errorf("%w: %s: %s", ErrCorrupt, s.path, why)
	}
	return r, nil
}

// inspect reads and checks the record; why says what makes it unusable.
func (s *Store) inspect(terminalID string) (r Record, why string, err error) {
	data, err := s.read()
	if errors.Is(err, errNotRegular) {
		return Record{}, whatIsWrong(err), nil
	}
	if err != nil {
		return Record{}, "", err
	}
	r, why = decode(data)
	if why == "" && terminalID != "" && r.TerminalID != terminalID {
		why = fmt.Sprintf("written for terminal %q, this is %q", truncate(r.TerminalID, 64), terminalID)
	}
	return r, why, nil
}

// read returns the file's bytes (at most MaxSize+1 of them), or an error
// naming the path: one wrapping ErrNotFound when there is no record, one
// wrapping errNotRegular when something else than a regular file has its
// name (never opened for reading: see openRegular).
func (s *Store) read() ([]byte, error) {
	data, _, err := readRegular(s.fs, s.path, MaxSize)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("load %s: %w", s.path, ErrNotFound)
	case errors.Is(err, errNotRegular):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("load binding record: %w (check the state directory %s exists and is readable)", err, s.dir)
	}
	return data, nil
}

// decode parses and verifies a record file; why says what is wrong, "" when
// nothing is.
func decode(data []byte) (r Record, why string) {
	if len(data) > MaxSize {
		return Record{}, fmt.Sprintf("larger than %d bytes", MaxSize)
	}
	var f file
	if err := json.Unmarshal(data, &f); err != nil {
		return Record{}, "not a JSON record: " + err.Error()
	}
	if f.Version != Version && f.Version != Version1 {
		return Record{}, fmt.Sprintf("unsupported version %d (this build reads versions %d and %d)", f.Version, Version1, Version)
	}
	want, err := checksum(f.Record)
	if err != nil {
		return Record{}, "cannot encode record: " + err.Error()
	}
	if f.Checksum != want {
		return Record{}, fmt.Sprintf("checksum mismatch (file says %q)", truncate(f.Checksum, 80))
	}
	if err := validate(f.Record); err != nil {
		return Record{}, err.Error()
	}
	return f.Record, ""
}

// checksum returns "sha256:<hex>" over the canonical encoding of r: see the
// package documentation.
func checksum(r Record) (string, error) {
	c, err := json.Marshal(r)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(c)
	return checksumPrefix + hex.EncodeToString(sum[:]), nil
}

// validate checks what both Save and Load require of a record, so that
// every record Load returns can be saved again unchanged.
func validate(r Record) error {
	switch {
	case r.Version != Version && r.Version != Version1:
		return fmt.Errorf("%w: version %d, want %d", ErrInvalid, r.Version, Version)
	case r.Version == Version1 && r.Token != "":
		return fmt.Errorf("%w: a version %d record has no token", ErrInvalid, Version1)
	case confirm.CheckTerminalID(r.TerminalID) != nil:
		return fmt.Errorf("%w: %v", ErrInvalid, confirm.CheckTerminalID(r.TerminalID))
	case r.MSISDN != "" && confirm.CheckMaskedMSISDN(r.MSISDN) != nil:
		return fmt.Errorf("%w: %v", ErrInvalid, confirm.CheckMaskedMSISDN(r.MSISDN))
	case r.Nonce != "" && confirm.CheckNonce(r.Nonce) != nil:
		return fmt.Errorf("%w: %v", ErrInvalid, confirm.CheckNonce(r.Nonce))
	case len(r.Token) > 512 || strings.ContainsFunc(r.Token, func(c rune) bool { return c < ' ' || c > '~' }):
		return fmt.Errorf("%w: token is not one line of printable ASCII of at most 512 bytes", ErrInvalid)
	case r.Source != SourceSMS && r.Source != SourcePlatform:
		return fmt.Errorf("%w: source %q, want %q or %q", ErrInvalid, truncate(r.Source, 40), SourceSMS, SourcePlatform)
	case r.BoundAt.IsZero():
		return fmt.Errorf("%w: empty bound_at", ErrInvalid)
	case r.BoundAt.UTC().Year() < 0 || r.BoundAt.UTC().Year() > 9999:
		return fmt.Errorf("%w: bound_at %s out of range", ErrInvalid, r.BoundAt.UTC().Format(time.RFC3339))
	}
	for _, f := range []struct{ name, v string }{
		{"terminal_id", r.TerminalID}, {"msisdn", r.MSISDN}, {"source", r.Source}, {"nonce", r.Nonce}, {"token", r.Token},
	} {
		if !utf8.ValidString(f.v) {
			return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalid, f.name)
		}
	}
	return nil
}

// Quarantine moves the record aside because the caller found it unusable
// (why says how: another terminal's, a proof that does not verify) and
// returns the error wrapping ErrCorrupt that says where it went.
func (s *Store) Quarantine(why string) error { return s.quarantine(why) }

// quarantine moves the record aside and returns the ErrCorrupt error.
func (s *Store) quarantine(why string) error {
	dst, err := quarantineFile(s.fs, s.path, s.now())
	if dst == "" {
		return fmt.Errorf("load %s: %w: %s; could not move it aside (%w): remove it by hand; the terminal is treated as not activated", s.path, ErrCorrupt, why, err)
	}
	if err != nil {
		return fmt.Errorf("load %s: %w: %s; moved aside to %s (%w); the terminal is treated as not activated", s.path, ErrCorrupt, why, dst, err)
	}
	return fmt.Errorf("load %s: %w: %s; moved aside to %s; the terminal is treated as not activated", s.path, ErrCorrupt, why, dst)
}

// Save writes r durably, replacing any record, always as Version (a
// version 1 record saved again becomes version 2); a zero BoundAt is stamped with the store's clock; BoundAt is
// stored in UTC. Save refuses (ErrInvalid) a record without TerminalID, with
// a Source other than "sms" or "platform", or with another Version. The
// state directory must exist. No temporary file is left behind, whatever
// fails.
func (s *Store) Save(r Record) error {
	r.Version = Version
	if r.BoundAt.IsZero() {
		r.BoundAt = s.now()
	}
	r.BoundAt = r.BoundAt.UTC()
	if err := validate(r); err != nil {
		return fmt.Errorf("save binding record: %w", err)
	}
	sum, err := checksum(r)
	if err != nil {
		return fmt.Errorf("save binding record: %w", err)
	}
	data, err := json.MarshalIndent(file{Record: r, Checksum: sum}, "", "  ")
	if err != nil {
		return fmt.Errorf("save binding record: %w", err)
	}
	data = append(data, '\n')
	if err := s.checkDir(); err != nil {
		return fmt.Errorf("save binding record: %w", err)
	}
	if err := s.writeAtomic(data); err != nil {
		return fmt.Errorf("save binding record to %s: %w", s.path, err)
	}
	return nil
}

// checkDir fails with the directory's path when it is missing: creating it
// here would hide a misconfigured state directory.
func (s *Store) checkDir() error {
	fi, err := s.fs.Stat(s.dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("state directory %s does not exist: create it or configure another one", s.dir)
	case err != nil:
		return fmt.Errorf("state directory %s: %w", s.dir, err)
	case !fi.IsDir():
		return fmt.Errorf("state directory %s is not a directory", s.dir)
	}
	return nil
}

// writeAtomic writes data to a temporary file beside the record, syncs it,
// renames it over the record and syncs the directory.
func (s *Store) writeAtomic(data []byte) error {
	return WriteFile(s.fs, s.path, data, fileMode)
}

// syncDir makes a rename or removal in the state directory durable.
func (s *Store) syncDir() error { return syncDir(s.fs, s.dir) }

// Remove deletes the record, making the terminal unbound. Removing a record
// that does not exist is not an error: Remove is idempotent, so a reset can
// be repeated safely.
func (s *Store) Remove() error {
	err := s.fs.Remove(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove binding record %s: %w", s.path, err)
	}
	if err := s.syncDir(); err != nil {
		return fmt.Errorf("remove binding record: %w", err)
	}
	return nil
}

func randomSuffix() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails since Go 1.24.
	return hex.EncodeToString(b[:])
}

// truncate shortens s for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) && len(s) > 0 {
		s = s[:len(s)-1]
	}
	return s + "…"
}
