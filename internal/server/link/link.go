// Package link is the platform's side of the SMS centre: it hands one MT
// part at a time to the SMS centre and says whether it was accepted.
// [HTTP] speaks Kannel's sendsms interface (receipts come back through
// /v1/sms/dlr); [SIM] delivers in process to a simulated network
// (netsim), as the SMS-DELIVER PDU the terminal's modem receives. The SMPP
// link is the next issue.
//
// A Link is safe for concurrent use and starts no goroutines; every Send
// is bounded by its context.
package link

import (
	"context"
	"errors"

	"bindpay/internal/smsenc"
)

// Part is one MT part to send.
type Part struct {
	ID        int64 // our part id, carried back by delivery receipts
	MessageID int64
	From, To  string // short code; E.164 recipient
	Text      string // this part's text (smsenc.Split)
	Concat    smsenc.Concat
}

// Result is what the SMS centre said.
type Result struct {
	SMSCID    string // its id for the part, when it gives one
	Delivered bool   // already delivered (in-process links)
}

// Link sends MT parts.
type Link interface {
	Send(ctx context.Context, p Part) (Result, error)
}

// ErrRejected: the SMS centre refused the part for good (not worth a
// retry: bad number, refused content).
var ErrRejected = errors.New("rejected by the SMS centre")
