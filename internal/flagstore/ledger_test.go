package flagstore

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLedgerNonces(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			fsys, dir := b.make(t)
			l := NewLedger(fsys, dir, fixedClock)
			n, err := l.Nonces()
			require.NoError(t, err)
			assert.Empty(t, n.Issued, "no file: no nonces")

			require.NoError(t, l.Issue("aaa"))
			require.NoError(t, l.Issue("bbb"))
			require.NoError(t, l.Issue("aaa"), "issuing twice is a no-op")
			n, err = NewLedger(fsys, dir, fixedClock).Nonces() // as after a reboot
			require.NoError(t, err)
			assert.Equal(t, []string{"aaa", "bbb"}, n.Issued)

			require.NoError(t, l.Consume("aaa"))
			n, err = l.Nonces()
			require.NoError(t, err)
			assert.Equal(t, []string{"bbb"}, n.Issued, "a consumed nonce is no longer issued")
			assert.Equal(t, []string{"aaa"}, n.Consumed)

			for i := range MaxIssued + 5 {
				require.NoError(t, l.Issue(fmt.Sprintf("n%02d", i)))
			}
			n, err = l.Nonces()
			require.NoError(t, err)
			assert.Len(t, n.Issued, MaxIssued, "bounded")
			assert.Equal(t, fmt.Sprintf("n%02d", MaxIssued+4), n.Issued[MaxIssued-1], "newest kept")
			assert.Equal(t, []string{"aaa"}, n.Consumed, "issuing never forgets a consumed nonce")
		})
	}
}

func TestLedgerCorruptNonces(t *testing.T) {
	fsys := afero.NewMemMapFs()
	require.NoError(t, fsys.MkdirAll("/s", 0o755))
	require.NoError(t, afero.WriteFile(fsys, "/s/"+NoncesFile, []byte("{oops"), 0o644))
	l := NewLedger(fsys, "/s", fixedClock)
	n, err := l.Nonces()
	assert.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), "moved to /s/nonces.json.corrupt-")
	assert.Empty(t, n.Issued)
	require.NoError(t, l.Issue("x"), "a fresh file replaces the quarantined one")
	n, err = l.Nonces()
	require.NoError(t, err)
	assert.Equal(t, []string{"x"}, n.Issued)
}

func TestLedgerInbox(t *testing.T) {
	fsys := afero.NewMemMapFs()
	require.NoError(t, fsys.MkdirAll("/s", 0o755))
	l := NewLedger(fsys, "/s", fixedClock)
	long := strings.Repeat("号", 200)
	require.NoError(t, l.LogRejected(InboxEntry{Time: clockAt, From: "+8613900000000", Reason: "sender not allowed", Text: long}))
	entries, err := l.Inbox()
	require.NoError(t, err)
	require.Len(t, entries, 1)
	assert.Equal(t, InboxText, utf8.RuneCountInString(entries[0].Text), "text clipped to %d characters", InboxText)
	assert.Equal(t, "sender not allowed", entries[0].Reason)
	for i := range MaxInbox + 3 {
		require.NoError(t, l.LogRejected(InboxEntry{Time: clockAt, From: "x", Reason: fmt.Sprint(i)}))
	}
	entries, err = l.Inbox()
	require.NoError(t, err)
	assert.Len(t, entries, MaxInbox, "bounded")
	assert.Equal(t, fmt.Sprint(MaxInbox+2), entries[MaxInbox-1].Reason, "newest last")
	files, err := afero.ReadDir(fsys, "/s")
	require.NoError(t, err)
	assert.Len(t, files, 1, "no temporary files left")
}

func TestConsumeIssued(t *testing.T) {
	fsys := afero.NewMemMapFs()
	l := NewLedger(fsys, "/s", nil)
	require.NoError(t, fsys.MkdirAll("/s", 0o700))
	require.NoError(t, l.Issue("a"))
	require.NoError(t, l.Issue("b"))
	require.NoError(t, l.Consume("c"))

	require.NoError(t, l.ConsumeIssued("d", "", "c"))
	n, err := l.Nonces()
	require.NoError(t, err)
	assert.Empty(t, n.Issued, "no nonce stays issued once the terminal is bound")
	assert.ElementsMatch(t, []string{"a", "b", "c", "d"}, n.Consumed)

	before, err := afero.ReadFile(fsys, "/s/"+NoncesFile)
	require.NoError(t, err)
	fi, err := fsys.Stat("/s/" + NoncesFile)
	require.NoError(t, err)
	require.NoError(t, l.ConsumeIssued("a"), "again, nothing new")
	after, err := afero.ReadFile(fsys, "/s/"+NoncesFile)
	require.NoError(t, err)
	fi2, err := fsys.Stat("/s/" + NoncesFile)
	require.NoError(t, err)
	assert.Equal(t, before, after)
	assert.Equal(t, fi.ModTime(), fi2.ModTime(), "nothing rewritten when nothing changed")
}
