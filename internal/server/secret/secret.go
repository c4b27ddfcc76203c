// Package secret reads the platform's secret files — the master key, the
// admin token, the gateway's callback key — and refuses any that another
// user could read: mode 0600 or stricter, a regular file of sensible size.
// Pure file reads; nothing is logged and no secret is ever echoed in an
// error.
package secret

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
)

// Sentinel errors; test with errors.Is.
var (
	// ErrPermissions: the file's mode lets group or others (or anyone
	// execute) access it.
	ErrPermissions = errors.New("unsafe secret file permissions")
	// ErrBadSecret: the file is empty, too large, not a regular file, or
	// (for a master key) not hex digits.
	ErrBadSecret = errors.New("bad secret file")
)

const maxSecretFile = 4096

// MinMasterKeyHex is the fewest hex digits a master key may have.
const MinMasterKeyHex = 64

// ReadFile returns the content of the secret file at path, surrounding
// whitespace trimmed. It refuses a file whose mode is not 0600 or stricter.
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("secret %s: %w: not a regular file", path, ErrBadSecret)
	}
	if perm := fi.Mode().Perm(); perm&^0o600 != 0 {
		return nil, fmt.Errorf("secret %s: %w: mode %04o, want 0600 or stricter; run: chmod 600 %s", path, ErrPermissions, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return nil, fmt.Errorf("secret %s: %w", path, err)
	}
	if len(b) > maxSecretFile {
		return nil, fmt.Errorf("secret %s: %w: larger than %d bytes", path, ErrBadSecret, maxSecretFile)
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, fmt.Errorf("secret %s: %w: empty", path, ErrBadSecret)
	}
	return b, nil
}

// MasterKey reads the master key file: at least MinMasterKeyHex hex
// digits (an even number), surrounding whitespace ignored, mode 0600 or
// stricter. It returns the decoded bytes.
func MasterKey(path string) ([]byte, error) {
	b, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < MinMasterKeyHex || len(b)%2 != 0 {
		return nil, fmt.Errorf("secret %s: %w: %d characters, want an even number of hex digits, at least %d (make one: openssl rand -hex 32)",
			path, ErrBadSecret, len(b), MinMasterKeyHex)
	}
	key := make([]byte, len(b)/2)
	if _, err := hex.Decode(key, b); err != nil {
		return nil, fmt.Errorf("secret %s: %w: not hex digits", path, ErrBadSecret)
	}
	return key, nil
}
