package boot_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bindpay/internal/boot"
	"bindpay/internal/confirm"
	"bindpay/internal/display"
	"bindpay/internal/flagstore"
	"bindpay/internal/modem"
	"bindpay/internal/platform"
)

// The fixtures must be what DESIGN.md says, or every test below proves less.
func TestFixtureMatchesDesignTestVector(t *testing.T) {
	tok := confirm.Sign(termKey, confirm.Token{TerminalID: tid, MSISDN: masked, Nonce: nonce})
	want := "BP1 t=STB0012345678 m=138****8000 n=q8x3k2 s=FWC0YGwf5vt1dIPLmlT2ww"
	require.Equal(t, want, tok.String(), "input: DESIGN.md test vector; got token %q, want %q", tok.String(), want)
	got, err := confirm.Find(signed(termKey, tid, nonce))
	require.NoError(t, err)
	require.True(t, confirm.Verify(termKey, got), "input: %q; got: signature does not verify; want: it verifies", signed(termKey, tid, nonce))
}

func assertBetween(t *testing.T, got, lo, hi time.Duration, what string) {
	t.Helper()
	assert.True(t, got >= lo && got <= hi, "%s: got %v, want between %v and %v", what, got, lo, hi)
}

// assertCanceled checks how Run ends when its context is cancelled.
func assertCanceled(t *testing.T, h *harness) {
	t.Helper()
	out, err := h.stop()
	require.ErrorIs(t, err, context.Canceled, "input: context cancelled; got err %v, want context.Canceled", err)
	assert.Equal(t, boot.Outcome{}, out, "input: context cancelled; got outcome %+v, want none", out)
	assert.True(t, h.inbox.stopped.Load(), "input: context cancelled; got: Inbox.Run still running after Run returned; want: it saw the cancellation and returned")
}

// 1 and 2: what Load says decides whether anything else happens.
func TestRunBindingRecordAtStart(t *testing.T) {
	rec := flagstore.Record{Version: 2, TerminalID: tid, MSISDN: masked, Source: flagstore.SourceSMS, BoundAt: clockNow.UTC(), Nonce: nonce, Token: smsToken(termKey, tid, nonce)}
	errIO := fmt.Errorf("load /var/lib/bindpay/binding.json: %w", fs.ErrPermission)
	tests := []struct {
		name    string
		rec     *flagstore.Record
		loadErr error
		// wantBound: Run returns at once with AlreadyBound.
		wantBound bool
		// wantErr: Run returns at once with an error wrapping it.
		wantErr error
		// otherwise Run carries on as not bound: it asks the platform and prompts.
		wantLog string
	}{
		{name: "valid record", rec: &rec, wantBound: true},
		{name: "no record", loadErr: fmt.Errorf("load x: %w", flagstore.ErrNotFound)},
		{
			name:    "corrupt record",
			loadErr: fmt.Errorf("%w: /var/lib/bindpay/binding.json: checksum mismatch (moved to binding.json.corrupt-20261125T120000Z)", flagstore.ErrCorrupt),
			wantLog: "binding record unusable; continuing as not bound",
		},
		{name: "unreadable record", loadErr: errIO, wantErr: fs.ErrPermission},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			continues := !tt.wantBound && tt.wantErr == nil
			var h *harness
			if continues {
				h = newHarness(t, notBound(tid, nonce))
			} else {
				h = newHarness(t)
			}
			h.flags.rec, h.flags.loadErr = tt.rec, tt.loadErr
			h.start(config(t, termKey))

			if continues {
				h.finishScan()
				h.await("platform")
				h.await("after")
				assert.Equal(t, display.StatePrompt, h.disp.last().State, "input: Load error %v; got screen %+v, want the prompt", tt.loadErr, h.disp.last())
				assertCanceled(t, h)
				assert.Equal(t, 1, int(h.inbox.runs.Load()), "input: Load error %v; got %d Inbox.Run calls, want 1", tt.loadErr, h.inbox.runs.Load())
				if tt.wantLog != "" {
					assert.Len(t, h.logRecords(tt.wantLog), 1, "input: Load error %v; got log %s; want one %q record", tt.loadErr, h.logs.String(), tt.wantLog)
				}
				h.plat.assertUsed(t)
				return
			}

			out, err := h.result()
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr, "input: Load error %v; got err %v, want %v", tt.loadErr, err, tt.wantErr)
				assert.Contains(t, err.Error(), "read binding record", "input: Load error %v; got err %q, want it to say what failed", tt.loadErr, err)
				assert.Equal(t, boot.Outcome{}, out)
			} else {
				require.NoError(t, err, "input: valid record; got err %v, want none", err)
				assert.Equal(t, boot.Outcome{Record: rec, AlreadyBound: true}, out, "input: valid record; got outcome %+v, want AlreadyBound with the record", out)
			}
			assert.Equal(t, []string{tid}, h.flags.loaded(), "input: %s; got Load calls %q, want one for the configured terminal", tt.name, h.flags.loaded())
			assert.Zero(t, h.inbox.runs.Load(), "input: %s; got Inbox.Run started, want no modem I/O", tt.name)
			assert.Empty(t, h.plat.called(), "input: %s; got platform calls %q, want none", tt.name, h.plat.called())
			assert.Empty(t, h.disp.shown(), "input: %s; got screens %+v, want none", tt.name, h.disp.shown())
			assert.Empty(t, h.flags.saved(), "input: %s; got Save calls %+v, want none", tt.name, h.flags.saved())
			h.plat.assertUsed(t)
		})
	}
}

// 3: the start-up scan finds a signed confirmation whose nonce this run has
// not been issued yet; the platform confirms the binding.
func TestRunScanFindsConfirmationPlatformConfirms(t *testing.T) {
	h := newHarness(t, boundAns(tid))
	h.start(config(t, termKey))
	m := sms("scan-1", senderSeen, signed(termKey, tid, nonce))
	h.send(m)

	out, err := h.result()
	require.NoError(t, err, "input: scanned confirmation, platform bound:true; got err %v, want none", err)
	want := flagstore.Record{TerminalID: tid, MSISDN: masked, Source: flagstore.SourcePlatform, BoundAt: platformBoundAt.UTC(), Nonce: nonce, Token: boundToken(tid)}
	assert.Equal(t, want, out.Record, "input: scanned confirmation, platform bound:true; got record %+v, want %+v", out.Record, want)
	assert.False(t, out.AlreadyBound, "input: not bound at start; got AlreadyBound, want false")
	assert.Equal(t, []string{"save:platform", "delete:scan-1"}, h.events.list("save", "delete"),
		"input: scanned confirmation; got Save/Delete order %q, want Save then Delete of the confirmation", h.events.list("save", "delete"))
	assert.Equal(t, []string{tid}, h.plat.called())
	assert.Equal(t, display.Screen{State: display.StateBound, TerminalID: tid, MSISDN: masked}, h.disp.last())
	assert.True(t, h.inbox.stopped.Load(), "got: Inbox.Run still running after Run returned; want: stopped")
	h.plat.assertUsed(t)
}

// 4: prompt from the platform, then a signed confirmation with the issued
// nonce is accepted offline.
func TestRunPromptThenSignedConfirmationAcceptedOffline(t *testing.T) {
	h := newHarness(t, notBound(tid, nonce))
	h.start(config(t, termKey))
	h.finishScan()
	h.await("platform")
	e := h.await("after")
	assert.Equal(t, poll, e.d, "input: platform answered not bound; got next query in %v, want the poll interval %v", e.d, poll)
	wantPrompt := display.Screen{State: display.StatePrompt, TerminalID: tid, SMSTo: promptTo, SMSBody: promptBody}
	assert.Equal(t, wantPrompt, h.disp.last(), "input: sms_to %q sms_body %q; got screen %+v, want them verbatim", promptTo, promptBody, h.disp.last())

	h.send(sms("mt-1", senderSeen, signed(termKey, tid, nonce)+"，如非本人操作请致电10086。"))
	out, err := h.result()
	require.NoError(t, err)
	want := flagstore.Record{TerminalID: tid, MSISDN: masked, Source: flagstore.SourceSMS, BoundAt: clockNow.UTC(), Nonce: nonce, Token: smsToken(termKey, tid, nonce)}
	assert.Equal(t, want, out.Record, "input: signed confirmation with issued nonce; got record %+v, want %+v", out.Record, want)
	assert.False(t, out.AlreadyBound)
	assert.Equal(t, []string{"save:sms", "delete:mt-1"}, h.events.list("save", "delete"),
		"input: signed confirmation; got Save/Delete order %q, want Save then Delete", h.events.list("save", "delete"))
	assert.Equal(t, []display.Screen{
		{State: display.StateChecking, TerminalID: tid},
		wantPrompt,
		{State: display.StateBound, TerminalID: tid, MSISDN: masked},
	}, h.disp.shown())
	h.plat.assertUsed(t) // accepted offline: no second platform call
}

// 5: each rejected SMS is logged with its reason and deleted, and Run keeps
// waiting for the real confirmation.
func TestRunRejects(t *testing.T) {
	otherKey := confirm.DeriveKey(masterKey, otherTID)
	good := signed(termKey, tid, nonce)
	tests := []struct {
		name       string
		msg        modem.Message
		wantReason string // the logged reason starts with it
	}{
		{
			name:       "sender outside allowlist",
			msg:        sms("bad", "+8613900001111", good),
			wantReason: `sender "+8613900001111" is not in sms.senders`,
		},
		{
			name:       "token for another terminal",
			msg:        sms("bad", senderSeen, signed(otherKey, otherTID, nonce)),
			wantReason: `confirmation is for terminal "STB0099999999", this is "STB0012345678"`,
		},
		{
			name:       "no token",
			msg:        sms("bad", senderSeen, "【号码绑定支付】尊敬的客户，您的话费余额为10.00元。"),
			wantReason: "no confirmation token",
		},
		{
			name:       "malformed token",
			msg:        sms("bad", senderSeen, "【号码绑定支付】终端已开通。BP1 m=138****8000 t=STB0012345678 n=q8x3k2"),
			wantReason: "no valid confirmation token: ",
		},
		{
			name:       "TON 5 sender spelled as the allowed number",
			msg:        modem.Message{ID: "bad", Indexes: []int{9}, Sender: senderSeen, SenderAlpha: true, Text: good},
			wantReason: `alphanumeric sender "+8610658000" is not in sms.senders`,
		},
		{
			name:       "undecodable",
			msg:        modem.Message{ID: "bad", Indexes: []int{7}, Sender: senderSeen, Err: errors.New("decode PDU: user data length 200 exceeds 140 octets")},
			wantReason: "undecodable: decode PDU: user data length 200 exceeds 140 octets",
		},
		{
			name:       "bad signature: tampered number",
			msg:        sms("bad", senderSeen, strings.ReplaceAll(good, "m="+masked, "m=139****9999")),
			wantReason: "bad signature",
		},
		{
			name:       "bad signature: another terminal's key",
			msg:        sms("bad", senderSeen, signed(otherKey, tid, nonce)),
			wantReason: "bad signature",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, notBound(tid, nonce))
			h.start(config(t, termKey))
			h.finishScan()
			h.await("platform")
			h.await("after")

			h.send(tt.msg)
			e := h.await("delete")
			require.Equal(t, "bad", e.detail, "input: %q from %q; got deletion of %q, want the rejected SMS deleted", tt.msg.Text, tt.msg.Sender, e.detail)
			reason, ok := h.rejection("bad")
			require.True(t, ok, "input: %q from %q; got log %s; want an \"SMS rejected\" record", tt.msg.Text, tt.msg.Sender, h.logs.String())
			assert.True(t, strings.HasPrefix(reason, tt.wantReason), "input: %q from %q; got reason %q, want it to start with %q", tt.msg.Text, tt.msg.Sender, reason, tt.wantReason)
			assert.Empty(t, h.flags.saved(), "input: rejected SMS; got Save calls %+v, want none", h.flags.saved())
			assert.False(t, h.returned(), "input: rejected SMS; got: Run returned; want: still waiting")

			h.send(sms("good", senderSeen, good)) // fails if Run stopped waiting
			out, err := h.result()
			require.NoError(t, err)
			assert.Equal(t, flagstore.SourceSMS, out.Record.Source)
			assert.Equal(t, []string{"delete:bad", "save:sms", "delete:good"}, h.events.list("save", "delete"))
			h.plat.assertUsed(t) // no rejection asked the platform
		})
	}
}

// A foreign SMS found by the start-up scan is rejected and the scan goes on.
func TestRunRejectsDuringScan(t *testing.T) {
	h := newHarness(t, notBound(tid, nonce))
	h.start(config(t, termKey))
	h.send(sms("ad", "10086", "【中国移动】流量包优惠，回复1办理。"))
	e := h.await("delete")
	assert.Equal(t, "ad", e.detail)
	reason, ok := h.rejection("ad")
	assert.True(t, ok && strings.Contains(reason, "not in sms.senders"), "input: SMS from 10086; got reason %q (logged %v), want the sender named as not allowed", reason, ok)
	h.finishScan()
	h.await("platform")
	h.await("after")
	assert.Equal(t, display.StatePrompt, h.disp.last().State)
	assertCanceled(t, h)
	assert.Empty(t, h.flags.saved())
	h.plat.assertUsed(t)
}

// The start waits for the modem's first scan only so long; messages of the
// scan that come later are judged in the wait loop.
func TestRunScanTimeout(t *testing.T) {
	h := newHarness(t, notBound(tid, nonce))
	h.start(config(t, termKey))
	e := h.await("after")
	assert.Equal(t, scanWait, e.d, "got scan wait %v, want %v", e.d, scanWait)
	assert.Empty(t, h.plat.called(), "got platform asked before the scan ended or timed out; want not yet")
	h.fire(e)
	h.await("platform")
	h.await("after")
	assert.Len(t, h.logRecords("modem has not listed its stored SMS yet; asking the platform meanwhile"), 1, "got log %s", h.logs.String())

	h.send(sms("late-scan", senderSeen, signed(termKey, tid, nonce)))
	out, err := h.result()
	require.NoError(t, err)
	assert.Equal(t, flagstore.SourceSMS, out.Record.Source)
	assert.Equal(t, []string{"save:sms", "delete:late-scan"}, h.events.list("save", "delete"))
	h.plat.assertUsed(t)
}

// 6: platform unreachable: the fallback prompt, then the platform's prompt
// once it answers.
func TestRunPlatformUnreachableShowsFallback(t *testing.T) {
	for _, fallbackBody := range []string{"BIND {tid}", ""} {
		t.Run(fmt.Sprintf("FallbackBody=%q", fallbackBody), func(t *testing.T) {
			h := newHarness(t, failing(errUnreachable), notBound(tid, nonce))
			cfg := config(t, termKey)
			cfg.FallbackBody = fallbackBody
			h.start(cfg)
			h.finishScan()
			h.await("platform")
			e := h.await("after")
			assertBetween(t, e.d, retryMin/2, retryMin, "first retry after the platform failed")
			fallback := display.Screen{State: display.StatePrompt, TerminalID: tid, SMSTo: fallbackTo, SMSBody: "BIND " + tid, Offline: true}
			assert.Equal(t, fallback, h.disp.last(), "input: platform unreachable, FallbackBody %q; got screen %+v, want %+v", fallbackBody, h.disp.last(), fallback)
			assert.Len(t, h.logRecords("service platform unreachable; showing the fallback prompt"), 1)

			h.fire(e)
			h.await("platform")
			e = h.await("after")
			assert.Equal(t, poll, e.d, "input: platform answered after a failure; got next query in %v, want %v", e.d, poll)
			online := display.Screen{State: display.StatePrompt, TerminalID: tid, SMSTo: promptTo, SMSBody: promptBody}
			assert.Equal(t, []display.Screen{{State: display.StateChecking, TerminalID: tid}, fallback, online}, h.disp.shown(),
				"input: platform unreachable then not bound; got screens %+v, want checking, fallback, platform prompt", h.disp.shown())
			assertCanceled(t, h)
			h.plat.assertUsed(t)
		})
	}
}

// The backoff after failed queries doubles up to the poll interval, with
// full jitter (the test's Rand gives the middle: half the ceiling), and a
// good answer goes back to the poll interval; a 503's Retry-After is a
// minimum.
func TestRunBackoff(t *testing.T) {
	h := newHarness(t, failing(errUnreachable), failing(&platform.StatusError{Code: 503, Body: "maintenance"}),
		failing(fmt.Errorf("query platform: %w: malformed JSON", platform.ErrBadResponse)), failing(errUnreachable),
		notBound(tid, nonce), failing(&platform.StatusError{Code: 503, RetryAfter: 20 * time.Minute}), failing(errUnreachable))
	cfg := config(t, termKey)
	cfg.PollInterval = 3 * retryMin
	h.start(cfg)
	h.finishScan()
	for i, want := range []time.Duration{retryMin / 2, retryMin, 3 * retryMin / 2, 3 * retryMin / 2, 3 * retryMin, 22 * time.Minute, retryMin} {
		h.await("platform")
		e := h.await("after")
		assert.Equal(t, want, e.d, "query %d: next query in %v, want %v", i+1, e.d, want)
		if i < 6 {
			h.fire(e)
		}
	}
	assertCanceled(t, h)
	h.plat.assertUsed(t)
}

// 7: a signed confirmation with an unknown nonce while the platform is down
// is kept until the platform answers.
func TestRunHeldWhilePlatformDownThenBound(t *testing.T) {
	h := newHarness(t, failing(errUnreachable), failing(errUnreachable), boundAns(tid))
	h.start(config(t, termKey))
	h.finishScan()
	h.await("platform")
	h.await("after")

	h.send(sms("held", senderSeen, signed(termKey, tid, unknownNonce)))
	h.await("platform")
	e := h.await("after")
	assertBetween(t, e.d, retryMin, 2*retryMin, "retry for the held SMS")
	assert.Empty(t, h.events.list("save", "delete"), "input: confirmation, platform down; got %q, want it neither deleted nor bound", h.events.list("save", "delete"))
	assert.Len(t, h.logRecords("confirmation SMS kept until the service platform can confirm it"), 1)

	h.fire(e)
	out, err := h.result()
	require.NoError(t, err)
	want := flagstore.Record{TerminalID: tid, MSISDN: masked, Source: flagstore.SourcePlatform, BoundAt: platformBoundAt.UTC(), Nonce: nonce, Token: boundToken(tid)}
	assert.Equal(t, want, out.Record, "input: held SMS, platform bound:true; got %+v, want %+v", out.Record, want)
	assert.Equal(t, []string{"save:platform", "delete:held"}, h.events.list("save", "delete"),
		"input: held SMS, platform bound:true; got %q, want Save then Delete of the held SMS", h.events.list("save", "delete"))
	h.plat.assertUsed(t)
}

// A confirmation held since the start-up scan is judged again when the
// platform's answer (and its nonce) arrives.
func TestRunScanHeldJudgedWithAnswer(t *testing.T) {
	tests := []struct {
		name       string
		answer     reply
		want       *flagstore.Record // nil: rejected
		wantEvents []string
	}{
		{
			name:       "answer issues the held token's nonce",
			answer:     notBound(tid, nonce),
			want:       &flagstore.Record{TerminalID: tid, MSISDN: masked, Source: flagstore.SourceSMS, BoundAt: clockNow.UTC(), Nonce: nonce, Token: smsToken(termKey, tid, nonce)},
			wantEvents: []string{"save:sms", "delete:scan-1"},
		},
		{
			name:       "answer issues another nonce",
			answer:     notBound(tid, "n0ther"),
			wantEvents: []string{"delete:scan-1"},
		},
		{
			name:       "answer says bound",
			answer:     boundAns(tid),
			want:       &flagstore.Record{TerminalID: tid, MSISDN: masked, Source: flagstore.SourcePlatform, BoundAt: platformBoundAt.UTC(), Nonce: nonce, Token: boundToken(tid)},
			wantEvents: []string{"save:platform", "delete:scan-1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, failing(errUnreachable), failing(errUnreachable), tt.answer)
			h.start(config(t, termKey))
			h.send(sms("scan-1", senderSeen, signed(termKey, tid, nonce)))
			h.await("platform")
			h.finishScan()
			h.await("platform")
			e := h.await("after")
			assert.Empty(t, h.events.list("save", "delete"), "input: scanned confirmation, platform down; got %q, want it kept", h.events.list("save", "delete"))
			assert.True(t, h.disp.last().Offline, "input: platform down; got screen %+v, want the fallback prompt", h.disp.last())
			h.fire(e)
			if tt.want == nil {
				h.await("delete")
				reason, _ := h.rejection("scan-1")
				assert.Contains(t, reason, "the platform says this terminal is not bound")
				assertCanceled(t, h)
			} else {
				out, err := h.result()
				require.NoError(t, err)
				assert.Equal(t, *tt.want, out.Record, "input: held confirmation, answer %+v; got %+v, want %+v", tt.answer.ans, out.Record, *tt.want)
			}
			assert.Equal(t, tt.wantEvents, h.events.list("save", "delete"))
			h.plat.assertUsed(t)
		})
	}
}

// 8: without a key only the platform's word binds.
func TestRunNoKeyAsksPlatform(t *testing.T) {
	tests := []struct {
		name   string
		text   string
		answer reply
		want   *flagstore.Record // nil: rejected
	}{
		{name: "signed, platform says not bound", text: signed(termKey, tid, nonce), answer: notBound(tid, nonce)},
		{name: "unsigned, platform says not bound", text: unsigned(tid, nonce), answer: notBound(tid, nonce)},
		{
			name: "signed, platform says bound", text: signed(termKey, tid, nonce), answer: boundAns(tid),
			want: &flagstore.Record{TerminalID: tid, MSISDN: masked, Source: flagstore.SourcePlatform, BoundAt: platformBoundAt.UTC(), Nonce: nonce, Token: boundToken(tid)},
		},
		{
			name: "unsigned without nonce, platform says bound", text: unsigned(tid, ""), answer: boundAns(tid),
			want: &flagstore.Record{TerminalID: tid, MSISDN: masked, Source: flagstore.SourcePlatform, BoundAt: platformBoundAt.UTC(), Nonce: nonce, Token: boundToken(tid)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, notBound(tid, nonce), tt.answer)
			h.start(config(t, nil))
			h.finishScan()
			h.await("platform")
			h.await("after")
			h.send(sms("mt", senderSeen, tt.text))
			if tt.want == nil {
				e := h.await("delete")
				assert.Equal(t, "mt", e.detail)
				reason, _ := h.rejection("mt")
				assert.Contains(t, reason, "the platform says this terminal is not bound", "input: %q, no key, platform bound:false; got reason %q", tt.text, reason)
				assert.Empty(t, h.flags.saved())
				assertCanceled(t, h)
				assert.Equal(t, []string{"delete:mt"}, h.events.list("save", "delete"))
			} else {
				out, err := h.result()
				require.NoError(t, err)
				assert.Equal(t, *tt.want, out.Record, "input: %q, no key, platform bound:true; got %+v, want %+v", tt.text, out.Record, *tt.want)
				assert.Equal(t, []string{"save:platform", "delete:mt"}, h.events.list("save", "delete"))
			}
			h.plat.assertUsed(t)
		})
	}
}

// 9: a terminal the platform does not know gets the "contact support"
// screen, and is asked about again slowly.
func TestRunUnknownTerminal(t *testing.T) {
	errUnknown := fmt.Errorf("query platform: %w: %q is not registered", platform.ErrUnknownTerminal, tid)
	h := newHarness(t, failing(errUnknown), notBound(tid, nonce))
	h.start(config(t, termKey))
	h.finishScan()
	h.await("platform")
	e := h.await("after")
	want := display.Screen{State: display.StateUnknown, TerminalID: tid}
	assert.Equal(t, want, h.disp.last(), "input: platform 404; got screen %+v, want %+v", h.disp.last(), want)
	assert.Equal(t, poll, e.d, "input: platform 404; got next query in %v, want the poll interval %v", e.d, poll)
	h.fire(e)
	h.await("platform")
	h.await("after")
	assert.Equal(t, display.StatePrompt, h.disp.last().State, "input: 404 then not bound; got screen %+v, want the prompt", h.disp.last())
	assertCanceled(t, h)
	h.plat.assertUsed(t)
}

// 10: when the record cannot be saved the confirmation stays in the modem.
func TestRunSaveFails(t *testing.T) {
	errSave := errors.New("write /var/lib/bindpay/binding.json.tmp-1: read-only file system")
	tests := []struct {
		name   string
		script []reply
		drive  func(h *harness)
	}{
		{
			name:   "signed confirmation accepted offline",
			script: []reply{notBound(tid, nonce)},
			drive: func(h *harness) {
				h.finishScan()
				h.await("platform")
				h.await("after")
				h.send(sms("mt", senderSeen, signed(termKey, tid, nonce)))
			},
		},
		{
			name:   "scanned confirmation confirmed by the platform",
			script: []reply{boundAns(tid)},
			drive: func(h *harness) {
				h.send(sms("mt", senderSeen, signed(termKey, tid, unknownNonce)))
			},
		},
		{
			name:   "held confirmation, platform says bound",
			script: []reply{failing(errUnreachable), failing(errUnreachable), boundAns(tid)},
			drive: func(h *harness) {
				h.finishScan()
				h.await("platform")
				h.send(sms("mt", senderSeen, signed(termKey, tid, unknownNonce)))
				h.await("platform")
				h.fire(h.await("after"))
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.script...)
			h.flags.saveErr = errSave
			h.start(config(t, termKey))
			tt.drive(h)
			// Bound, but not saved: the agent stays up, says so, keeps the
			// confirmation and retries with backoff.
			h.await("save")
			e := h.await("after")
			assert.Equal(t, 3750*time.Millisecond, e.d, "first save retry: 5 s backoff, jittered (the test's Rand: the middle)")
			assert.False(t, h.returned(), "input: Save fails; got Run returned, want it to stay up and retry")
			assert.Empty(t, h.inbox.deleted(), "input: Save fails; got deleted %q, want the confirmation kept in the modem", h.inbox.deleted())
			last := h.disp.last()
			assert.Equal(t, display.StateError, last.State, "input: Save fails; got screen %+v, want the error screen", last)
			assert.Contains(t, last.Error, "activated (bound to "+masked+"), but the binding could not be saved")
			assert.Len(t, h.logRecords("bound, but the binding record cannot be saved; retrying (the confirmation stays in the modem): free or fix the state directory"), 1)

			h.fire(e) // still read-only: another try, a longer wait, no new log line
			h.await("save")
			e = h.await("after")
			assert.Equal(t, 7500*time.Millisecond, e.d, "second save retry: the backoff doubled")
			assert.Len(t, h.logRecords("bound, but the binding record cannot be saved; retrying (the confirmation stays in the modem): free or fix the state directory"), 1, "logged once per change")

			h.flags.mu.Lock()
			h.flags.saveErr = nil // the flash is writable again
			h.flags.mu.Unlock()
			h.fire(e)
			out, err := h.result()
			require.NoError(t, err)
			assert.Len(t, h.flags.saved(), 3)
			assert.Equal(t, flagstore.SourceSMS == out.Record.Source || flagstore.SourcePlatform == out.Record.Source, true)
			assert.NotEmpty(t, h.inbox.deleted(), "deleted once durable")
			assert.Equal(t, display.StateBound, h.disp.last().State)
			h.plat.assertUsed(t)
		})
	}
}

// 11: with no configured terminal ID the modem's IMEI is the terminal ID.
func TestRunTerminalIDFromIMEI(t *testing.T) {
	imeiKey := confirm.DeriveKey(masterKey, imei)
	h := newHarness(t, notBound(imei, nonce))
	cfg := config(t, imeiKey)
	cfg.TerminalID = ""
	h.start(cfg)
	h.await("imei")
	h.finishScan()
	e := h.await("platform")
	assert.Equal(t, imei, e.detail, "input: TerminalID empty, IMEI %s; got platform asked about %q, want the IMEI", imei, e.detail)
	h.await("after")
	assert.Equal(t, imei, h.disp.last().TerminalID, "got prompt %+v, want the IMEI as terminal ID", h.disp.last())
	assert.Equal(t, []string{""}, h.flags.loaded(), "got Load calls %q, want one for any terminal", h.flags.loaded())

	h.send(sms("mt", senderSeen, signed(imeiKey, imei, nonce)))
	out, err := h.result()
	require.NoError(t, err)
	assert.Equal(t, imei, out.Record.TerminalID)
	assert.Equal(t, flagstore.SourceSMS, out.Record.Source)
	h.plat.assertUsed(t)
}

func TestRunIMEIFails(t *testing.T) {
	errIMEI := errors.New("modem: AT+CGSN: no answer")
	h := newHarness(t)
	h.inbox.imeiErr = errIMEI
	cfg := config(t, termKey)
	cfg.TerminalID = ""
	out, err := h.run(cfg)
	require.ErrorIs(t, err, errIMEI, "input: IMEI fails; got err %v, want it returned", err)
	assert.Equal(t, boot.Outcome{}, out)
	assert.True(t, h.inbox.stopped.Load())
	h.plat.assertUsed(t)
}

// 12: cancellation ends Run with the context's error, after the inbox has
// stopped.
func TestRunCancelled(t *testing.T) {
	tests := []struct {
		name   string
		script []reply
		drive  func(h *harness)
	}{
		{
			name:  "waiting for the first scan",
			drive: func(h *harness) { h.await("after") },
		},
		{
			name:   "waiting for a confirmation",
			script: []reply{notBound(tid, nonce)},
			drive: func(h *harness) {
				h.finishScan()
				h.await("platform")
				h.await("after")
			},
		},
		{
			name:   "waiting for the platform to come back",
			script: []reply{failing(errUnreachable)},
			drive: func(h *harness) {
				h.finishScan()
				h.await("platform")
				h.await("after")
			},
		},
		{
			name:   "holding a confirmation",
			script: []reply{failing(errUnreachable), failing(errUnreachable)},
			drive: func(h *harness) {
				h.finishScan()
				h.await("platform")
				h.send(sms("held", senderSeen, signed(termKey, tid, unknownNonce)))
				h.await("platform")
				h.await("after")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.script...)
			h.start(config(t, termKey))
			tt.drive(h)
			assert.False(t, h.returned(), "got: Run returned before cancellation; want: waiting")
			assertCanceled(t, h)
			assert.Empty(t, h.flags.saved())
			assert.Empty(t, h.inbox.deleted(), "input: cancelled; got deleted %q, want nothing deleted", h.inbox.deleted())
			h.plat.assertUsed(t)
		})
	}
}

// 13: a held message delivered again (a re-scan) is not judged again.
func TestRunHeldMessageDeliveredAgain(t *testing.T) {
	tests := []struct {
		name  string
		drive func(h *harness, m modem.Message) event // returns the After to fire
	}{
		{
			name: "again during the start-up scan",
			drive: func(h *harness, m modem.Message) event {
				h.send(m) // platform call 1 fails: held
				h.await("platform")
				h.send(m)
				h.barrier()
				assert.Len(t, h.plat.called(), 1, "input: held SMS delivered twice; got %d platform calls, want 1", len(h.plat.called()))
				h.finishScan()
				h.await("platform") // call 2 fails
				return h.await("after")
			},
		},
		{
			name: "again while waiting",
			drive: func(h *harness, m modem.Message) event {
				h.finishScan()
				h.await("platform") // call 1 fails
				h.await("after")
				h.send(m) // call 2 fails: held
				h.await("platform")
				e := h.await("after")
				h.send(m)
				h.barrier()
				assert.Len(t, h.plat.called(), 2, "input: held SMS delivered twice; got %d platform calls, want 2", len(h.plat.called()))
				return e
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, failing(errUnreachable), failing(errUnreachable), boundAns(tid))
			h.start(config(t, termKey))
			m := sms("held", senderSeen, signed(termKey, tid, unknownNonce))
			e := tt.drive(h, m)
			assert.Len(t, h.logRecords("SMS received"), 2, "input: held SMS delivered twice and one foreign SMS; got %d judged, want 2", len(h.logRecords("SMS received")))
			h.fire(e) // call 3: bound
			out, err := h.result()
			require.NoError(t, err)
			assert.Equal(t, flagstore.SourcePlatform, out.Record.Source)
			assert.Equal(t, []string{"delete:barrier-1", "save:platform", "delete:held"}, h.events.list("save", "delete"))
			h.plat.assertUsed(t)
		})
	}
}
