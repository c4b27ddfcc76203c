package boot_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bindpay/internal/flagstore"
)

// A signed confirmation found by the start-up scan, before the platform's
// first answer, is accepted once that answer issues its nonce — not
// rejected because the answer says bound:false.
func TestRunScanConfirmationNonceIssuedByFirstAnswer(t *testing.T) {
	h := newHarness(t, notBound(tid, nonce))
	h.start(config(t, termKey))
	h.send(sms("scan-1", senderSeen, signed(termKey, tid, nonce)))
	out, err := h.result()
	require.NoError(t, err)
	want := flagstore.Record{TerminalID: tid, MSISDN: masked, Source: flagstore.SourceSMS, BoundAt: clockNow.UTC(), Nonce: nonce, Token: smsToken(termKey, tid, nonce)}
	assert.Equal(t, want, out.Record, "input: scanned confirmation whose nonce the first answer issues; got %+v, want %+v", out.Record, want)
	assert.Equal(t, []string{"save:sms", "delete:scan-1"}, h.events.list("save", "delete"))
	h.plat.assertUsed(t)
}

// A foreign SMS does not bring the next platform query forward once no
// message is held any more.
func TestRunForeignSMSLeavesPollTimer(t *testing.T) {
	h := newHarness(t, failing(errUnreachable), failing(errUnreachable), notBound(tid, "n0ther"))
	h.start(config(t, termKey))
	h.send(sms("scan-1", senderSeen, signed(termKey, tid, nonce))) // held: platform down
	h.await("platform")
	h.finishScan()
	h.await("platform")
	h.fire(h.await("after"))
	h.await("delete") // the held one is rejected by the answer
	e := h.await("after")
	assert.Equal(t, poll, e.d, "after a good answer the next query is at the poll interval")
	h.barrier() // a foreign SMS
	h.barrier() // taken only after the loop finished with the first one
	afters := 0
	for _, ev := range h.events.all() {
		if ev.kind == "after" {
			afters++
		}
	}
	assert.Equal(t, 3, afters, // scan wait, retry while down, poll
		"input: foreign SMS with nothing held; got a new platform timer, want none (events %v)", h.events.all())
	assertCanceled(t, h)
	h.plat.assertUsed(t)
}
