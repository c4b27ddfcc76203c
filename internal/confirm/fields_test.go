package confirm_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"bindpay/internal/confirm"
)

func TestFieldChecks(t *testing.T) {
	tests := []struct {
		name  string
		check func(string) error
		in    string
		ok    bool
	}{
		{"tid", confirm.CheckTerminalID, "STB0012345678", true},
		{"tid dash underscore", confirm.CheckTerminalID, "a-b_C9", true},
		{"tid 32", confirm.CheckTerminalID, strings.Repeat("A", 32), true},
		{"tid 33", confirm.CheckTerminalID, strings.Repeat("A", 33), false},
		{"tid empty", confirm.CheckTerminalID, "", false},
		{"tid space", confirm.CheckTerminalID, "STB 1", false},
		{"tid newline", confirm.CheckTerminalID, "STB1\n", false},
		{"tid slash", confirm.CheckTerminalID, "../x", false},
		{"sms_to", confirm.CheckSMSTo, "10658000", true},
		{"sms_to intl", confirm.CheckSMSTo, "+8610658000", true},
		{"sms_to short", confirm.CheckSMSTo, "12", false},
		{"sms_to premium with letters", confirm.CheckSMSTo, "1065x", false},
		{"sms_to 21", confirm.CheckSMSTo, strings.Repeat("1", 21), false},
		{"sms_to comma", confirm.CheckSMSTo, "10658000,1", false},
		{"msisdn masked", confirm.CheckMaskedMSISDN, "138****8000", true},
		{"msisdn newline", confirm.CheckMaskedMSISDN, "138****8000\nREADY=1", false},
		{"msisdn letters", confirm.CheckMaskedMSISDN, "abc", false},
		{"nonce", confirm.CheckNonce, "q8x3k2", true},
		{"nonce 64", confirm.CheckNonce, strings.Repeat("n", 64), true},
		{"nonce 65", confirm.CheckNonce, strings.Repeat("n", 65), false},
		{"nonce dot", confirm.CheckNonce, "q8.x", false},
		{"body", confirm.CheckSMSBody, "BIND STB0012345678", true},
		{"body chinese", confirm.CheckSMSBody, "绑定 STB0012345678", true},
		{"body ideographic space", confirm.CheckSMSBody, "绑定\u3000STB1", true},
		{"body 160", confirm.CheckSMSBody, strings.Repeat("绑", 160), true},
		{"body 161", confirm.CheckSMSBody, strings.Repeat("a", 161), false},
		{"body empty", confirm.CheckSMSBody, "", false},
		{"body newline", confirm.CheckSMSBody, "BIND X\nREADY=1", false},
		{"body tab", confirm.CheckSMSBody, "BIND\tX", false},
		{"body escape", confirm.CheckSMSBody, "BIND \x1b[2J", false},
		{"body bidi override", confirm.CheckSMSBody, "BIND \u202eX", false},
		{"body invalid utf8", confirm.CheckSMSBody, "BIND \xff", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.check(tc.in)
			if tc.ok {
				assert.NoError(t, err, "check(%q)", tc.in)
				return
			}
			if assert.Error(t, err, "check(%q): accepted, want an error", tc.in) {
				assert.NotContains(t, err.Error(), "\n", "the error must stay on one line")
			}
		})
	}
}
