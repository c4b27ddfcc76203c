package confirm

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
)

// Token grammar (DESIGN.md, "SMS platform → terminal", protocol version 2):
//
//	token = "BP1" " t=" value " m=" value [" n=" value] *(" " key "=" value) [" s=" sig]
//	key   = 1*(ASCII letter / digit / "_")    ; not t, m, n or s
//	value = 1*(%x21-7E)                        ; printable ASCII, no space
//	sig   = 22(base64url character)            ; not followed by another one
//
// The fields come in this order: t (terminal ID), m (masked bound number),
// n (nonce, optional), any further fields (ignored, but covered by the
// signature, so that an operator may add one without breaking the fleet),
// and last s: exactly 22 characters of base64url, the first 16 bytes of the
// HMAC over the token text before " s=". The token ends right after those 22
// characters: punctuation or whitespace may follow ("s=….", "s=…。"); a 23rd
// base64url character makes it malformed.
//
// In free text "BP1" starts a token only when it is not preceded or followed
// by an ASCII letter or digit ("XBP1 " and "BP100" are not tokens; "。BP1 "
// is). Without s, the token ends at the end of the text, at a space that is
// not followed by another key "=", or at any other byte that cannot be part
// of a value: a control character, a non-ASCII (for example Chinese)
// character.
const (
	magic     = "BP1"
	sigLen    = 16 // bytes of HMAC-SHA256 kept in s
	sigChars  = 22 // base64url characters of s
	maxFields = 16 // fields a token may have, extras included
)

// sigEncoding rejects non-zero trailing bits, so that exactly one string of
// 22 characters encodes a given signature and a token cannot be altered
// without failing Verify.
var sigEncoding = base64.RawURLEncoding.Strict()

// Token is a BP1 confirmation token.
//
// A Token returned by Parse or Find remembers the exact text its signature
// covers, so a token whose fields arrived in a non-canonical order still
// verifies. Changing TerminalID, MSISDN or Nonce afterwards makes the token
// fall back to the canonical text (see SignedText), so a modified token never
// verifies with the signature of the original and String shows the new
// fields.
type Token struct {
	TerminalID string // t
	MSISDN     string // m (masked bound number, e.g. 138****8000)
	Nonce      string // n, optional ("" when absent)
	Sig        string // s, base64url without padding; "" when absent
	signed     string // exact text the signature covers as received, set by Parse/Find; empty for a Token built in code
}

// SignedText returns the text the signature covers: the token text before
// " s=" as it was received when the token came from Parse or Find (and its
// fields have not been changed since), else the canonical
// "BP1 t=<t> m=<m>[ n=<n>]".
func (t Token) SignedText() string {
	if t.signed != "" && t.signedMatches() {
		return t.signed
	}
	return t.canonical()
}

// String returns the token as it appears in an SMS: SignedText followed by
// " s=<sig>" when Sig is set.
func (t Token) String() string {
	if t.Sig == "" {
		return t.SignedText()
	}
	return t.SignedText() + " s=" + t.Sig
}

func (t Token) canonical() string {
	s := magic + " t=" + t.TerminalID + " m=" + t.MSISDN
	if t.Nonce != "" {
		s += " n=" + t.Nonce
	}
	return s
}

// signedMatches reports whether the remembered signed text still carries
// exactly the token's fields.
func (t Token) signedMatches() bool {
	p, err := parseExact(t.signed)
	return err == nil && p.Sig == "" &&
		p.TerminalID == t.TerminalID && p.MSISDN == t.MSISDN && p.Nonce == t.Nonce
}

// Sign returns t with Sig set to the signature of t.SignedText() under key:
// base64url (no padding) of the first 16 bytes of HMAC-SHA256. The platform
// side (netsim) uses it; the fields must follow the value grammar (printable
// ASCII, no spaces) for the result to parse again.
func Sign(key []byte, t Token) Token {
	t.Sig = sigEncoding.EncodeToString(tokenMAC(key, t.SignedText()))
	return t
}

// Verify reports whether t.Sig is the signature of t.SignedText() under key,
// comparing in constant time. It is false for an empty key, an empty Sig or
// one that is not exactly 16 bytes of canonical unpadded base64url.
func Verify(key []byte, t Token) bool {
	if len(key) == 0 || t.Sig == "" {
		return false
	}
	got, err := sigEncoding.DecodeString(t.Sig)
	if err != nil || len(got) != sigLen {
		return false
	}
	return hmac.Equal(got, tokenMAC(key, t.SignedText()))
}

func tokenMAC(key []byte, text string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(text))
	return m.Sum(nil)[:sigLen]
}

// Parse parses s, which must be exactly one token (surrounding whitespace
// is ignored). It returns ErrNoToken when s does not mention "BP1" at all and
// an error wrapping ErrMalformed otherwise.
func Parse(s string) (Token, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, magic) {
		return Token{}, ErrNoToken
	}
	if !strings.HasPrefix(s, magic) {
		return Token{}, malformedf("text before %q", magic)
	}
	return parseExact(s)
}

// Find locates a token anywhere in free text, such as the body of a
// confirmation SMS. When "BP1" starts several candidates, the first that
// parses wins. It returns ErrNoToken when there is no candidate and the
// error of the first candidate, wrapping ErrMalformed, when none parses.
func Find(text string) (Token, error) {
	var firstErr error
	for from := 0; from < len(text); {
		i := strings.Index(text[from:], magic)
		if i < 0 {
			break
		}
		at := from + i
		from = at + len(magic)
		if !isCandidate(text, at) {
			continue
		}
		tok, _, err := parseAt(text, at)
		if err == nil {
			return tok, nil
		}
		if firstErr == nil {
			firstErr = fmt.Errorf("token at byte %d: %w", at, err)
		}
	}
	if firstErr != nil {
		return Token{}, firstErr
	}
	return Token{}, ErrNoToken
}

// isCandidate reports whether the "BP1" at text[at:] stands on its own: no
// ASCII letter or digit right before or right after it. A preceding byte of
// a multi-byte UTF-8 character (Chinese text, full-width punctuation) is
// never a letter or digit here.
func isCandidate(text string, at int) bool {
	if at > 0 && isAlnum(text[at-1]) {
		return false
	}
	end := at + len(magic)
	return end == len(text) || !isAlnum(text[end])
}

// parseExact parses s as one token with nothing after it.
func parseExact(s string) (Token, error) {
	tok, end, err := parseAt(s, 0)
	if err != nil {
		return Token{}, err
	}
	if end != len(s) {
		return Token{}, malformedf("unexpected text after the token at byte %d", end)
	}
	return tok, nil
}

// parseAt parses the token that starts with "BP1" at text[start:] and
// returns it with the offset just past its end.
func parseAt(text string, start int) (Token, int, error) {
	pos := start + len(magic)
	if pos >= len(text) || text[pos] != ' ' {
		return Token{}, pos, malformedf("%q must be followed by a space and k=v fields", magic)
	}
	var (
		tok   Token
		seen  = map[string]bool{}
		n     int // fields seen
		sigAt = -1
	)
	for {
		sep := pos
		key, vstart, ok := keyAt(text, sep+1)
		if !ok {
			return Token{}, pos, malformedf("expected a k=v field at byte %d", sep+1-start)
		}
		if seen[key] {
			return Token{}, pos, malformedf("duplicate field %s", key)
		}
		if err := fieldOrder(key, n, seen); err != nil {
			return Token{}, pos, err
		}
		if n++; n > maxFields {
			return Token{}, pos, malformedf("more than %d fields", maxFields)
		}
		seen[key] = true
		if key == "s" {
			end := vstart
			for end < len(text) && end-vstart <= sigChars && isSigChar(text[end]) {
				end++
			}
			switch {
			case end-vstart < sigChars:
				return Token{}, end, malformedf("field s has %d base64url characters, want %d", end-vstart, sigChars)
			case end-vstart > sigChars:
				return Token{}, end, malformedf("field s is longer than %d base64url characters", sigChars)
			}
			tok.Sig, sigAt, pos = text[vstart:end], sep, end
			break
		}
		pos = vstart
		for pos < len(text) && isValueByte(text[pos]) {
			pos++
		}
		val := text[vstart:pos]
		if val == "" {
			return Token{}, pos, malformedf("empty value for field %s", key)
		}
		switch key {
		case "t":
			tok.TerminalID = val
		case "m":
			tok.MSISDN = val
		case "n":
			tok.Nonce = val
		}
		if pos >= len(text) || text[pos] != ' ' {
			break
		}
		if _, _, more := keyAt(text, pos+1); !more {
			break
		}
	}
	if !seen["m"] {
		return Token{}, pos, malformedf("missing field m (bound number)")
	}
	if sigAt >= 0 {
		tok.signed = text[start:sigAt]
	} else {
		tok.signed = text[start:pos]
	}
	return tok, pos, nil
}

// fieldOrder checks that key may come as field number n (0-based) after
// the fields in seen: t first, m second, n third if at all, s last.
func fieldOrder(key string, n int, seen map[string]bool) error {
	switch {
	case n == 0:
		if key != "t" {
			return malformedf("missing field t (terminal ID) first, found %s=", key)
		}
	case n == 1:
		if key != "m" {
			return malformedf("missing field m (bound number) second, found %s=", key)
		}
	case key == "t" || key == "m":
		return malformedf("field %s out of order", key)
	case key == "n" && n != 2:
		return malformedf("field n must come right after m")
	}
	return nil
}

// TerminalOf returns the terminal ID a text's first token candidate names
// ("BP1 t=<id>"), even when the rest of that token is malformed, or "" when
// there is none. The acceptance rules use it to tell a confirmation for
// this terminal whose grammar the agent does not understand (held for the
// platform's word) from a foreign SMS (deleted).
func TerminalOf(text string) string {
	for from := 0; from < len(text); {
		i := strings.Index(text[from:], magic)
		if i < 0 {
			return ""
		}
		at := from + i
		from = at + len(magic)
		if !isCandidate(text, at) {
			continue
		}
		rest, ok := strings.CutPrefix(text[at+len(magic):], " t=")
		if !ok {
			continue
		}
		end := 0
		for end < len(rest) && isValueByte(rest[end]) {
			end++
		}
		if end > 0 {
			return rest[:end]
		}
	}
	return ""
}

// keyAt reports whether text[pos:] starts with `key=`, and returns the key
// and the offset of its value.
func keyAt(text string, pos int) (key string, value int, ok bool) {
	end := pos
	for end < len(text) && (isAlnum(text[end]) || text[end] == '_') {
		end++
	}
	if end == pos || end >= len(text) || text[end] != '=' {
		return "", 0, false
	}
	return text[pos:end], end + 1, true
}

// isSigChar reports whether c is in the base64url alphabet.
func isSigChar(c byte) bool { return isAlnum(c) || c == '-' || c == '_' }

func isValueByte(c byte) bool { return c > ' ' && c < 0x7f }

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func malformedf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}
