// Rule 4 of DESIGN's acceptance (delete only when certain), end to end: the
// flow removes every rejected message and every eviction candidate with
// modem.Receiver.Discard, which re-reads each slot and deletes only when the
// bytes are the same.

package e2e

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bindpay/internal/modemsim"
)

// TestFlippedDigitConfirmationNotDeleted: the confirmation, stored while
// the agent was down, is listed once with a flipped digit (a bit error on
// the board's UART): the length is right, the signature is not. The
// rejection is not certain (a second AT+CMGR gives other bytes), so
// nothing is deleted; the slot read again is judged again and binds, with
// the service platform down: only the SMS can bind.
func TestFlippedDigitConfirmationNotDeleted(t *testing.T) {
	w := newWorld(t)
	slots := confirmationStoredWhileDown(t, w)
	require.NoError(t, w.sim.CorruptListing(slots[1].Index, modemsim.CorruptFlip, 1))

	a, code := runAgent(t, w.args()...)
	require.Equal(t, exitBound, code, "the confirmation binds")
	assert.Contains(t, a.stderr.String(), `why="signature valid, nonce issued to this terminal"`)
	assert.Equal(t, "sms", statusJSON(t, w)["source"])
	assert.Empty(t, w.sim.Stored(), "deleted once bound")
}
