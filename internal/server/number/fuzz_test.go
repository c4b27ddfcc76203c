package number

import (
	"strings"
	"testing"
)

// FuzzE164: E164 is idempotent, its result starts with '+' and has 8 to 15
// digits, and Mask of it never shows more than 7 of its digits.
func FuzzE164(f *testing.F) {
	for _, s := range []string{"13800138000", "+8613800138000", "008613800138000", "+447700900123", "10658000", "BindPay", "", "+"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := E164(s)
		if err != nil {
			return
		}
		d := strings.TrimPrefix(n, "+")
		if !strings.HasPrefix(n, "+") || len(d) < 8 || len(d) > 15 || strings.Trim(d, "0123456789") != "" {
			t.Fatalf("E164(%q) = %q", s, n)
		}
		if again, err := E164(n); err != nil || again != n {
			t.Fatalf("E164(%q) = %q, %v; want %q", n, again, err, n)
		}
		if m := Mask(n); strings.Count(m, "*") != 4 || len(m)-4 > 7 {
			t.Fatalf("Mask(%q) = %q", n, m)
		}
	})
}
