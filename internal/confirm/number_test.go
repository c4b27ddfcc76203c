package confirm_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bindpay/internal/confirm"
)

var normalizeCases = []struct {
	name, in, want string
}{
	{"plus86 mobile", "+8613800138000", "13800138000"},
	{"0086 mobile", "008613800138000", "13800138000"},
	{"bare 86 mobile", "8613800138000", "13800138000"},
	{"national mobile", "13800138000", "13800138000"},
	{"spaced mobile", "138 0013 8000", "13800138000"},
	{"dashed plus86 mobile", "+86-138-0013-8000", "13800138000"},
	{"parenthesised country code", "(+86) 138 0013 8000", "13800138000"},
	{"surrounding whitespace", " \t13800138000\n", "13800138000"},
	{"service code", "10658000", "10658000"},
	{"plus86 service code", "+8610658000", "10658000"},
	{"bare 86 service code", "8610658000", "10658000"},
	{"0086 service code", "0086 10658000", "10658000"},
	{"long 106 code", "+86106575250001234", "106575250001234"},
	{"short code", "95555", "95555"},
	{"plus86 short code not starting with 1", "+8695555", "+8695555"},
	{"86 then too short", "861234", "861234"},
	{"plus86 then too short", "+861234", "+861234"},
	{"plus86 landline", "+86 21 1234 5678", "+862112345678"},
	{"national landline", "021-1234-5678", "02112345678"},
	{"uk mobile", "+447700900123", "+447700900123"},
	{"uk mobile via 00", "0044 7700 900123", "+447700900123"},
	{"00 only", "00", "00"},
	{"alphanumeric", "BindPay", "BindPay"},
	{"alphanumeric trimmed", "  BindPay \n", "BindPay"},
	{"alphanumeric with space kept", "Bind Pay", "Bind Pay"},
	{"digits and letters", "10658000a", "10658000a"},
	{"plus inside", "86+13800138000", "86+13800138000"},
	{"two pluses", "++8613800138000", "++8613800138000"},
	{"full-width digits", "１３８００１３８０００", "１３８００１３８０００"},
	{"empty", "", ""},
	{"only separators", " -() ", ""},
	{"lone plus", "+", ""},
}

func TestNormalizeNumber(t *testing.T) {
	for _, tc := range normalizeCases {
		t.Run(tc.name, func(t *testing.T) {
			got := confirm.NormalizeNumber(tc.in)
			assert.Equal(t, tc.want, got, "NormalizeNumber(%q): got %q, want %q", tc.in, got, tc.want)
			again := confirm.NormalizeNumber(got)
			assert.Equal(t, got, again, "NormalizeNumber not idempotent on %q: %q then %q", tc.in, got, again)
		})
	}
}

func TestNewAllowlistErrors(t *testing.T) {
	tests := []struct {
		name    string
		in      []string
		isEmpty bool
		msg     string
	}{
		{name: "nil", in: nil, isEmpty: true},
		{name: "no entries", in: []string{}, isEmpty: true},
		{name: "all blank", in: []string{"", " ", "\t\n"}, isEmpty: true},
		{name: "blank among numbers", in: []string{"10658000", ""}, msg: `entry 2 ("")`},
		{name: "only separators", in: []string{"10658000", "+86 13800138000", " - "}, msg: `entry 3 (" - ")`},
		{name: "lone plus", in: []string{"+"}, msg: `entry 1 ("+")`},
		{name: "bare star", in: []string{"*"}, msg: `entry 1 ("*")`},
		{name: "prefix with letters", in: []string{"BIND*"}, msg: `a prefix entry must be digits`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := confirm.NewAllowlist(tc.in)
			require.Error(t, err, "NewAllowlist(%q)", tc.in)
			if tc.isEmpty {
				assert.ErrorIs(t, err, confirm.ErrEmptyAllowlist, "NewAllowlist(%q)", tc.in)
				return
			}
			assert.NotErrorIs(t, err, confirm.ErrEmptyAllowlist, "NewAllowlist(%q)", tc.in)
			assert.Contains(t, err.Error(), tc.msg, "NewAllowlist(%q): error %q should name the entry", tc.in, err)
		})
	}
}

func TestAllowlistAllows(t *testing.T) {
	tests := []struct {
		name    string
		entries []string
		sender  string
		alpha   bool // the sender's type of number is alphanumeric (5)
		want    bool
	}{
		{name: "service code", entries: []string{"10658000"}, sender: "10658000", want: true},
		{name: "service code with +86", entries: []string{"10658000"}, sender: "+8610658000", want: true},
		{name: "entry with +86", entries: []string{"+8610658000"}, sender: "10658000", want: true},
		{name: "other service code", entries: []string{"10658000"}, sender: "10658001"},
		{name: "mobile +86", entries: []string{"13800138000"}, sender: "+8613800138000", want: true},
		{name: "mobile 0086", entries: []string{"13800138000"}, sender: "008613800138000", want: true},
		{name: "mobile 86", entries: []string{"13800138000"}, sender: "8613800138000", want: true},
		{name: "mobile spaced", entries: []string{"+86 138 0013 8000"}, sender: "138-0013-8000", want: true},
		{name: "second entry", entries: []string{"10658000", "13800138000"}, sender: "+8613800138000", want: true},
		{name: "foreign number", entries: []string{"13800138000"}, sender: "+4413800138000"},
		{name: "extension without a prefix entry", entries: []string{"10658000"}, sender: "1065800012"},

		{name: "TON 5 spelled as the short code", entries: []string{"10658000"}, sender: "10658000", alpha: true},
		{name: "TON 5 spelled as the mobile", entries: []string{"13800138000"}, sender: "+8613800138000", alpha: true},
		{name: "TON 5 vs prefix entry", entries: []string{"10658000*"}, sender: "1065800012", alpha: true},
		{name: "alphanumeric sender vs numeric entries", entries: []string{"10658000", "13800138000"}, sender: "BindPay", alpha: true},
		{name: "alphanumeric sender spelled like a number", entries: []string{"10658000"}, sender: "1065800O", alpha: true},
		{name: "alphanumeric entry", entries: []string{"BindPay"}, sender: " BindPay ", alpha: true, want: true},
		{name: "alphanumeric entry is case-sensitive", entries: []string{"BindPay"}, sender: "BINDPAY", alpha: true},
		{name: "alphanumeric entry vs number", entries: []string{"BindPay"}, sender: "10658000"},

		{name: "prefix: the code itself", entries: []string{"10658000*"}, sender: "10658000", want: true},
		{name: "prefix: with extension", entries: []string{"10658000*"}, sender: "1065800012", want: true},
		{name: "prefix: with +86 and extension", entries: []string{"10658000*"}, sender: "+861065800012", want: true},
		{name: "prefix entry written with +86", entries: []string{"+8610658000*"}, sender: "1065800099", want: true},
		{name: "prefix: other code", entries: []string{"10658000*"}, sender: "10658001"},
		{name: "prefix: shorter", entries: []string{"10658000*"}, sender: "1065800"},

		{name: "empty sender", entries: []string{"10658000"}, sender: ""},
		{name: "separator sender", entries: []string{"10658000"}, sender: " - "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := confirm.NewAllowlist(tc.entries)
			require.NoError(t, err, "NewAllowlist(%q)", tc.entries)
			got := a.Allows(tc.sender, tc.alpha)
			assert.Equal(t, tc.want, got, "allowlist %q, Allows(%q, alphanumeric %v): got %v, want %v", tc.entries, tc.sender, tc.alpha, got, tc.want)
		})
	}
}

func TestZeroAllowlistAllowsNobody(t *testing.T) {
	var a confirm.Allowlist
	for _, s := range []string{"", "10658000", "BindPay"} {
		assert.False(t, a.Allows(s, false), "zero Allowlist, Allows(%q) = true, want false", s)
		assert.False(t, a.Allows(s, true), "zero Allowlist, Allows(%q, alphanumeric) = true, want false", s)
	}
}
