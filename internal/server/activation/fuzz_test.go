package activation

import (
	"strings"
	"testing"
)

// FuzzParseMO: any text parses without panic; an accepted request has a
// non-empty terminal ID without white space and a lower-case nonce, and
// re-parsing its canonical form gives it back.
func FuzzParseMO(f *testing.F) {
	for _, s := range []string{"BIND STB0012345678", "  bind   stb1  ", "Bind STB1 Q8X3K2", "BIND", "hello", "BIND a b c", "BIND\u3000STB1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		r, ok := ParseMO(text)
		if !ok {
			return
		}
		if r.TerminalID == "" || strings.ContainsFunc(r.TerminalID, isSpace) || r.Nonce != strings.ToLower(r.Nonce) {
			t.Fatalf("ParseMO(%q) = %+v", text, r)
		}
		canon := "BIND " + r.TerminalID
		if r.Nonce != "" {
			canon += " " + r.Nonce
		}
		if again, ok := ParseMO(canon); !ok || again != r {
			t.Fatalf("ParseMO(%q) = %+v, %v; want %+v", canon, again, ok, r)
		}
	})
}

func isSpace(r rune) bool { return strings.TrimSpace(string(r)) == "" }
