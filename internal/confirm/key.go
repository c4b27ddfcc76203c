package confirm

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

const (
	keyLen      = 32   // bytes of a terminal key
	maxKeyFile  = 4096 // a key file is 64 hex digits; anything much larger is a mistake
	deriveLabel = "bindpay terminal key v1|"
	authScheme  = "BPH1 "
)

// DeriveKey returns the terminal key of tid: HMAC-SHA256(master,
// "bindpay terminal key v1|"+tid), 32 bytes. This is the reference
// derivation on the platform side; a terminal only ever holds its own key.
func DeriveKey(master []byte, tid string) []byte {
	m := hmac.New(sha256.New, master)
	m.Write([]byte(deriveLabel + tid))
	return m.Sum(nil)
}

// ParseKey decodes the content of a key file: 64 hex digits (either case),
// surrounding whitespace and a final newline ignored. Errors wrap ErrBadKey
// and say what is wrong without echoing the key material.
func ParseKey(b []byte) ([]byte, error) {
	s := bytes.TrimSpace(b)
	if len(s) == 0 {
		return nil, fmt.Errorf("%w: empty, want %d hex digits", ErrBadKey, 2*keyLen)
	}
	for i, c := range s {
		if !isHex(c) {
			return nil, fmt.Errorf("%w: byte %d is not a hex digit, want %d hex digits", ErrBadKey, i+1, 2*keyLen)
		}
	}
	if len(s) != 2*keyLen {
		return nil, fmt.Errorf("%w: %d hex digits, want %d", ErrBadKey, len(s), 2*keyLen)
	}
	key := make([]byte, keyLen)
	if _, err := hex.Decode(key, s); err != nil { // unreachable after the checks above
		return nil, fmt.Errorf("%w: %w", ErrBadKey, err)
	}
	return key, nil
}

// LoadKey reads and parses the key file at path. Like ssh with a private
// key, it refuses a file that group or others may access (mode&0o077 != 0)
// or that belongs to a user other than the one running the process: such a
// key may be known to someone else, and a forged confirmation would bind a
// stranger's number. Errors name the path; permission errors wrap
// ErrKeyPermissions and say which chmod/chown fixes them, content errors wrap
// ErrBadKey. On systems without Unix permissions the checks are skipped.
func LoadKey(path string) ([]byte, error) {
	// Stat before opening, so that a FIFO or device named by mistake is
	// refused instead of blocking the open.
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("load key: %w", err)
	}
	if err := checkKeyFile(path, fi); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load key: %w", err)
	}
	defer f.Close()
	// Check again what was actually opened: the file may have been
	// replaced between Stat and Open.
	if fi, err = f.Stat(); err != nil {
		return nil, fmt.Errorf("load key: %w", err)
	}
	if err := checkKeyFile(path, fi); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("load key: %w", err)
	}
	if len(b) > maxKeyFile {
		return nil, fmt.Errorf("load key %s: %w: larger than %d bytes, want %d hex digits", path, ErrBadKey, maxKeyFile, 2*keyLen)
	}
	key, err := ParseKey(b)
	if err != nil {
		return nil, fmt.Errorf("load key %s: %w", path, err)
	}
	return key, nil
}

// checkKeyFile refuses anything but a regular file that only its owner may
// access, owned by the effective user of this process.
func checkKeyFile(path string, fi os.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("load key %s: %w: not a regular file (%s)", path, ErrBadKey, fi.Mode().Type())
	}
	if !unixPermissions {
		return nil
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("load key %s: %w: mode %04o lets group or others access it; run: chmod 600 %s",
			path, ErrKeyPermissions, perm, path)
	}
	if uid, ok := fileOwner(fi); ok && uid != os.Geteuid() {
		return fmt.Errorf("load key %s: %w: owned by uid %d, but the agent runs as uid %d; run: chown %d %s",
			path, ErrKeyPermissions, uid, os.Geteuid(), os.Geteuid(), path)
	}
	return nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// RequestSignature returns the lowercase hex HMAC-SHA256(key,
// method+"\n"+path+"\n"+date) that signs a platform request. path is the
// request path without query string, date the X-Bindpay-Date header value.
func RequestSignature(key []byte, method, path, date string) string {
	return hex.EncodeToString(requestMAC(key, method, path, date))
}

// AuthorizationHeader returns the Authorization header value of a signed
// platform request: "BPH1 " followed by RequestSignature.
func AuthorizationHeader(key []byte, method, path, date string) string {
	return authScheme + RequestSignature(key, method, path, date)
}

// VerifyRequest reports, in constant time, whether authorization is the
// header AuthorizationHeader would produce (hex digits of either case are
// accepted). It is false for an empty key. Whether date is fresh enough is
// the caller's decision.
func VerifyRequest(key []byte, method, path, date, authorization string) bool {
	return len(key) > 0 && equalHexMAC(authorization, requestMAC(key, method, path, date))
}

// SignatureHeader is the answer header that carries AnswerHeader's value.
const SignatureHeader = "X-Bindpay-Signature"

// AnswerHeader returns the X-Bindpay-Signature value of a platform answer:
// "BPH1 " and the lowercase hex HMAC-SHA256(key, status+"\n"+path+"\n"+date+"\n"+body),
// where date is the request's X-Bindpay-Date and body the exact body bytes.
func AnswerHeader(key []byte, status int, path, date string, body []byte) string {
	return authScheme + hex.EncodeToString(answerMAC(key, status, path, date, body))
}

// VerifyAnswer reports, in constant time, whether signature is the header
// AnswerHeader would produce for this answer. It is false for an empty key.
func VerifyAnswer(key []byte, status int, path, date string, body []byte, signature string) bool {
	return len(key) > 0 && equalHexMAC(signature, answerMAC(key, status, path, date, body))
}

func answerMAC(key []byte, status int, path, date string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(strconv.Itoa(status) + "\n" + path + "\n" + date + "\n"))
	m.Write(body)
	return m.Sum(nil)
}

// equalHexMAC compares a "BPH1 <hex>" header with want in constant time.
func equalHexMAC(header string, want []byte) bool {
	h, ok := strings.CutPrefix(header, authScheme)
	if !ok || len(h) != 2*sha256.Size {
		return false
	}
	got, err := hex.DecodeString(h)
	if err != nil {
		return false
	}
	return hmac.Equal(got, want)
}

func requestMAC(key []byte, method, path, date string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(method + "\n" + path + "\n" + date))
	return m.Sum(nil)
}
