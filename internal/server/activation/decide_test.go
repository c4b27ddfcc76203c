package activation

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"bindpay/internal/server/store"
)

func TestParseMO(t *testing.T) {
	cases := []struct {
		name, text string
		want       Request
		ok         bool
	}{
		{"plain", "BIND STB0012345678", Request{TerminalID: "STB0012345678"}, true},
		{"lower case, spaces", "  bind   stb0012345678  ", Request{TerminalID: "stb0012345678"}, true},
		{"with nonce", "Bind STB1 Q8X3K2", Request{TerminalID: "STB1", Nonce: "q8x3k2"}, true},
		{"tabs and newline", "BIND\tSTB1\n", Request{TerminalID: "STB1"}, true},
		{"no tid", "BIND", Request{}, false},
		{"other keyword", "STOP STB1", Request{}, false},
		{"too many words", "BIND STB1 n extra", Request{}, false},
		{"empty", "", Request{}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := ParseMO(c.text)
			assert.Equal(t, c.ok, ok)
			assert.Equal(t, c.want, got)
		})
	}
}

func TestDecide(t *testing.T) {
	unbound := store.Terminal{ID: "T", State: store.TerminalUnbound}
	withSIM := store.Terminal{ID: "T", State: store.TerminalUnbound, SIMMSISDN: "+8614700000001"}
	boundMe := store.Terminal{ID: "T", State: store.TerminalBound, MSISDN: "+8613800138000", SIMMSISDN: "+8614700000001"}
	boundOther := store.Terminal{ID: "T", State: store.TerminalBound, MSISDN: "+8613900139000"}
	a := store.Activation{MSISDN: "+8613800138000"}
	allow := &OSSDecision{Allow: true}
	allowSIM := &OSSDecision{Allow: true, TerminalMSISDN: "+8614700000009"}
	deny := &OSSDecision{Allow: false, Reason: "arrears"}
	cases := []struct {
		name    string
		t       store.Terminal
		oss     *OSSDecision
		verdict Verdict
		to      string
	}{
		{"no OSS, enrolled SIM", withSIM, nil, Bind, "+8614700000001"},
		{"OSS allows, enrolled SIM wins", withSIM, allowSIM, Bind, "+8614700000001"},
		{"OSS gives the SIM", unbound, allowSIM, Bind, "+8614700000009"},
		{"no SIM anywhere", unbound, allow, NoSIM, ""},
		{"no SIM, no OSS", unbound, nil, NoSIM, ""},
		{"OSS refuses", withSIM, deny, Refuse, ""},
		{"bound to this number: confirm again", boundMe, nil, ConfirmSame, "+8614700000001"},
		{"bound to this number, OSS would refuse: still confirm", boundMe, deny, ConfirmSame, "+8614700000001"},
		{"bound to another", boundOther, allow, BoundOther, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, to := Decide(c.t, a, c.oss)
			assert.Equal(t, c.verdict, v)
			assert.Equal(t, c.to, to)
		})
	}
}

func TestTokenNonce(t *testing.T) {
	now := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		t    store.Terminal
		want string
	}{
		{"current", store.Terminal{Nonce: "q8x3k2", NonceExpires: now.Add(time.Minute)}, "q8x3k2"},
		{"expired", store.Terminal{Nonce: "q8x3k2", NonceExpires: now}, ""},
		{"none", store.Terminal{}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { assert.Equal(t, c.want, TokenNonce(c.t, now)) })
	}
}

func TestBackoff(t *testing.T) {
	cases := []struct {
		n    int
		want time.Duration
	}{{0, time.Second}, {1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {5, 10 * time.Second}, {60, 10 * time.Second}}
	for _, c := range cases {
		assert.Equal(t, c.want, Backoff(c.n, time.Second, 10*time.Second), "attempt %d", c.n)
	}
}

func TestLang(t *testing.T) {
	assert.Equal(t, "zh-CN", Lang("+8613800138000", "zh-CN"))
	assert.Equal(t, "en", Lang("+447700900123", "zh-CN"))
	assert.Equal(t, "en", Lang("+8613800138000", "en"))
}

func TestReplyText(t *testing.T) {
	cases := []struct {
		name, lang, kind, tid, detail, want string
	}{
		{"activated zh", "zh-CN", ReplyActivated, "STB1", "", "【号码绑定支付】终端STB1已与本号码绑定，支付服务已开通。"},
		{"refused en with reason", "en", ReplyRefused, "STB1", "arrears", "BindPay: this number cannot activate payment on terminal STB1 (arrears)."},
		{"unknown, junk tid hidden", "en", ReplyUnknown, "<script>", "", "BindPay: terminal  is unknown. Check the ID on the terminal's screen and text again."},
		{"unknown language is zh-CN", "fr", ReplyFailed, "STB1", "", "【号码绑定支付】终端STB1暂时无法开通，请联系客服。"},
		{"malformed", "zh-CN", ReplyMalformed, "", "", "【号码绑定支付】开通请发送：BIND 终端编号"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { assert.Equal(t, c.want, ReplyText(c.lang, c.kind, c.tid, c.detail)) })
	}
}
