package boot_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bindpay/internal/boot"
	"bindpay/internal/confirm"
	"bindpay/internal/flagstore"
	"bindpay/internal/modem"
)

// TestAssess is DESIGN.md's "Acceptance of an SMS", rule by rule, as a
// table: each row is one message and what the flow knows, and the verdict
// the rules give.
func TestAssess(t *testing.T) {
	senders, err := confirm.NewAllowlist([]string{"10658000", "1065900*", "BindPay"})
	require.NoError(t, err)
	otherKey := confirm.DeriveKey(masterKey, otherTID)
	good := signed(termKey, tid, nonce)
	issued := flagstore.Nonces{Issued: []string{nonce}}
	msg := func(sender, text string) modem.Message {
		return modem.Message{ID: "m", Indexes: []int{1}, Sender: sender, Text: text}
	}
	alpha := func(sender, text string) modem.Message {
		m := msg(sender, text)
		m.SenderAlpha = true
		return m
	}
	tests := []struct {
		rule   string
		msg    modem.Message
		key    []byte
		nonces flagstore.Nonces
		word   boot.Word
		want   boot.Verdict
		reason string // part of the reason
	}{
		// Undecodable or incomplete messages (the modem's eviction candidates too).
		{rule: "0 undecodable", msg: modem.Message{Sender: "10658000", Err: errors.New("decode PDU: bad")}, key: termKey, nonces: issued, want: boot.Reject, reason: "undecodable"},

		// Rule 1: the sender.
		{rule: "1 sender not allowed", msg: msg("13900001111", good), key: termKey, nonces: issued, want: boot.Reject, reason: "not in sms.senders"},
		{rule: "1 sender with +86", msg: msg("+8610658000", good), key: termKey, nonces: issued, want: boot.Accept},
		{rule: "1 TON 5 spelled as the short code", msg: alpha("10658000", good), key: termKey, nonces: issued, want: boot.Reject, reason: "alphanumeric sender"},
		{rule: "1 prefix entry with extension", msg: msg("106590001234", good), key: termKey, nonces: issued, want: boot.Accept},
		{rule: "1 prefix entry vs TON 5", msg: alpha("106590001234", good), key: termKey, nonces: issued, want: boot.Reject, reason: "alphanumeric sender"},
		{rule: "1 name entry vs TON 5 name", msg: alpha("BindPay", good), key: termKey, nonces: issued, want: boot.Accept},
		{rule: "1 name entry vs numeric sender", msg: msg("BindPay", good), key: termKey, nonces: issued, want: boot.Accept},

		// Rule 2: a token for this terminal, its nonce not consumed.
		{rule: "2 no token", msg: msg("10658000", "您的话费余额为10.00元"), key: termKey, nonces: issued, want: boot.Reject, reason: "no confirmation token"},
		{rule: "2 another terminal", msg: msg("10658000", signed(otherKey, otherTID, nonce)), key: termKey, nonces: issued, want: boot.Reject, reason: "for terminal"},
		{rule: "2 malformed, no terminal", msg: msg("10658000", "BP1 m=1 t=STB0012345678"), key: termKey, nonces: issued, want: boot.Reject, reason: "no valid confirmation token"},
		{rule: "2 malformed for another terminal", msg: msg("10658000", "BP1 t=STB0099999999 x=1 m=2"), key: termKey, nonces: issued, want: boot.Reject, reason: "no valid confirmation token"},
		{rule: "2 grammar only, for this terminal: ask", msg: msg("10658000", "BP1 t=STB0012345678 x=1 m=2"), key: termKey, nonces: issued, want: boot.AskPlatform, reason: "cannot parse"},
		{rule: "2 grammar only, platform down: hold", msg: msg("10658000", "BP1 t=STB0012345678 x=1 m=2"), key: termKey, nonces: issued, word: boot.Unreachable, want: boot.Hold},
		{rule: "2 grammar only, platform bound", msg: msg("10658000", "BP1 t=STB0012345678 x=1 m=2"), key: termKey, nonces: issued, word: boot.Bound, want: boot.AcceptByPlatform},
		{rule: "2 grammar only, platform not bound", msg: msg("10658000", "BP1 t=STB0012345678 x=1 m=2"), key: termKey, nonces: issued, word: boot.NotBound, want: boot.Reject, reason: "not bound"},
		{rule: "2 bad number field for this terminal: ask", msg: msg("10658000", "BP1 t=STB0012345678 m=abc"), key: termKey, nonces: issued, want: boot.AskPlatform, reason: "does not accept"},
		{rule: "2 replayed nonce", msg: msg("10658000", good), key: termKey, nonces: flagstore.Nonces{Consumed: []string{nonce}}, want: boot.Reject, reason: "replayed"},
		{rule: "2 replayed nonce even if the platform says bound", msg: msg("10658000", good), key: termKey, nonces: flagstore.Nonces{Consumed: []string{nonce}}, word: boot.Bound, want: boot.Reject, reason: "replayed"},
		{rule: "2 replayed nonce without a key", msg: msg("10658000", unsigned(tid, nonce)), nonces: flagstore.Nonces{Consumed: []string{nonce}}, want: boot.Reject, reason: "replayed"},

		// Rule 3: with a key, signature and issued nonce; else the platform.
		{rule: "3 signed, issued: accept offline", msg: msg("10658000", good), key: termKey, nonces: issued, want: boot.Accept},
		{rule: "3 signed, issued, trailing full stop", msg: msg("10658000", good+"."), key: termKey, nonces: issued, want: boot.Accept},
		{rule: "3 signed extra field, issued", msg: msg("10658000", signedExtra(t)), key: termKey, nonces: issued, want: boot.Accept},
		{rule: "3 bad signature", msg: msg("10658000", signed(otherKey, tid, nonce)), key: termKey, nonces: issued, want: boot.Reject, reason: "bad signature"},
		{rule: "3 tampered number", msg: msg("10658000", strings.Replace(good, "m=138****8000", "m=139****8000", 1)), key: termKey, nonces: issued, want: boot.Reject, reason: "bad signature"},
		{rule: "3 signed, nonce not issued: ask", msg: msg("10658000", signed(termKey, tid, unknownNonce)), key: termKey, nonces: issued, want: boot.AskPlatform, reason: "not issued"},
		{rule: "3 signed, no nonce: ask", msg: msg("10658000", signed(termKey, tid, "")), key: termKey, nonces: issued, want: boot.AskPlatform, reason: "without a nonce"},
		{rule: "3 unsigned with a key: ask", msg: msg("10658000", unsigned(tid, nonce)), key: termKey, nonces: issued, want: boot.AskPlatform, reason: "unsigned"},
		{rule: "3 no key: ask", msg: msg("10658000", good), nonces: issued, want: boot.AskPlatform, reason: "no terminal key"},
		{rule: "3 no key, platform bound", msg: msg("10658000", unsigned(tid, "")), word: boot.Bound, want: boot.AcceptByPlatform},
		{rule: "3 no key, platform not bound", msg: msg("10658000", good), word: boot.NotBound, want: boot.Reject, reason: "not bound"},
		{rule: "3 no key, platform down: hold", msg: msg("10658000", good), word: boot.Unreachable, want: boot.Hold},
		{rule: "3 signed, nonce not issued, platform bound", msg: msg("10658000", signed(termKey, tid, unknownNonce)), key: termKey, word: boot.Bound, want: boot.AcceptByPlatform},
		{rule: "3 signed, nonce not issued, platform not bound", msg: msg("10658000", signed(termKey, tid, unknownNonce)), key: termKey, word: boot.NotBound, want: boot.Reject},
		{rule: "3 offline acceptance needs no platform", msg: msg("10658000", good), key: termKey, nonces: issued, word: boot.Unreachable, want: boot.Accept},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			got := boot.Assess(tc.msg, boot.Knowledge{TerminalID: tid, Senders: senders, Key: tc.key, Nonces: tc.nonces, Platform: tc.word})
			assert.Equal(t, tc.want, got.Verdict, "message %q from %q (alphanumeric %v), nonces %+v, platform %v: got %v (%s), want %v",
				tc.msg.Text, tc.msg.Sender, tc.msg.SenderAlpha, tc.nonces, tc.word, got.Verdict, got.Reason, tc.want)
			assert.Contains(t, got.Reason, tc.reason, "reason")
			assert.NotEmpty(t, got.Reason, "every verdict has a reason")
		})
	}
}

// signedExtra is a confirmation whose token carries a further signed field.
func signedExtra(t *testing.T) string {
	t.Helper()
	tok, err := confirm.Parse("BP1 t=" + tid + " m=" + masked + " n=" + nonce + " v=2")
	require.NoError(t, err)
	return "【号码绑定支付】已开通。" + confirm.Sign(termKey, tok).String() + "。"
}

// TestCheckRecord is DESIGN.md's "The record and the activation's life":
// what a stored record is worth at boot.
func TestCheckRecord(t *testing.T) {
	otherKey := confirm.DeriveKey(masterKey, otherTID)
	v2 := flagstore.Record{Version: 2, TerminalID: tid, MSISDN: masked, Source: flagstore.SourceSMS, BoundAt: clockNow, Nonce: nonce, Token: smsToken(termKey, tid, nonce)}
	with := func(edit func(*flagstore.Record)) flagstore.Record {
		r := v2
		edit(&r)
		return r
	}
	v1 := with(func(r *flagstore.Record) { r.Version, r.Token = 1, "" })
	tests := []struct {
		name   string
		rec    flagstore.Record
		tid    string
		key    []byte
		want   boot.RecordVerdict
		reason string
	}{
		{name: "v2 with its proof", rec: v2, tid: tid, key: termKey, want: boot.RecordBound},
		{name: "v2, IMEI mode: proof checked against the record's own ID", rec: v2, tid: "", key: termKey, want: boot.RecordBound},
		{name: "another terminal's record", rec: v2, tid: otherTID, key: termKey, want: boot.RecordForeign, reason: "for terminal"},
		{name: "another terminal's record, no key", rec: v2, tid: otherTID, want: boot.RecordForeign},
		{name: "copied from a box with another key", rec: with(func(r *flagstore.Record) { r.Token = smsToken(otherKey, tid, nonce) }), tid: tid, key: termKey, want: boot.RecordForeign, reason: "copied"},
		{name: "copied, IMEI mode", rec: v2, tid: "", key: otherKey, want: boot.RecordForeign, reason: "copied"},
		{name: "proof for another number", rec: with(func(r *flagstore.Record) { r.MSISDN = "139****0000" }), tid: tid, key: termKey, want: boot.RecordForeign},
		{name: "proof for another terminal", rec: with(func(r *flagstore.Record) { r.Token = smsToken(termKey, otherTID, nonce) }), tid: tid, key: termKey, want: boot.RecordForeign},
		{name: "v1 without a key: the terminal ID is all there is", rec: v1, tid: tid, want: boot.RecordBound},
		{name: "v1 with a key: unproven", rec: v1, tid: tid, key: termKey, want: boot.RecordUnproven, reason: "version 1"},
		{name: "v2 without token, key installed later: unproven", rec: with(func(r *flagstore.Record) { r.Token = "" }), tid: tid, key: termKey, want: boot.RecordUnproven},
		{name: "v2 without key: not checked", rec: with(func(r *flagstore.Record) { r.Token = smsToken(otherKey, tid, nonce) }), tid: tid, want: boot.RecordBound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, why := boot.CheckRecord(tc.rec, tc.tid, tc.key)
			assert.Equal(t, tc.want, got, "record %+v, terminal %q: got %v (%s), want %v", tc.rec, tc.tid, got, why, tc.want)
			assert.Contains(t, why, tc.reason)
			if got != boot.RecordBound {
				assert.NotEmpty(t, why, "a record that is not bound says why")
			}
		})
	}
}

// Any binding ends the activation: every nonce issued before it is
// consumed, so a stale confirmation for an older nonce cannot bind again.
func TestRunBindingConsumesEveryIssuedNonce(t *testing.T) {
	h := newHarness(t, notBound(tid, "old1"), notBound(tid, nonce))
	h.start(config(t, termKey))
	h.finishScan()
	h.await("platform")
	e := h.await("after")
	h.fire(e)
	h.await("platform")
	h.await("after")
	h.send(sms("good", senderSeen, signed(termKey, tid, nonce)))
	_, err := h.result()
	require.NoError(t, err)
	n, err := h.ledger.Nonces()
	require.NoError(t, err)
	assert.Empty(t, n.Issued, "no nonce stays issued after the binding")
	assert.ElementsMatch(t, []string{"old1", nonce}, n.Consumed)
}

// A binding by the platform's word consumes the issued nonces too.
func TestRunPlatformBindingConsumesIssuedNonces(t *testing.T) {
	h := newHarness(t, boundAns(tid))
	require.NoError(t, h.ledger.Issue("old1"))
	h.start(config(t, termKey))
	h.finishScan()
	_, err := h.result()
	require.NoError(t, err)
	n, err := h.ledger.Nonces()
	require.NoError(t, err)
	assert.Empty(t, n.Issued)
	assert.ElementsMatch(t, []string{"old1", nonce}, n.Consumed, "the issued nonce and the platform token's")
}

// A record the flow finds unusable at boot: moved aside (another terminal's,
// or a proof that does not verify), or left for the next binding (unproven);
// in every case the flow asks the platform and prompts.
func TestRunRecordNotThisTerminals(t *testing.T) {
	otherKey := confirm.DeriveKey(masterKey, otherTID)
	v2 := flagstore.Record{Version: 2, TerminalID: tid, MSISDN: masked, Source: flagstore.SourceSMS, BoundAt: clockNow.UTC(), Nonce: nonce}
	tests := []struct {
		name           string
		token          string
		version        int
		wantQuarantine bool
		wantLog        string
	}{
		{name: "copied from another box", token: smsToken(otherKey, tid, nonce), version: 2, wantQuarantine: true, wantLog: "binding record not this terminal's; continuing as not bound"},
		{name: "version 1 with a key", version: 1, wantLog: "binding record without proof; asking the service platform to prove the binding"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := v2
			rec.Token, rec.Version = tc.token, tc.version
			h := newHarness(t, notBound(tid, nonce))
			h.flags.rec = &rec
			h.start(config(t, termKey))
			h.finishScan()
			h.await("platform")
			h.await("after")
			assert.Len(t, h.logRecords(tc.wantLog), 1, "log %s", h.logs.String())
			if tc.wantQuarantine {
				assert.Len(t, h.events.list("quarantine"), 1, "the record is moved aside")
			} else {
				assert.Empty(t, h.events.list("quarantine"), "an unproven record is left for the next binding to replace")
			}
			assertCanceled(t, h)
		})
	}
}

// An unproven (version 1) record becomes a proven one when the platform
// proves the binding.
func TestRunUnprovenRecordProvenByPlatform(t *testing.T) {
	rec := flagstore.Record{Version: 1, TerminalID: tid, MSISDN: masked, Source: flagstore.SourceSMS, BoundAt: clockNow.UTC()}
	h := newHarness(t, boundAns(tid))
	h.flags.rec = &rec
	h.start(config(t, termKey))
	h.finishScan()
	out, err := h.result()
	require.NoError(t, err)
	assert.Equal(t, boundToken(tid), out.Record.Token, "the new record carries the platform's proof")
}

// A bound answer whose token does not hold is not a binding, even if the
// client let it through.
func TestRunBoundAnswerWithoutValidTokenIsNoBinding(t *testing.T) {
	bad := boundAns(tid)
	bad.ans.Token = smsToken(confirm.DeriveKey(masterKey, otherTID), tid, nonce)
	h := newHarness(t, bad)
	h.start(config(t, termKey))
	h.finishScan()
	h.await("platform")
	h.await("after")
	assert.Empty(t, h.flags.saved(), "nothing bound")
	assert.True(t, h.disp.last().Offline, "treated as unreachable: the fallback prompt")
	assertCanceled(t, h)
}

// A confirmation for this terminal whose grammar the agent does not know is
// held for the platform and binds with its word.
func TestRunGrammarOnlyFailureJudgedByPlatform(t *testing.T) {
	h := newHarness(t, notBound(tid, nonce), boundAns(tid))
	h.start(config(t, termKey))
	h.finishScan()
	h.await("platform")
	h.await("after")
	h.send(sms("new-template", senderSeen, "【号码绑定支付】BP1 t="+tid+" v=3 m="+masked+" s=xyz"))
	out, err := h.result()
	require.NoError(t, err)
	assert.Equal(t, flagstore.SourcePlatform, out.Record.Source)
	assert.Equal(t, []string{"save:platform", "delete:new-template"}, h.events.list("save", "delete"), "bound first, the SMS deleted after")
}
