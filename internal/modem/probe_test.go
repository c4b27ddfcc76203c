package modem

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.bug.st/serial"
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
