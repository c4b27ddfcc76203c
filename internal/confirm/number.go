package confirm

import (
	"fmt"
	"slices"
	"strings"
)

// NormalizeNumber puts an SMS sender or allowlist entry into the form used
// to compare them, so that the several ways a network writes the same
// Chinese number compare equal:
//
//  1. Surrounding whitespace is trimmed.
//  2. Spaces, '-', '(' and ')' are removed. If what is left is not ASCII
//     digits, optionally after one leading '+', the input is not a phone
//     number (an alphanumeric sender such as "BindPay") and is returned
//     trimmed but otherwise unchanged; since it keeps a character that no
//     number has, it never equals a normalised number.
//  3. A leading "00" followed by digits is the international prefix and
//     becomes '+' ("0044…" → "+44…"); a Chinese national number never
//     starts with "00".
//  4. The country code 86 — written "+86", "0086" or a bare "86" — is
//     removed when what follows starts with '1' and has at least 5 digits:
//     mobile numbers ("+8613800138000" → "13800138000") and 1xxxx service
//     codes ("+8610658000" → "10658000"). Otherwise an international number
//     keeps its '+' ("+447700900123", "+862112345678") and a national one
//     stays as its digits ("10658000", "95555", "02112345678").
//  5. Nothing but separators (or a lone '+') gives "".
//
// NormalizeNumber is idempotent. Landline numbers written with and without
// +86 do not compare equal ("+862112345678" vs "02112345678"); confirmation
// SMS come from mobile numbers and service codes.
func NormalizeNumber(s string) string {
	s = strings.TrimSpace(s)
	var (
		digits = make([]byte, 0, len(s))
		plus   bool
	)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == ' ' || c == '-' || c == '(' || c == ')':
		case c >= '0' && c <= '9':
			digits = append(digits, c)
		case c == '+' && !plus && len(digits) == 0:
			plus = true
		default:
			return s
		}
	}
	d := string(digits)
	if !plus && len(d) > 2 && strings.HasPrefix(d, "00") {
		plus, d = true, d[2:]
	}
	if rest, ok := strings.CutPrefix(d, "86"); ok && len(rest) >= 5 && rest[0] == '1' {
		return rest
	}
	if plus && d != "" {
		return "+" + d
	}
	return d
}

// Allowlist is the set of senders whose SMS may confirm a binding
// (config sms.senders). The zero Allowlist allows nobody.
type Allowlist struct {
	numbers []string // normalised, without duplicates
}

// NewAllowlist builds an Allowlist from configured sender numbers (or
// alphanumeric sender names). It returns ErrEmptyAllowlist when numbers has
// no non-blank entry, since then no confirmation could ever be accepted, and
// an error naming the entry when one is blank or only separators.
func NewAllowlist(numbers []string) (Allowlist, error) {
	if !slices.ContainsFunc(numbers, func(n string) bool { return strings.TrimSpace(n) != "" }) {
		return Allowlist{}, ErrEmptyAllowlist
	}
	var a Allowlist
	for i, n := range numbers {
		norm := NormalizeNumber(n)
		if norm == "" {
			return Allowlist{}, fmt.Errorf("sms sender allowlist entry %d (%q): not a number or sender name", i+1, n)
		}
		if !slices.Contains(a.numbers, norm) {
			a.numbers = append(a.numbers, norm)
		}
	}
	return a, nil
}

// Allows reports whether sender, normalised, equals a normalised entry. An
// alphanumeric sender matches only the same name (case-sensitive), never a
// number.
func (a Allowlist) Allows(sender string) bool {
	n := NormalizeNumber(sender)
	return n != "" && slices.Contains(a.numbers, n)
}
