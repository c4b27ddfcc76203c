package modem

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.bug.st/serial"

	"bindpay/internal/modemsim"
)

func TestProbeHealthyModem(t *testing.T) {
	sim := newSim(t)
	port, err := serial.Open(sim.Path(), &serial.Mode{BaudRate: 115200})
	require.NoError(t, err)
	defer port.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := Probe(ctx, port, SessionConfig{})
	require.NoError(t, err)
	for _, c := range r.Checks() {
		assert.True(t, c.OK(), "%s: %s", c.Name, c.Err)
		assert.NotEmpty(t, c.Value, "%s has a value", c.Name)
	}
	assert.Equal(t, "861234567890123", r.IMEI.Value)
	assert.Equal(t, "READY", r.SIM.Value)
	assert.Contains(t, r.Indications.Value, "AT+CNMI=2,1")
}

func TestLeftovers(t *testing.T) {
	tests := []struct {
		name              string
		drafts, unread    []int
		used, total       int
		want, wantErrPart string
	}{
		{"none", nil, nil, 3, 30, "none", ""},
		{"one draft", []int{4}, nil, 3, 30, "slot 4 holds drafts (stored to be sent)", "frees them when storage is full"},
		{"drafts and unreadable, full", []int{1, 2}, []int{7}, 30, 30,
			"slots 1, 2 hold drafts (stored to be sent); slot 7 cannot be read", "frees them now: storage is full"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := leftovers(tc.drafts, tc.unread, tc.used, tc.total)
			assert.Equal(t, tc.want, v)
			if tc.wantErrPart == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErrPart)
		})
	}
}

func TestProbeReportsDraftsAndUnreadableSlots(t *testing.T) {
	sim := newSim(t)
	d, err := modemsim.EncodeSubmit("13800138000", "draft")
	require.NoError(t, err)
	_, err = sim.StoreDraft(d)
	require.NoError(t, err)
	idx, err := sim.Store(encode(t, "10658000", "hello", 1)...)
	require.NoError(t, err)
	require.NoError(t, sim.CorruptListing(idx[0], modemsim.CorruptShort, 1))
	require.NoError(t, sim.CorruptRead(idx[0], modemsim.CorruptShort, readTries))
	port, err := serial.Open(sim.Path(), &serial.Mode{BaudRate: 115200})
	require.NoError(t, err)
	defer port.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := Probe(ctx, port, SessionConfig{})
	require.NoError(t, err)
	assert.Equal(t, "slot 1 holds drafts (stored to be sent); slot 2 cannot be read", r.Leftovers.Value)
	assert.False(t, r.Leftovers.OK())
	assert.False(t, r.Leftovers.Needed)
	assert.Len(t, sim.Stored(), 2, "doctor deletes nothing")
}
