package flagstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/spf13/afero"
)

// Files of the Ledger in the state directory.
const (
	NoncesFile = "nonces.json"
	InboxFile  = "inbox.json"
)

// Bounds of the Ledger: the files stay small on flash whatever happens.
const (
	MaxIssued   = 32  // nonces the platform issued, newest kept
	MaxConsumed = 256 // nonces used by accepted confirmations, newest kept
	MaxInbox    = 100 // rejected SMS recorded, newest kept
	InboxText   = 160 // characters of each rejected SMS kept
)

// Ledger keeps beside the binding record what must outlive a restart and a
// reset: the nonces the platform issued this terminal (so a signed
// confirmation is accepted offline after a reboot), the nonces already used
// (so a confirmation cannot be replayed, also after `reset`), and a bounded
// log of the SMS that were not accepted. Each file is rewritten whole with
// WriteFile. A Ledger is used by one process at a time.
type Ledger struct {
	fs  afero.Fs
	dir string
	now func() time.Time
}

// NewLedger returns the ledger in dir on fsys; now stamps quarantined files.
func NewLedger(fsys afero.Fs, dir string, now func() time.Time) *Ledger {
	if now == nil {
		now = time.Now
	}
	return &Ledger{fs: fsys, dir: dir, now: now}
}

// Nonces are the nonces the ledger knows.
type Nonces struct {
	Issued   []string `json:"issued"`
	Consumed []string `json:"consumed"`
}

// InboxEntry is one SMS that was not an accepted confirmation.
type InboxEntry struct {
	Time   time.Time `json:"time"`
	From   string    `json:"from"`
	Reason string    `json:"reason"`
	Text   string    `json:"text"` // the first InboxText characters
}

// Nonces reads the nonce file. A missing file is no nonces; an unreadable
// one is moved aside and reported (wrapping ErrCorrupt) with no nonces, so
// that the agent carries on: a confirmation then needs the platform's word.
func (l *Ledger) Nonces() (Nonces, error) {
	var n Nonces
	err := l.read(NoncesFile, &n)
	return n, err
}

// Issue records a nonce the platform issued.
func (l *Ledger) Issue(nonce string) error {
	n, err := l.Nonces()
	if err = readable(err); err != nil {
		return err
	}
	if nonce == "" || slices.Contains(n.Issued, nonce) {
		return nil
	}
	n.Issued = lastN(append(n.Issued, nonce), MaxIssued)
	return l.write(NoncesFile, n)
}

// Consume records that a confirmation with this nonce was accepted: it is
// no longer issued, and a confirmation carrying it again is a replay.
func (l *Ledger) Consume(nonce string) error {
	n, err := l.Nonces()
	if err = readable(err); err != nil {
		return err
	}
	if nonce == "" || slices.Contains(n.Consumed, nonce) {
		return nil
	}
	n.Issued = slices.DeleteFunc(n.Issued, func(s string) bool { return s == nonce })
	n.Consumed = lastN(append(n.Consumed, nonce), MaxConsumed)
	return l.write(NoncesFile, n)
}

// LogRejected appends e to the inbox log, keeping the newest MaxInbox.
func (l *Ledger) LogRejected(e InboxEntry) error {
	entries, err := l.Inbox()
	if err = readable(err); err != nil {
		return err
	}
	e.Time = e.Time.UTC()
	e.Text = clipRunes(e.Text, InboxText)
	return l.write(InboxFile, lastN(append(entries, e), MaxInbox))
}

// Inbox returns the inbox log, oldest first.
func (l *Ledger) Inbox() ([]InboxEntry, error) {
	var entries []InboxEntry
	err := l.read(InboxFile, &entries)
	return entries, err
}

// readable sorts the error of reading a ledger file before rewriting it: a
// corrupt file was moved aside, so the write starts afresh (nil); any other
// error (the file is there but could not be read) must stop the write, or
// it would replace the file's history with the new entry alone.
func readable(err error) error {
	if err == nil || errors.Is(err, ErrCorrupt) {
		return nil
	}
	return err
}

func (l *Ledger) read(name string, v any) error {
	path := filepath.Join(l.dir, name)
	f, err := l.fs.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	f.Close()
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > MaxSize {
		err = fmt.Errorf("larger than %d bytes", MaxSize)
	} else {
		err = json.Unmarshal(data, v)
	}
	if err == nil {
		return nil
	}
	aside := path + corruptInfix + l.now().UTC().Format(quarantineStamp)
	if rerr := l.fs.Rename(path, aside); rerr != nil {
		return fmt.Errorf("%w: %s: %v; could not move it aside (%v): remove it by hand", ErrCorrupt, path, err, rerr)
	}
	return fmt.Errorf("%w: %s: %v; moved to %s", ErrCorrupt, path, err, aside)
}

func (l *Ledger) write(name string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", name, err)
	}
	path := filepath.Join(l.dir, name)
	if err := WriteFile(l.fs, path, append(data, '\n'), fileMode); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	return nil
}

func lastN[T any](s []T, n int) []T {
	if len(s) > n {
		return slices.Clone(s[len(s)-n:])
	}
	return s
}

// clipRunes keeps the first n characters of s, replacing invalid UTF-8.
func clipRunes(s string, n int) string {
	if !utf8.ValidString(s) {
		s = string([]rune(s))
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// ConsumeIssued ends the activation: every nonce the platform issued, and
// the extra ones given (the nonce of the token that bound the terminal, even
// if it was never seen in an answer), become consumed, so that no late or
// stale confirmation carrying one of them can bind again, also after
// `reset`. Nothing is written when nothing changes.
func (l *Ledger) ConsumeIssued(extra ...string) error {
	n, err := l.Nonces()
	if err = readable(err); err != nil {
		return err
	}
	changed := false
	for _, nonce := range append(slices.Clone(n.Issued), extra...) {
		if nonce != "" && !slices.Contains(n.Consumed, nonce) {
			n.Consumed = append(n.Consumed, nonce)
			changed = true
		}
	}
	if len(n.Issued) > 0 {
		n.Issued, changed = nil, true
	}
	if !changed {
		return nil
	}
	n.Consumed = lastN(n.Consumed, MaxConsumed)
	return l.write(NoncesFile, n)
}
