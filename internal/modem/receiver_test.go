package modem

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.bug.st/serial"

	"bindpay/internal/modemsim"
)

// startReceiver runs a Receiver on a simulated modem over a real pty, opened
// the way the agent opens a modem.
func startReceiver(t *testing.T, sim *modemsim.Modem) *Receiver {
	t.Helper()
	return startReceiverWith(t, sim, nil)
}

// startReceiverWith is startReceiver with the Config adjusted by adjust.
func startReceiverWith(t *testing.T, sim *modemsim.Modem, adjust func(*Config)) *Receiver {
	t.Helper()
	cfg := Config{
		Open: func(context.Context) (io.ReadWriteCloser, error) {
			return serial.Open(sim.Path(), &serial.Mode{BaudRate: 115200})
		},
		CommandTimeout: 5 * time.Second,
		BackoffMin:     10 * time.Millisecond,
	}
	if adjust != nil {
		adjust(&cfg)
	}
	r := NewReceiver(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		assert.ErrorIs(t, <-done, context.Canceled, "Run returns ctx's error")
	})
	return r
}

func newSim(t *testing.T, opts ...modemsim.Option) *modemsim.Modem {
	t.Helper()
	sim, err := modemsim.New(append([]modemsim.Option{modemsim.WithIMEI("861234567890123")}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { sim.Close() })
	return sim
}

func next(t *testing.T, r *Receiver) Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	select {
	case m := <-r.Messages():
		return m
	case <-ctx.Done():
		t.Fatal("no message from the receiver within 10 s")
		return Message{}
	}
}

func TestReceiverScanIndicationDelete(t *testing.T) {
	sim := newSim(t)
	long := "【号码绑定支付】终端STB0012345678已开通，绑定号码138****8000。" +
		"本服务由运营商提供，资费以短信通知为准，如有疑问请拨打客服热线。BP1 t=STB0012345678 m=138****8000"
	early := encode(t, "10658000", long, 1)
	require.Len(t, early, 2)
	_, err := sim.Store(early...)
	require.NoError(t, err)

	r := startReceiver(t, sim)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	imei, err := r.IMEI(ctx)
	require.NoError(t, err)
	assert.Equal(t, "861234567890123", imei)

	m := next(t, r)
	assert.Equal(t, long, m.Text, "stored before start: found by the scan")
	assert.Equal(t, "10658000", m.Sender)
	assert.Len(t, m.Indexes, 2)
	select {
	case <-r.Scanned():
	case <-ctx.Done():
		t.Fatal("Scanned not closed after the first scan was handed over")
	}
	assert.Len(t, sim.Stored(), 2, "nothing deleted before the caller says so")

	live := encode(t, "+8613900139000", "hello", 2)
	_, err = sim.Deliver(live...)
	require.NoError(t, err)
	m2 := next(t, r)
	assert.Equal(t, "hello", m2.Text, "announced with +CMTI")

	require.NoError(t, r.Delete(ctx, m))
	require.NoError(t, r.Delete(ctx, m2))
	assert.Empty(t, sim.Stored(), "deleted on request")
	cmds := sim.Commands()
	assert.Contains(t, cmds, "AT+CMGL=4", "scan lists read and unread messages")
	assert.Contains(t, cmds, "AT+CNMI=2,1,0,0,0", "new messages stored and announced")
	assert.NotContains(t, cmds, "AT+CNMI=2,2,0,0,0", "never routed with +CMT")
}

func TestReceiverDeleteWhileDisconnected(t *testing.T) {
	r := NewReceiver(Config{
		Open: func(context.Context) (io.ReadWriteCloser, error) {
			return nil, io.ErrUnexpectedEOF
		},
		BackoffMin: time.Hour, // stays in its pause
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	err := r.Delete(context.Background(), Message{ID: "1/x", Indexes: []int{1}})
	assert.ErrorIs(t, err, ErrNotConnected)
}
