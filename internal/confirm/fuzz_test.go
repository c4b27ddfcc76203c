package confirm_test

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bindpay/internal/confirm"
)

// checkRoundTrip asserts the properties every token that parsed must have:
// String reproduces it, it parses back equal, Find locates it inside an SMS,
// and signing and verifying it agree.
func checkRoundTrip(t *testing.T, tok confirm.Token) {
	t.Helper()
	s := tok.String()
	assert.True(t, strings.HasPrefix(s, tok.SignedText()), "String %q does not start with SignedText %q", s, tok.SignedText())

	back, err := confirm.Parse(s)
	require.NoError(t, err, "Parse(String()) of %+v: String is %q", tok, s)
	require.Equal(t, tok, back, "Parse(%q)", s)

	for _, text := range []string{
		s,
		s + "\n",
		"【号码绑定支付】终端已开通。" + s + "。请勿回复。",
		"Activated: " + s + " Reply TD to stop\r\n",
	} {
		found, err := confirm.Find(text)
		require.NoError(t, err, "Find(%q)", text)
		require.Equal(t, tok, found, "Find(%q)", text)
	}

	key := []byte("fuzz key")
	signed := confirm.Sign(key, tok)
	require.True(t, confirm.Verify(key, signed), "Verify(Sign(%+v))", tok)
	reparsed, err := confirm.Parse(signed.String())
	require.NoError(t, err, "Parse of signed %q", signed.String())
	require.True(t, confirm.Verify(key, reparsed), "Verify after Parse of signed %q", signed.String())
	require.False(t, confirm.Verify([]byte("other key"), reparsed), "Verify with another key of %q", signed.String())
}

// hasStandaloneBP1 reports whether "BP1" occurs in s with no ASCII letter
// or digit right before or after it.
func hasStandaloneBP1(s string) bool {
	alnum := func(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	for i := 0; i+3 <= len(s); i++ {
		if s[i:i+3] == "BP1" && (i == 0 || !alnum(s[i-1])) && (i+3 == len(s) || !alnum(s[i+3])) {
			return true
		}
	}
	return false
}

func checkTokenError(t *testing.T, fn, in string, err error) {
	t.Helper()
	if !errors.Is(err, confirm.ErrNoToken) && !errors.Is(err, confirm.ErrMalformed) {
		t.Fatalf("%s(%q): error %v is neither ErrNoToken nor ErrMalformed", fn, in, err)
	}
}

func FuzzParse(f *testing.F) {
	for _, tc := range findCases {
		f.Add(tc.text)
	}
	f.Add(vecToken)
	f.Add("BP1 t=A m=B")
	f.Add("  BP1 m=B t=A n=C s=D\n")
	f.Fuzz(func(t *testing.T, in string) {
		tok, err := confirm.Parse(in)
		if err != nil {
			checkTokenError(t, "Parse", in, err)
			return
		}
		require.Equal(t, strings.TrimSpace(in), tok.String(), "Parse(%q).String()", in)
		checkRoundTrip(t, tok)
	})
}

func FuzzFind(f *testing.F) {
	for _, tc := range findCases {
		f.Add(tc.text)
	}
	f.Fuzz(func(t *testing.T, in string) {
		tok, err := confirm.Find(in)
		if err != nil {
			checkTokenError(t, "Find", in, err)
			if errors.Is(err, confirm.ErrNoToken) {
				require.False(t, hasStandaloneBP1(in), "Find(%q): ErrNoToken although \"BP1\" stands on its own", in)
			}
			return
		}
		require.Contains(t, in, tok.String(), "Find(%q) returned %q, which is not in the text", in, tok.String())
		checkRoundTrip(t, tok)
	})
}

func FuzzNormalizeNumber(f *testing.F) {
	for _, tc := range normalizeCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got := confirm.NormalizeNumber(in)
		again := confirm.NormalizeNumber(got)
		require.Equal(t, got, again, "NormalizeNumber(%q) = %q, but NormalizeNumber(%q) = %q", in, got, got, again)
		if got != strings.TrimSpace(in) {
			// Only numbers are rewritten, into [+]digits.
			require.NotContains(t, strings.TrimPrefix(got, "+"), "+", "NormalizeNumber(%q) = %q", in, got)
			require.Equal(t, "", strings.Trim(got, "+0123456789"), "NormalizeNumber(%q) = %q, want [+]digits", in, got)
		}
		if got == "" || strings.HasSuffix(strings.TrimSpace(in), "*") {
			return // nothing to allow, or a prefix entry
		}
		a, err := confirm.NewAllowlist([]string{in})
		require.NoError(t, err, "NewAllowlist([%q])", in)
		digits := strings.TrimPrefix(got, "+")
		name := digits == "" || strings.Trim(digits, "0123456789") != ""
		require.True(t, a.Allows(in, name), "allowlist of %q does not allow %q", in, in)
		require.True(t, a.Allows(got, name), "allowlist of %q does not allow its normal form %q", in, got)
		if !name {
			require.False(t, a.Allows(got, true), "allowlist of number %q allows the alphanumeric sender %q", in, got)
		}
	})
}

func FuzzParseKey(f *testing.F) {
	for _, tc := range parseKeyCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		key, err := confirm.ParseKey(in)
		if err != nil {
			require.ErrorIs(t, err, confirm.ErrBadKey, "ParseKey(%q)", in)
			return
		}
		require.Len(t, key, 32, "ParseKey(%q)", in)
		require.Equal(t, strings.ToLower(strings.TrimSpace(string(in))), hex.EncodeToString(key), "ParseKey(%q)", in)
	})
}
