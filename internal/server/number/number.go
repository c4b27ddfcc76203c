// Package number puts phone numbers into the two forms the platform uses:
// E.164 ("+8613800138000"), the only form stored, and the masked form
// ("138****8000"), the only form that ever goes to a terminal or into a
// log line or audit detail. Pure functions, no state.
package number

import (
	"errors"
	"fmt"
	"strings"

	"bindpay/internal/confirm"
)

// ErrNotPhone: the input is not a phone number that can pay or receive SMS.
var ErrNotPhone = errors.New("not a phone number")

// E164 returns s in E.164. A Chinese mobile number written nationally
// ("13800138000", "138-0013-8000") or with 86/+86/0086 gets "+86"; an
// international number ("+447700900123", "0044…") keeps its country code.
// Anything else (a service code, a landline without a country code, a
// name, 7 or more than 15 digits) is ErrNotPhone.
func E164(s string) (string, error) {
	n := confirm.NormalizeNumber(s)
	digits := strings.TrimPrefix(n, "+")
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return "", fmt.Errorf("%w: %q", ErrNotPhone, s)
	}
	switch {
	case strings.HasPrefix(n, "+"):
		if len(digits) < 8 || len(digits) > 15 {
			return "", fmt.Errorf("%w: %q: an international number has 8 to 15 digits", ErrNotPhone, s)
		}
		return n, nil
	case len(digits) == 11 && digits[0] == '1':
		return "+86" + digits, nil
	default:
		return "", fmt.Errorf("%w: %q: want a mobile number (13800138000) or +<country code><number>", ErrNotPhone, s)
	}
}

// Mask returns the masked form of a number: the national number's first 3
// and last 4 digits around 4 stars ("+8613800138000" → "138****8000").
// National means without +86; another country's number keeps its country
// code digits in the first 3. Numbers of fewer than 8 digits show only
// their last 4 (or nothing).
func Mask(s string) string {
	d := strings.TrimPrefix(confirm.NormalizeNumber(s), "+")
	switch {
	case len(d) >= 8:
		return d[:3] + "****" + d[len(d)-4:]
	case len(d) > 4:
		return "****" + d[len(d)-4:]
	default:
		return "****"
	}
}
