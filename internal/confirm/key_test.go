package confirm_test

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bindpay/internal/confirm"
)

type parseKeyCase struct {
	name string
	in   string
	want string // hex of the key; "" when an error is expected
	msg  string // part of the error message
}

var parseKeyCases = []parseKeyCase{
	{name: "plain", in: vecKeyHex, want: vecKeyHex},
	{name: "final newline", in: vecKeyHex + "\n", want: vecKeyHex},
	{name: "crlf", in: vecKeyHex + "\r\n", want: vecKeyHex},
	{name: "surrounding whitespace", in: " \t\n" + vecKeyHex + " \n\n", want: vecKeyHex},
	{name: "uppercase", in: strings.ToUpper(vecKeyHex), want: vecKeyHex},
	{name: "empty", in: "", msg: "empty"},
	{name: "only whitespace", in: " \n", msg: "empty"},
	{name: "63 digits", in: vecKeyHex[:63], msg: "63 hex digits, want 64"},
	{name: "65 digits", in: vecKeyHex + "0", msg: "65 hex digits, want 64"},
	{name: "128 digits", in: vecKeyHex + vecKeyHex, msg: "128 hex digits"},
	{name: "non-hex letter", in: "g" + vecKeyHex[1:], msg: "byte 1 is not a hex digit"},
	{name: "inner space", in: vecKeyHex[:32] + " " + vecKeyHex[32:], msg: "byte 33 is not a hex digit"},
	{name: "two lines", in: vecKeyHex[:32] + "\n" + vecKeyHex[32:], msg: "not a hex digit"},
	{name: "0x prefix", in: "0x" + vecKeyHex, msg: "byte 2 is not a hex digit"},
	{name: "base64", in: "glg9O3fTzdv1GDrDz0Wqqrnt", msg: "not a hex digit"},
	{name: "chinese", in: "密钥", msg: "byte 1 is not a hex digit"},
}

func TestParseKey(t *testing.T) {
	for _, tc := range parseKeyCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := confirm.ParseKey([]byte(tc.in))
			if tc.want == "" {
				require.ErrorIs(t, err, confirm.ErrBadKey, "ParseKey(%q): got %x, err %v; want ErrBadKey", tc.in, got, err)
				assert.Contains(t, err.Error(), tc.msg, "ParseKey(%q): error %q should say %q", tc.in, err, tc.msg)
				assert.NotContains(t, err.Error(), vecKeyHex[:16], "ParseKey(%q): the error echoes key material", tc.in)
				assert.Nil(t, got)
				return
			}
			require.NoError(t, err, "ParseKey(%q)", tc.in)
			assert.Equal(t, tc.want, hex.EncodeToString(got), "ParseKey(%q)", tc.in)
		})
	}
}

func TestVerifyRequest(t *testing.T) {
	key := vecKey(t)
	tests := []struct {
		name                      string
		key                       []byte
		method, path, date, authz string
		want                      bool
	}{
		{name: "vector", key: key, method: vecMethod, path: vecPath, date: vecDate, authz: vecAuthzHdr, want: true},
		{name: "uppercase hex", key: key, method: vecMethod, path: vecPath, date: vecDate, authz: "BPH1 " + strings.ToUpper(vecReqSig), want: true},
		{name: "wrong key", key: confirm.DeriveKey([]byte("x"), vecTID), method: vecMethod, path: vecPath, date: vecDate, authz: vecAuthzHdr},
		{name: "empty key", key: nil, method: vecMethod, path: vecPath, date: vecDate, authz: vecAuthzHdr},
		{name: "other method", key: key, method: "POST", path: vecPath, date: vecDate, authz: vecAuthzHdr},
		{name: "other path", key: key, method: vecMethod, path: vecPath + "?x=1", date: vecDate, authz: vecAuthzHdr},
		{name: "other date", key: key, method: vecMethod, path: vecPath, date: "2026-11-25T20:00:01Z", authz: vecAuthzHdr},
		{name: "missing scheme", key: key, method: vecMethod, path: vecPath, date: vecDate, authz: vecReqSig},
		{name: "other scheme", key: key, method: vecMethod, path: vecPath, date: vecDate, authz: "Bearer " + vecReqSig},
		{name: "truncated", key: key, method: vecMethod, path: vecPath, date: vecDate, authz: vecAuthzHdr[:len(vecAuthzHdr)-2]},
		{name: "non-hex", key: key, method: vecMethod, path: vecPath, date: vecDate, authz: "BPH1 " + strings.Repeat("z", 64)},
		{name: "empty", key: key, method: vecMethod, path: vecPath, date: vecDate, authz: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := confirm.VerifyRequest(tc.key, tc.method, tc.path, tc.date, tc.authz)
			assert.Equal(t, tc.want, got, "VerifyRequest(%q, %q, %q, %q): got %v, want %v", tc.method, tc.path, tc.date, tc.authz, got, tc.want)
		})
	}
}
