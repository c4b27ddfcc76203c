package display

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/spf13/afero"

	"bindpay/internal/flagstore"
)

// StatusVersion is the version of the status file's schema, written as its
// "version" field. It changes only when a field changes meaning or goes
// away; fields may be added without a change, so readers ignore fields
// they do not know.
const StatusVersion = 1

// Status is the status file's content: the Screen as data for the
// terminal's own UI app, which draws its own screen in its own style. The
// README documents each field.
type Status struct {
	Version    int    `json:"version"`
	State      State  `json:"state"`
	TerminalID string `json:"terminal_id"`
	SMSTo      string `json:"sms_to"`
	SMSBody    string `json:"sms_body"`
	QRPayload  string `json:"qr_payload"`
	MSISDN     string `json:"msisdn"`
	Error      string `json:"error"`
	Offline    bool   `json:"offline"`
	Language   string `json:"language"`
	UpdatedAt  string `json:"updated_at"` // RFC 3339, UTC
}

// StatusFile writes each new Screen as a JSON Status to one file, for the
// terminal's UI app to read (or watch with inotify: the file is replaced
// by a rename, never rewritten in place, so a reader sees the old or the
// new content, whole). It is safe for concurrent use.
type StatusFile struct {
	mu    sync.Mutex // guards last, shown and the file
	fs    afero.Fs
	path  string
	lang  string
	now   func() time.Time
	last  Screen
	shown bool
}

// statusFileMode lets every user read the status file: the terminal's UI
// app, another user, reads it (the unit's RuntimeDirectoryMode=0755 says
// so too). It is not a state file: it lives in /run (tmpfs, not the
// flash), holds only what the screen shows, and nothing reads it back to
// decide anything, so the state files' 0600 does not apply.
const statusFileMode = 0o644

// NewStatusFile returns a display that writes to path on fs, saying the
// screen's language is lang ("en", "zh-CN" or an accepted spelling) and
// stamping each write with now. Nothing is touched until the first Show:
// the directory is created then if missing.
func NewStatusFile(fs afero.Fs, path, lang string, now func() time.Time) (*StatusFile, error) {
	switch {
	case fs == nil:
		return nil, errors.New("display: status file needs a file system")
	case path == "":
		return nil, errors.New("display: status file path is empty")
	case now == nil:
		return nil, errors.New("display: status file needs a clock")
	}
	key, err := Language(lang)
	if err != nil {
		return nil, fmt.Errorf("display: %w", err)
	}
	return &StatusFile{fs: fs, path: filepath.Clean(path), lang: key, now: now}, nil
}

// Path returns the status file's path.
func (f *StatusFile) Path() string { return f.path }

// Show writes s to the status file, unless it equals the last Screen
// written: updated_at then keeps telling when the state last changed.
func (f *StatusFile) Show(s Screen) error {
	if err := s.Validate(); err != nil {
		return fmt.Errorf("display: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.shown && s == f.last {
		return nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // "<" stays "<" for the UI app's authors
	enc.SetIndent("", "  ")
	if err := enc.Encode(f.status(s)); err != nil {
		return fmt.Errorf("display: status file: %w", err)
	}
	if err := f.write(buf.Bytes()); err != nil {
		return fmt.Errorf("display: status file: %w", err)
	}
	f.last, f.shown = s, true
	return nil
}

// status returns s as the file's content. Values are verbatim: JSON
// escapes what needs escaping, and the UI app shows them as text.
func (f *StatusFile) status(s Screen) Status {
	return Status{
		Version:    StatusVersion,
		State:      s.State,
		TerminalID: s.TerminalID,
		SMSTo:      s.SMSTo,
		SMSBody:    s.SMSBody,
		QRPayload:  QRPayload(s),
		MSISDN:     s.MSISDN,
		Error:      s.Error,
		Offline:    s.Offline,
		Language:   f.lang,
		UpdatedAt:  f.now().UTC().Format(time.RFC3339),
	}
}

// write replaces the file with data atomically (flagstore.WriteFile): a
// reader or a power cut sees the old or the new file, never a part.
func (f *StatusFile) write(data []byte) error {
	dir := filepath.Dir(f.path)
	if err := f.fs.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create directory %s: %w", dir, err)
	}
	return flagstore.WriteFile(f.fs, f.path, data, statusFileMode)
}

// ReadStatus reads and checks a status file: for the UI app's authors, the
// agent's status command and tests.
func ReadStatus(fs afero.Fs, path string) (Status, error) {
	data, err := afero.ReadFile(fs, path)
	if err != nil {
		return Status{}, fmt.Errorf("read status file: %w", err)
	}
	var st Status
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&st); err != nil {
		return Status{}, fmt.Errorf("status file %s: %w", path, err)
	}
	if st.Version != StatusVersion {
		return st, fmt.Errorf("status file %s: version %d, want %d", path, st.Version, StatusVersion)
	}
	return st, nil
}
