package boot_test

import (
	"testing"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bindpay/internal/flagstore"
)

func newLedger(t *testing.T) *flagstore.Ledger {
	t.Helper()
	fsys := afero.NewMemMapFs()
	require.NoError(t, fsys.MkdirAll("/state", 0o755))
	return flagstore.NewLedger(fsys, "/state", nil)
}

// A nonce issued before a restart still lets a signed confirmation bind
// offline; the accepted nonce is consumed.
func TestRunNonceIssuedBeforeRestart(t *testing.T) {
	l := newLedger(t)
	require.NoError(t, l.Issue(nonce))
	h := newHarness(t, failing(errUnreachable)) // the platform is down now
	h.ledger = l
	h.start(config(t, termKey))
	h.send(sms("scan-1", senderSeen, signed(termKey, tid, nonce)))
	out, err := h.result()
	require.NoError(t, err)
	assert.Equal(t, flagstore.SourceSMS, out.Record.Source, "accepted offline with the remembered nonce")
	n, err := l.Nonces()
	require.NoError(t, err)
	assert.Equal(t, []string{nonce}, n.Consumed, "the accepted nonce is used up")
	assert.Empty(t, n.Issued)
}

// A confirmation whose nonce was consumed is a replay: rejected, logged in
// the inbox log, deleted — even when the platform would say bound.
func TestRunReplayRejected(t *testing.T) {
	l := newLedger(t)
	require.NoError(t, l.Issue(nonce))
	require.NoError(t, l.Consume(nonce))
	h := newHarness(t, notBound(tid, "fresh1"))
	h.ledger = l
	h.start(config(t, termKey))
	h.finishScan()
	h.await("after")
	h.send(sms("replay", senderSeen, signed(termKey, tid, nonce)))
	h.await("delete")
	reason, ok := h.rejection("replay")
	require.True(t, ok)
	assert.Contains(t, reason, "replayed confirmation")
	assert.Empty(t, h.events.list("save"), "nothing bound")
	entries, err := l.Inbox()
	require.NoError(t, err)
	require.Len(t, entries, 1)
	assert.Contains(t, entries[0].Reason, "replayed")
	assert.Equal(t, senderSeen, entries[0].From)
	n, err := l.Nonces()
	require.NoError(t, err)
	assert.Equal(t, []string{"fresh1"}, n.Issued, "the platform's fresh nonce is kept durably")
	assertCanceled(t, h)
}
