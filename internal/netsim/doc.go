// Package netsim is the operator's network side of bindpay in one process:
// the service platform (PS domain, HTTP), the OSS that records which number
// pays for which terminal, the SMS platform (CS domain) that takes the
// activation SMS from a phone and sends the confirmation SMS to the
// terminal's modem, and a phone that texts the activation request.
//
// It follows the patent's preferred embodiment (claims 4 to 7): the terminal
// asks the service platform whether it is bound; the user's phone texts
// "BIND <tid>" to the activation number; the SMS platform forwards the
// request to the OSS, which activates and tells the service platform, which
// has the SMS platform send the confirmation to the terminal as an SMS.
//
// netsim is the reference for platform integrators and what the demo
// (bindpay-netsim) and the end-to-end tests run against. It listens on
// nothing itself: [Network.Handler] is mounted by the caller. The terminal's
// SIM is a [Deliverer], in practice a *modemsim.Modem on a pty.
//
// Ownership: all state of a [Network] (terminals, bindings, issued nonces,
// the concatenation reference counter) is guarded by Network.mu; HTTP
// handlers and the exported methods may be called from any goroutine. The
// only goroutines netsim starts are the MT confirmation deliveries, one per
// confirmation, owned by the Network: each waits for Config.ConfirmDelay on
// a timer, delivers, and exits; [Network.Close] cancels the pending ones and
// waits for all of them.
//
// HTTP API, all JSON:
//
//	GET  /v1/terminals/{tid}/binding   service platform: is the terminal bound? (optionally signed)
//	POST /v1/phone/sms                 a phone's MO SMS: {"from","to","body"} → 202
//	POST /v1/sim/sms                   an arbitrary MT SMS into a terminal's modem: {"terminal","from","text"} → 200
package netsim
