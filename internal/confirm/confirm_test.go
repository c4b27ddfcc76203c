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

// The test vector of DESIGN.md, "SMS platform → terminal".
const (
	vecMaster   = "example master key"
	vecTID      = "STB0012345678"
	vecKeyHex   = "82583d3b77d3cddbf5183ac3cf45aaaab9c750d470e3ce8a292ca6a49900e1c8"
	vecSigned   = "BP1 t=STB0012345678 m=138****8000 n=q8x3k2"
	vecSig      = "FWC0YGwf5vt1dIPLmlT2ww"
	vecToken    = vecSigned + " s=" + vecSig
	vecSMS      = "【号码绑定支付】终端STB0012345678已开通，绑定号码138****8000。" + vecToken
	vecMethod   = "GET"
	vecPath     = "/v1/terminals/STB0012345678/binding"
	vecDate     = "2026-11-25T20:00:00Z"
	vecReqSig   = "e02d9e3db23cba259f85417f465b95c5f4c007c83355bd14d0dc0a877724de3a"
	vecAuthzHdr = "BPH1 " + vecReqSig
)

var vecFields = confirm.Token{TerminalID: vecTID, MSISDN: "138****8000", Nonce: "q8x3k2", Sig: vecSig}

func vecKey(t testing.TB) []byte {
	t.Helper()
	k, err := hex.DecodeString(vecKeyHex)
	require.NoError(t, err)
	return k
}

// fields strips what Parse/Find remember about the received text, so tokens
// can be compared by their fields.
func fields(t confirm.Token) confirm.Token {
	return confirm.Token{TerminalID: t.TerminalID, MSISDN: t.MSISDN, Nonce: t.Nonce, Sig: t.Sig}
}

func TestVectors(t *testing.T) {
	key := confirm.DeriveKey([]byte(vecMaster), vecTID)
	assert.Equal(t, vecKeyHex, hex.EncodeToString(key), "DeriveKey(%q, %q)", vecMaster, vecTID)
	assert.Len(t, key, 32)

	signed := confirm.Sign(key, confirm.Token{TerminalID: vecTID, MSISDN: "138****8000", Nonce: "q8x3k2"})
	assert.Equal(t, vecSig, signed.Sig, "Sign: got Sig %q, want %q", signed.Sig, vecSig)
	assert.Equal(t, vecToken, signed.String(), "String of the signed token")

	tok, err := confirm.Parse(vecToken)
	require.NoError(t, err, "Parse(%q)", vecToken)
	assert.True(t, confirm.Verify(key, tok), "Verify(vector key, %q) = false, want true", vecToken)

	got := confirm.RequestSignature(key, vecMethod, vecPath, vecDate)
	assert.Equal(t, vecReqSig, got, "RequestSignature(%q, %q, %q)", vecMethod, vecPath, vecDate)
	assert.Equal(t, vecAuthzHdr, confirm.AuthorizationHeader(key, vecMethod, vecPath, vecDate))
}

func TestAnswerVectors(t *testing.T) {
	key := vecKey(t)
	for _, tc := range []struct{ name, body, want string }{
		{"not bound", `{"terminal_id":"STB0012345678","bound":false,"activation":{"sms_to":"10658000","sms_body":"BIND STB0012345678","nonce":"q8x3k2"}}`,
			"BPH1 e8f8e9d40da71661f9dfd9c32452b49d3230cf203bc2a17b5616ee0533ec7e63"},
		{"bound", `{"terminal_id":"STB0012345678","bound":true,"msisdn":"138****8000","bound_at":"2026-11-25T20:00:00Z","token":"BP1 t=STB0012345678 m=138****8000 n=q8x3k2 s=FWC0YGwf5vt1dIPLmlT2ww"}`,
			"BPH1 53a1a85f96cb20b04b9c3e91f34f93c7e48965c82bc7d9c3c5cab70db6ca2ed2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := confirm.AnswerHeader(key, 200, vecPath, vecDate, []byte(tc.body))
			assert.Equal(t, tc.want, got, "AnswerHeader(200, %q, %q, %d-byte body)", vecPath, vecDate, len(tc.body))
			assert.True(t, confirm.VerifyAnswer(key, 200, vecPath, vecDate, []byte(tc.body), tc.want))
			assert.True(t, confirm.VerifyAnswer(key, 200, vecPath, vecDate, []byte(tc.body), "BPH1 "+strings.ToUpper(tc.want[5:])), "upper-case hex")
			assert.False(t, confirm.VerifyAnswer(key, 404, vecPath, vecDate, []byte(tc.body), tc.want), "other status")
			assert.False(t, confirm.VerifyAnswer(key, 200, vecPath, "2026-11-25T20:00:01Z", []byte(tc.body), tc.want), "other date")
			assert.False(t, confirm.VerifyAnswer(key, 200, vecPath, vecDate, []byte(tc.body+" "), tc.want), "body with a byte more")
			assert.False(t, confirm.VerifyAnswer(nil, 200, vecPath, vecDate, []byte(tc.body), tc.want), "no key")
			assert.False(t, confirm.VerifyAnswer(key, 200, vecPath, vecDate, []byte(tc.body), tc.want[5:]), "no scheme")
		})
	}
}

type findCase struct {
	name   string
	text   string
	want   confirm.Token // compared by fields
	signed string        // want SignedText; "" to skip
	err    error         // ErrNoToken or ErrMalformed
}

// findCases is shared by TestFind and the FuzzFind/FuzzParse seeds.
var findCases = []findCase{
	{name: "chinese sms", text: vecSMS, want: vecFields, signed: vecSigned},
	{name: "token only", text: vecToken, want: vecFields, signed: vecSigned},
	{name: "trailing newline", text: vecSMS + "\n", want: vecFields},
	{name: "trailing crlf and more", text: vecSMS + "\r\n退订回TD", want: vecFields},
	{name: "trailing chinese", text: vecToken + "。请勿回复。", want: vecFields},
	{name: "trailing english", text: vecToken + " Reply TD to stop.", want: vecFields},
	{name: "second part of concatenated sms", text: "绑定号码138****8000。" + vecToken + " 客服10086", want: vecFields},
	{name: "leading english", text: "Activated: " + vecToken, want: vecFields},
	{name: "after full-width colon", text: "凭证：" + vecToken, want: vecFields},
	{
		name: "no nonce no sig", text: "开通 BP1 t=STB1 m=139****0000。",
		want: confirm.Token{TerminalID: "STB1", MSISDN: "139****0000"}, signed: "BP1 t=STB1 m=139****0000",
	},
	{
		name: "extra field before s is signed", text: "x BP1 t=STB1 m=139****0000 n=q8 v=2 s=" + vecSig + "。",
		want: confirm.Token{TerminalID: "STB1", MSISDN: "139****0000", Nonce: "q8", Sig: vecSig}, signed: "BP1 t=STB1 m=139****0000 n=q8 v=2",
	},
	{
		name: "extra field without nonce", text: "BP1 t=STB1 m=139****0000 x_1=a.b s=" + vecSig,
		want: confirm.Token{TerminalID: "STB1", MSISDN: "139****0000", Sig: vecSig}, signed: "BP1 t=STB1 m=139****0000 x_1=a.b",
	},
	{name: "full stop after s", text: vecToken + ".", want: vecFields, signed: vecSigned},
	{name: "comma and text after s", text: vecToken + ", thanks", want: vecFields, signed: vecSigned},
	{name: "equals after s", text: vecToken + "==", want: vecFields, signed: vecSigned},
	{name: "a field after s is text", text: vecToken + " x=1", want: vecFields, signed: vecSigned},
	{
		name: "value with equals and punctuation", text: "BP1 t=A=B m=1*2 n=x.y_z-",
		want: confirm.Token{TerminalID: "A=B", MSISDN: "1*2", Nonce: "x.y_z-"},
	},
	{name: "first malformed then good", text: "BP1 t=X 然后 " + vecToken, want: vecFields},
	{name: "XBP1 is not a token then good", text: "XBP1 t=A m=B " + vecToken, want: vecFields},
	{name: "double space ends the token", text: "BP1 t=A m=B  n=C", want: confirm.Token{TerminalID: "A", MSISDN: "B"}},

	{name: "empty", text: "", err: confirm.ErrNoToken},
	{name: "plain chinese", text: "您好，欢迎使用。", err: confirm.ErrNoToken},
	{name: "preceded by letter", text: "XBP1 t=A m=B", err: confirm.ErrNoToken},
	{name: "preceded by digit", text: "2BP1 t=A m=B", err: confirm.ErrNoToken},
	{name: "followed by digit", text: "model BP100 ready", err: confirm.ErrNoToken},
	{name: "lowercase", text: "bp1 t=A m=B", err: confirm.ErrNoToken},

	{name: "bare BP1", text: "BP1", err: confirm.ErrMalformed},
	{name: "BP1 and period", text: "see BP1.", err: confirm.ErrMalformed},
	{name: "missing t", text: "BP1 m=138****8000 n=q8x3k2 s=" + vecSig, err: confirm.ErrMalformed},
	{name: "missing m", text: "BP1 t=STB0012345678 n=q8x3k2", err: confirm.ErrMalformed},
	{name: "duplicate t", text: "BP1 t=A t=B m=C", err: confirm.ErrMalformed},
	{name: "duplicate s", text: "BP1 t=A m=C s=x s=y", err: confirm.ErrMalformed},
	{name: "fields reordered", text: "x BP1 n=q8x3k2 m=138****8000 t=STB0012345678 s=" + vecSig, err: confirm.ErrMalformed},
	{name: "m before t", text: "BP1 m=138****8000 t=STB0012345678", err: confirm.ErrMalformed},
	{name: "n after an extra field", text: "BP1 t=A m=B x=1 n=C", err: confirm.ErrMalformed},
	{name: "short sig", text: vecSigned + " s=FWC0YGwf5vt1dIPLmlT2", err: confirm.ErrMalformed},
	{name: "undecodable sig", text: vecSigned + " s=!!!!", err: confirm.ErrMalformed},
	{name: "sig with a 23rd character", text: vecToken + "A", err: confirm.ErrMalformed},
	{name: "sig with a 23rd dash", text: vecToken + "-", err: confirm.ErrMalformed},
	{name: "unknown uppercase key", text: "BP1 T=A m=B", err: confirm.ErrMalformed},
	{name: "empty value", text: "BP1 t= m=B", err: confirm.ErrMalformed},
	{name: "empty value at end", text: "BP1 t=A m=", err: confirm.ErrMalformed},
	{name: "empty sig", text: "BP1 t=A m=B s=", err: confirm.ErrMalformed},
	{name: "s not last", text: "BP1 t=A s=" + vecSig + " m=B", err: confirm.ErrMalformed},
	{name: "no fields", text: "BP1 hello", err: confirm.ErrMalformed},
	{name: "two spaces after BP1", text: "BP1  t=A m=B", err: confirm.ErrMalformed},
	{name: "newline between fields", text: "BP1 t=A\nm=B", err: confirm.ErrMalformed},
	{name: "chinese inside value", text: "BP1 t=STB中 m=B", err: confirm.ErrMalformed},
}

func TestFind(t *testing.T) {
	for _, tc := range findCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := confirm.Find(tc.text)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err, "Find(%q): got token %+v, err %v; want %v", tc.text, got, err, tc.err)
				assert.Equal(t, confirm.Token{}, got, "Find(%q) on error", tc.text)
				return
			}
			require.NoError(t, err, "Find(%q)", tc.text)
			assert.Equal(t, tc.want, fields(got), "Find(%q) fields", tc.text)
			if tc.signed != "" {
				assert.Equal(t, tc.signed, got.SignedText(), "Find(%q).SignedText()", tc.text)
			}
			assert.Contains(t, tc.text, got.String(), "Find(%q).String() is not the received text", tc.text)
		})
	}
}

func TestFindMalformedMessage(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"missing t", "BP1 m=B", "missing field t"},
		{"missing m", "BP1 t=A", "missing field m"},
		{"duplicate", "BP1 t=A t=B m=C", "duplicate field t"},
		{"out of order", "BP1 t=A m=B x=1 n=C", "field n must come right after m"},
		{"empty value", "BP1 t= m=B", "empty value for field t"},
		{"short s", "BP1 t=A m=B s=x", "field s has 1 base64url characters, want 22"},
		{"long s", "BP1 t=A m=B s=" + vecSig + "x", "longer than 22"},
		{"position", "【通知】BP1 t=A", "token at byte 12"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := confirm.Find(tc.text)
			require.ErrorIs(t, err, confirm.ErrMalformed, "Find(%q)", tc.text)
			assert.Contains(t, err.Error(), tc.want, "Find(%q): error %q should say %q", tc.text, err, tc.want)
		})
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want confirm.Token
		err  error
	}{
		{name: "vector", in: vecToken, want: vecFields},
		{name: "surrounding whitespace", in: " \t" + vecToken + "\r\n", want: vecFields},
		{name: "minimal", in: "BP1 t=A m=B", want: confirm.Token{TerminalID: "A", MSISDN: "B"}},
		{name: "empty", in: "", err: confirm.ErrNoToken},
		{name: "blank", in: " \n", err: confirm.ErrNoToken},
		{name: "no BP1", in: "hello", err: confirm.ErrNoToken},
		{name: "text before", in: "x " + vecToken, err: confirm.ErrMalformed},
		{name: "chinese before", in: "。" + vecToken, err: confirm.ErrMalformed},
		{name: "text after", in: vecToken + " thanks", err: confirm.ErrMalformed},
		{name: "chinese after", in: vecToken + "。", err: confirm.ErrMalformed},
		{name: "two tokens", in: "BP1 t=A m=B BP1 t=A m=B", err: confirm.ErrMalformed},
		{name: "BP10", in: "BP10 t=A m=B", err: confirm.ErrMalformed},
		{name: "missing m", in: "BP1 t=A", err: confirm.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := confirm.Parse(tc.in)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err, "Parse(%q): got %+v, err %v; want %v", tc.in, got, err, tc.err)
				return
			}
			require.NoError(t, err, "Parse(%q)", tc.in)
			assert.Equal(t, tc.want, fields(got), "Parse(%q)", tc.in)
			assert.Equal(t, strings.TrimSpace(tc.in), got.String(), "Parse(%q).String()", tc.in)
		})
	}
}

func TestSignedTextAndString(t *testing.T) {
	code := confirm.Token{TerminalID: "STB1", MSISDN: "138****8000"}
	assert.Equal(t, "BP1 t=STB1 m=138****8000", code.SignedText(), "built in code, no nonce")
	assert.Equal(t, "BP1 t=STB1 m=138****8000", code.String(), "no Sig: String is the signed text")
	code.Nonce, code.Sig = "n1", "c2ln"
	assert.Equal(t, "BP1 t=STB1 m=138****8000 n=n1", code.SignedText(), "built in code, with nonce")
	assert.Equal(t, "BP1 t=STB1 m=138****8000 n=n1 s=c2ln", code.String())

	extra := "BP1 t=STB1 m=138****8000 v=2 s=" + vecSig
	tok, err := confirm.Parse(extra)
	require.NoError(t, err)
	assert.Equal(t, "BP1 t=STB1 m=138****8000 v=2", tok.SignedText(), "parsed: the extra field is kept in the signed text")
	assert.Equal(t, extra, tok.String())

	tok.TerminalID = "STB2"
	assert.Equal(t, "BP1 t=STB2 m=138****8000", tok.SignedText(), "changed field: canonical text of the new fields")
	assert.Equal(t, "BP1 t=STB2 m=138****8000 s="+vecSig, tok.String())
}

func TestVerify(t *testing.T) {
	key := vecKey(t)
	other := confirm.DeriveKey([]byte(vecMaster), "STB0012345679")
	tests := []struct {
		name string
		text string // parsed with Find
		key  []byte
		want bool
	}{
		{name: "vector", text: vecToken, key: key, want: true},
		{name: "vector in sms", text: vecSMS + "\n", key: key, want: true},
		{name: "wrong key", text: vecToken, key: other, want: false},
		{name: "empty key", text: vecToken, key: nil, want: false},
		{name: "tampered t", text: strings.Replace(vecToken, "t=STB0012345678", "t=STB0012345679", 1), key: key},
		{name: "tampered m", text: strings.Replace(vecToken, "m=138****8000", "m=139****8000", 1), key: key},
		{name: "tampered n", text: strings.Replace(vecToken, "n=q8x3k2", "n=q8x3k3", 1), key: key},
		{name: "nonce removed", text: strings.Replace(vecToken, " n=q8x3k2", "", 1), key: key},
		{name: "nonce added", text: "BP1 t=STB0012345678 m=138****8000 n=zzz s=" + vecSig, key: key},
		{name: "extra field not in the signature", text: vecSigned + " v=2 s=" + vecSig, key: key},
		{name: "extra field signed", text: signedWithExtra(t, key), key: key, want: true},
		{name: "tampered sig", text: vecSigned + " s=FWC0YGwf5vt1dIPLmlT2wA", key: key},
		{name: "non-canonical trailing bits", text: vecSigned + " s=FWC0YGwf5vt1dIPLmlT2wx", key: key},
		{name: "sig followed by equals", text: vecToken + "==", key: key, want: true},
		{name: "sig followed by period", text: vecToken + ".", key: key, want: true},
		{name: "no sig", text: vecSigned, key: key},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := confirm.Find(tc.text)
			require.NoError(t, err, "Find(%q)", tc.text)
			got := confirm.Verify(tc.key, tok)
			assert.Equal(t, tc.want, got, "Verify(key %x, %q): got %v, want %v", tc.key, tc.text, got, tc.want)
		})
	}
}

func TestVerifyChangedFields(t *testing.T) {
	key := vecKey(t)
	tok, err := confirm.Find(vecSMS)
	require.NoError(t, err)
	require.True(t, confirm.Verify(key, tok), "vector must verify before the change")

	changes := map[string]func(*confirm.Token){
		"terminal id": func(t *confirm.Token) { t.TerminalID = "STB0012345679" },
		"msisdn":      func(t *confirm.Token) { t.MSISDN = "139****8000" },
		"nonce":       func(t *confirm.Token) { t.Nonce = "other" },
		"no nonce":    func(t *confirm.Token) { t.Nonce = "" },
		"sig":         func(t *confirm.Token) { t.Sig = "AAAAAAAAAAAAAAAAAAAAAA" },
		"empty sig":   func(t *confirm.Token) { t.Sig = "" },
	}
	for name, change := range changes {
		t.Run(name, func(t *testing.T) {
			changed := tok
			change(&changed)
			assert.False(t, confirm.Verify(key, changed), "Verify of %+v (changed %s) = true, want false", changed, name)
		})
	}
}

func TestSign(t *testing.T) {
	key := vecKey(t)
	tests := []struct {
		name string
		tok  func(t *testing.T) confirm.Token
	}{
		{"built in code", func(*testing.T) confirm.Token {
			return confirm.Token{TerminalID: "STB9", MSISDN: "186****0001", Nonce: "abc"}
		}},
		{"built in code without nonce", func(*testing.T) confirm.Token {
			return confirm.Token{TerminalID: "STB9", MSISDN: "186****0001"}
		}},
		{"parsed with an extra field", func(t *testing.T) confirm.Token {
			tok, err := confirm.Parse("BP1 t=STB9 m=186****0001 n=abc v=2")
			require.NoError(t, err)
			return tok
		}},
		{"re-signing replaces the old sig", func(t *testing.T) confirm.Token {
			tok, err := confirm.Parse("BP1 t=STB9 m=186****0001 s=" + vecSig)
			require.NoError(t, err)
			return tok
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			signed := confirm.Sign(key, tc.tok(t))
			assert.Len(t, signed.Sig, 22, "Sig %q", signed.Sig)
			assert.True(t, confirm.Verify(key, signed), "Verify(Sign(%+v))", signed)

			back, err := confirm.Find("【号码绑定支付】已开通。" + signed.String() + "\n")
			require.NoError(t, err, "Find of %q", signed.String())
			assert.True(t, confirm.Verify(key, back), "Verify after the SMS round trip of %q", signed.String())
			assert.Equal(t, fields(signed), fields(back), "round trip of %q", signed.String())
		})
	}
}

func TestErrorsAreDistinct(t *testing.T) {
	all := []error{confirm.ErrNoToken, confirm.ErrMalformed, confirm.ErrBadKey, confirm.ErrKeyPermissions, confirm.ErrEmptyAllowlist}
	for i, a := range all {
		for j, b := range all {
			assert.Equal(t, i == j, errors.Is(a, b), "errors.Is(%v, %v)", a, b)
		}
	}
}

// signedWithExtra is the vector token with a further field "v=2" before s,
// signed as the platform would sign it.
func signedWithExtra(t *testing.T, key []byte) string {
	t.Helper()
	tok, err := confirm.Parse(vecSigned + " v=2")
	require.NoError(t, err)
	return confirm.Sign(key, tok).String()
}

func TestTerminalOf(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"good token", vecSMS, vecTID},
		{"malformed after t", "通知 BP1 t=STB1 m=B s=short", "STB1"},
		{"malformed order", "BP1 t=STB1 x=1 m=B", "STB1"},
		{"no t first", "BP1 m=B t=STB1", ""},
		{"no token", "hello", ""},
		{"XBP1 then real", "XBP1 t=A BP1 t=B", "B"},
		{"empty t", "BP1 t= m=B", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, confirm.TerminalOf(tc.text), "TerminalOf(%q)", tc.text)
		})
	}
}
