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
// (config sms.senders), under DESIGN.md's acceptance rule 1:
//
//   - a numeric entry matches a numeric sender whose normalised number is
//     the same, never an alphanumeric sender (type of number 5), even one
//     whose name is spelled in digits;
//   - an entry ending in '*' matches a numeric sender whose normalised
//     number starts with the entry's normalised digits (an SP code with
//     extensions: "10658000*" allows "1065800012");
//   - an entry with letters matches an alphanumeric sender of exactly that
//     name (case-sensitive).
//
// The zero Allowlist allows nobody.
type Allowlist struct {
	numbers  []string // normalised numeric entries, without duplicates
	prefixes []string // normalised digits of '*' entries
	names    []string // alphanumeric entries, trimmed
}

// NewAllowlist builds an Allowlist from configured sender numbers, number
// prefixes ending in '*', or alphanumeric sender names. It returns
// ErrEmptyAllowlist when numbers has no non-blank entry, since then no
// confirmation could ever be accepted, and an error naming the entry when
// one is blank, only separators, or a prefix that is not digits.
func NewAllowlist(numbers []string) (Allowlist, error) {
	if !slices.ContainsFunc(numbers, func(n string) bool { return strings.TrimSpace(n) != "" }) {
		return Allowlist{}, ErrEmptyAllowlist
	}
	var a Allowlist
	add := func(list *[]string, v string) {
		if !slices.Contains(*list, v) {
			*list = append(*list, v)
		}
	}
	for i, n := range numbers {
		if p, ok := strings.CutSuffix(strings.TrimSpace(n), "*"); ok {
			norm := normalizePrefix(p)
			if norm == "" || !isNumber(norm) {
				return Allowlist{}, fmt.Errorf("sms sender allowlist entry %d (%q): a prefix entry must be digits followed by '*', such as \"10658000*\"", i+1, n)
			}
			add(&a.prefixes, norm)
			continue
		}
		norm := NormalizeNumber(n)
		switch {
		case norm == "":
			return Allowlist{}, fmt.Errorf("sms sender allowlist entry %d (%q): not a number or sender name", i+1, n)
		case isNumber(norm):
			add(&a.numbers, norm)
		default:
			add(&a.names, norm)
		}
	}
	return a, nil
}

// normalizePrefix normalises the digits of a '*' entry: separators go and
// an explicit international prefix of China ("+86", "0086") is removed; a
// bare "86" is kept, since a prefix is too short to tell it from digits.
func normalizePrefix(p string) string {
	n := NormalizeNumber(p)
	if rest, ok := strings.CutPrefix(n, "+86"); ok && rest != "" {
		return rest
	}
	return n
}

// isNumber reports whether a normalised string is a number: digits,
// optionally after one '+'.
func isNumber(s string) bool {
	s = strings.TrimPrefix(s, "+")
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Allows reports whether an SMS from sender may confirm a binding.
// alphanumeric is set when the sender's address is alphanumeric (type of
// number 5): such a sender matches only a name entry, whatever its text.
func (a Allowlist) Allows(sender string, alphanumeric bool) bool {
	if alphanumeric {
		return slices.Contains(a.names, strings.TrimSpace(sender))
	}
	n := NormalizeNumber(sender)
	if !isNumber(n) {
		// A numeric address that is not a number (a modem's or a network's
		// oddity) matches a name entry at most.
		return n != "" && slices.Contains(a.names, n)
	}
	if slices.Contains(a.numbers, n) {
		return true
	}
	return slices.ContainsFunc(a.prefixes, func(p string) bool { return strings.HasPrefix(n, p) })
}
