package flagstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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

	// Bytes of each field of an inbox entry as written (JSON-escaped, so a
	// control character counts 6), clipped on a character boundary: a
	// hostile SMS cannot make its entry big.
	InboxTextBytes   = 480 // InboxText characters of Chinese
	InboxReasonBytes = 240
	InboxFromBytes   = 64

	// MaxInboxSize is the most bytes the inbox file holds as written: the
	// oldest entries are dropped until it fits. It is no more than
	// MaxSize, the limit the file is read with, so the log can never
	// outgrow its own reader and be quarantined as too big.
	MaxInboxSize = MaxSize
)

// Ledger keeps beside the binding record what must outlive a restart and a
// reset: the nonces the platform issued this terminal (so a signed
// confirmation is accepted offline after a reboot), the nonces already used
// (so a confirmation cannot be replayed, also after `reset`), and a bounded
// log of the SMS that were not accepted. Each file is rewritten whole with
// WriteFile, and only when its content changes: a platform that answers
// the same nonce at every poll, or an SMS judged again, costs no flash
// write. A Ledger is used by one process at a time.
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
	From   string    `json:"from"`   // at most InboxFromBytes as written
	Reason string    `json:"reason"` // at most InboxReasonBytes as written
	Text   string    `json:"text"`   // the first InboxText characters, at most InboxTextBytes as written
}

// Nonces reads the nonce file. A missing file is no nonces; an unreadable
// one is moved aside and reported (wrapping ErrCorrupt) with no nonces, so
// that the agent carries on: a confirmation then needs the platform's word.
func (l *Ledger) Nonces() (Nonces, error) {
	var n Nonces
	_, err := l.read(NoncesFile, &n)
	return n, err
}

// Issue records a nonce the platform issued. A nonce already known, issued
// or consumed, changes nothing and writes nothing.
func (l *Ledger) Issue(nonce string) error {
	return l.UpdateNonces(func(n *Nonces) {
		if nonce == "" || slices.Contains(n.Issued, nonce) || slices.Contains(n.Consumed, nonce) {
			return
		}
		n.Issued = lastN(append(n.Issued, nonce), MaxIssued)
	})
}

// Consume records that a confirmation with this nonce was accepted: it is
// no longer issued, and a confirmation carrying it again is a replay.
func (l *Ledger) Consume(nonce string) error {
	return l.UpdateNonces(func(n *Nonces) { consume(n, nonce) })
}

// consume moves nonce from issued to consumed; "" is no nonce.
func consume(n *Nonces, nonce string) {
	if nonce == "" {
		return
	}
	n.Issued = slices.DeleteFunc(n.Issued, func(s string) bool { return s == nonce })
	if !slices.Contains(n.Consumed, nonce) {
		n.Consumed = lastN(append(n.Consumed, nonce), MaxConsumed)
	}
}

// UpdateNonces reads the nonce file, lets edit change the nonces, and
// writes the file back when, and only when, its content changed. The
// bounds (MaxIssued, MaxConsumed) are applied after edit: the newest are
// kept. A corrupt file is moved aside and edit starts from no nonces; a
// file that cannot be read stops the update (its history must not be
// replaced by the new nonces alone).
func (l *Ledger) UpdateNonces(edit func(n *Nonces)) error {
	var n Nonces
	old, err := l.read(NoncesFile, &n)
	if err = readable(err); err != nil {
		return err
	}
	edit(&n)
	n.Issued = lastN(n.Issued, MaxIssued)
	n.Consumed = lastN(n.Consumed, MaxConsumed)
	if old.data == nil && len(n.Issued) == 0 && len(n.Consumed) == 0 {
		return nil // no file says no nonces already
	}
	data, err := encodeNonces(n, MaxSize)
	if err != nil {
		return fmt.Errorf("encode %s: %w", NoncesFile, err)
	}
	return l.writeChanged(NoncesFile, old, data)
}

// encodeNonces encodes n in at most limit bytes, dropping the oldest
// consumed nonces, then the oldest issued ones, should it not fit. Nonces
// are at most 64 characters (DESIGN) and the counts bounded, so this never
// happens with a sane platform; it keeps the file from outgrowing the limit
// it is read with whatever a token carried.
func encodeNonces(n Nonces, limit int) ([]byte, error) {
	for {
		data, err := encode(n)
		switch {
		case err != nil || len(data) <= limit:
			return data, err
		case len(n.Consumed) > 0:
			n.Consumed = n.Consumed[1:]
		case len(n.Issued) > 0:
			n.Issued = n.Issued[1:]
		default:
			return data, nil
		}
	}
}

// LogRejected appends e to the inbox log, its fields clipped (InboxText,
// InboxTextBytes, InboxReasonBytes, InboxFromBytes), keeping the newest
// MaxInbox entries that fit in MaxInboxSize bytes. An entry already in the
// log (the same SMS judged again: same time, sender, reason and text)
// writes nothing.
func (l *Ledger) LogRejected(e InboxEntry) error {
	var entries []InboxEntry
	old, err := l.read(InboxFile, &entries)
	if err = readable(err); err != nil {
		return err
	}
	e = clipEntry(e)
	if slices.ContainsFunc(entries, func(x InboxEntry) bool { return sameEntry(x, e) }) {
		return nil
	}
	data, err := encodeInbox(lastN(append(entries, e), MaxInbox), MaxInboxSize)
	if err != nil {
		return fmt.Errorf("encode %s: %w", InboxFile, err)
	}
	return l.writeChanged(InboxFile, old, data)
}

// Inbox returns the inbox log, oldest first.
func (l *Ledger) Inbox() ([]InboxEntry, error) {
	var entries []InboxEntry
	_, err := l.read(InboxFile, &entries)
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

// ledgerFile is a ledger file as read: its bytes (nil when there is none)
// and its permission bits.
type ledgerFile struct {
	data []byte
	perm fs.FileMode
}

// read decodes the file name into v and returns it as read. A missing file
// is no data and no error. A file that is too big, not JSON, or not a
// regular file (a FIFO, a symbolic link...: never opened for reading) is
// moved aside and reported with an error wrapping ErrCorrupt.
func (l *Ledger) read(name string, v any) (ledgerFile, error) {
	path := filepath.Join(l.dir, name)
	data, perm, err := readRegular(l.fs, path, MaxSize)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return ledgerFile{}, nil
	case errors.Is(err, errNotRegular):
	case err != nil:
		return ledgerFile{}, fmt.Errorf("read %s: %w", path, err)
	case len(data) > MaxSize:
		err = fmt.Errorf("larger than %d bytes", MaxSize)
	default:
		err = json.Unmarshal(data, v)
	}
	if err == nil {
		return ledgerFile{data: data, perm: perm}, nil
	}
	what := whatIsWrong(err)
	aside, qerr := quarantineFile(l.fs, path, l.now())
	switch {
	case aside == "":
		return ledgerFile{}, fmt.Errorf("%w: %s: %s; could not move it aside (%w): remove it by hand", ErrCorrupt, path, what, qerr)
	case qerr != nil:
		return ledgerFile{}, fmt.Errorf("%w: %s: %s; moved to %s (%w)", ErrCorrupt, path, what, aside, qerr)
	}
	return ledgerFile{}, fmt.Errorf("%w: %s: %s; moved to %s", ErrCorrupt, path, what, aside)
}

// writeChanged replaces the file name with data unless it holds data
// already, with the state files' mode (old: the file as read). A file of
// an older version with another mode is rewritten once, to fix its mode.
func (l *Ledger) writeChanged(name string, old ledgerFile, data []byte) error {
	if old.data != nil && bytes.Equal(old.data, data) && old.perm == fileMode {
		return nil
	}
	path := filepath.Join(l.dir, name)
	if err := WriteFile(l.fs, path, data, fileMode); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	return nil
}

// encode is how the ledger files are written: indented JSON and a final
// newline; <, > and & as themselves (not \u003c...), so that text full of
// them does not grow sixfold.
func encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// encodeInbox encodes the inbox file: a JSON array, one entry a line, so
// that a person reads it with less and each entry's size is known; the
// oldest entries are dropped until the file is at most limit bytes.
func encodeInbox(entries []InboxEntry, limit int) ([]byte, error) {
	lines := make([][]byte, len(entries))
	size := len("[\n]\n")
	for i, e := range entries {
		line, err := encodeCompact(e)
		if err != nil {
			return nil, err
		}
		lines[i] = line
		size += len(line) + len(",\n")
	}
	if len(lines) > 0 {
		size-- // no comma after the last
	}
	for len(lines) > 0 && size > limit {
		size -= len(lines[0]) + len(",\n")
		lines = lines[1:]
		if len(lines) == 0 {
			size++
		}
	}
	out := make([]byte, 0, size)
	out = append(out, "[\n"...)
	for i, line := range lines {
		out = append(out, line...)
		if i < len(lines)-1 {
			out = append(out, ',')
		}
		out = append(out, '\n')
	}
	return append(out, "]\n"...), nil
}

// encodeCompact is encode without the indentation and the final newline.
func encodeCompact(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// clipEntry clips e's fields to the inbox bounds; Time is stored in UTC.
func clipEntry(e InboxEntry) InboxEntry {
	e.Time = e.Time.UTC()
	e.From = clipEncoded(e.From, InboxFromBytes, InboxFromBytes)
	e.Reason = clipEncoded(e.Reason, InboxReasonBytes, InboxReasonBytes)
	e.Text = clipEncoded(e.Text, InboxText, InboxTextBytes)
	return e
}

// sameEntry: a and b record the same SMS.
func sameEntry(a, b InboxEntry) bool {
	return a.Time.Equal(b.Time) && a.From == b.From && a.Reason == b.Reason && a.Text == b.Text
}

// clipEncoded returns the longest prefix of s, on a character boundary,
// of at most chars characters whose JSON encoding (as encode writes it,
// without the quotes) is at most maxBytes bytes. Invalid UTF-8 is replaced
// by U+FFFD first.
func clipEncoded(s string, chars, maxBytes int) string {
	if !utf8.ValidString(s) {
		s = string([]rune(s))
	}
	// ends[k] is the length in bytes of the prefix of k characters.
	ends := make([]int, 1, min(len(s), chars)+1)
	for i, r := range s {
		if len(ends) > chars {
			break
		}
		ends = append(ends, i+utf8.RuneLen(r))
	}
	n := len(ends) - 1
	if encodedLen(s[:ends[n]]) <= maxBytes {
		return s[:ends[n]]
	}
	// The encoded length grows with the prefix: find the longest that
	// fits. The empty prefix always does; the n-character one does not.
	lo, hi := 0, n
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if encodedLen(s[:ends[mid]]) <= maxBytes {
			lo = mid
		} else {
			hi = mid
		}
	}
	return s[:ends[lo]]
}

// encodedLen is the length of s as encode writes it, without the quotes.
func encodedLen(s string) int {
	data, err := encodeCompact(s)
	if err != nil {
		return len(s) * 6 // not reached: a string always encodes
	}
	return len(data) - len(`""`)
}

func lastN[T any](s []T, n int) []T {
	if len(s) > n {
		return slices.Clone(s[len(s)-n:])
	}
	return s
}

// ConsumeIssued ends the activation: every nonce the platform issued, and
// the extra ones given (the nonce of the token that bound the terminal, even
// if it was never seen in an answer), become consumed, so that no late or
// stale confirmation carrying one of them can bind again, also after
// `reset`. Nothing is written when nothing changes.
func (l *Ledger) ConsumeIssued(extra ...string) error {
	return l.UpdateNonces(func(n *Nonces) {
		for _, nonce := range append(slices.Clone(n.Issued), extra...) {
			consume(n, nonce)
		}
	})
}
