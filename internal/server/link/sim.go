package link

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"bindpay/internal/smsenc"
)

// SIMNetwork is the simulated network (netsim) as the sim link sees it:
// it takes an MT part for the number to, as the SMS-DELIVER PDU (PDU-mode
// hex) the SIM of that number receives, and reports whether it was
// delivered.
type SIMNetwork interface {
	DeliverPDU(ctx context.Context, to, pduHex string) error
}

// SIM is the in-process link to a simulated network: each part is encoded
// as an SMS-DELIVER PDU and handed over; a part the network took is
// delivered.
type SIM struct {
	Network SIMNetwork
	SMSC    string           // the SMS centre address in the PDUs, default +8613800100500
	Now     func() time.Time // service centre time stamps; default time.Now
}

var _ Link = (*SIM)(nil)

// Send encodes and delivers one part.
func (s *SIM) Send(ctx context.Context, p Part) (Result, error) {
	now, smsc := time.Now, s.SMSC
	if s.Now != nil {
		now = s.Now
	}
	if smsc == "" {
		smsc = "+8613800100500"
	}
	c := p.Concat
	if c.Total == 0 {
		c = smsenc.Concat{Seq: 1, Total: 1}
	}
	pdu, err := smsenc.Deliver(p.From, p.Text, c, now().Truncate(time.Second), smsc)
	if err != nil {
		return Result{}, fmt.Errorf("link sim: part %d: %w: %w", p.ID, ErrRejected, err)
	}
	if err := s.Network.DeliverPDU(ctx, p.To, pdu); err != nil {
		return Result{}, fmt.Errorf("link sim: part %d to %s: %w", p.ID, p.To, err)
	}
	return Result{SMSCID: "sim-" + strconv.FormatInt(p.ID, 10), Delivered: true}, nil
}
