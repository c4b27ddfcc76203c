// Package netsim is the operator's network side of bindpay in one process,
// around the real platform: a bindpay-platform node (internal/server/node)
// on SQLite in a temporary directory, whose sim link hands its MTs to a
// simulated SMS centre, which stores them as SMS-DELIVER PDUs in each
// terminal's simulated modem, or in a phone's inbox; and a phone that
// texts the activation request to the SMS centre, which routes it to the
// platform's MO intake.
//
// It follows the patent's preferred embodiment (claims 4 to 7): the terminal
// asks the service platform whether it is bound; the user's phone texts
// "BIND <tid>" to the activation number; the SMS centre hands the request to
// the platform, whose OSS step binds and queues the confirmation, which its
// outbox sends through the SMS centre to the terminal's SIM. Everything of
// protocol v2 (nonces, signatures, the token, MO parsing, masking, the
// audit log) is the platform's; netsim only simulates the radio side.
//
// netsim is what the demo (bindpay-netsim) and the end-to-end tests run
// against. It listens on nothing itself: [Network.Handler] is mounted by
// the caller. The terminal's SIM is a [Deliverer], in practice a
// *modemsim.Modem on a pty; [Network.AddTerminal] enrols the terminal with
// the SIM number [SIMNumber] derived from its ID.
//
// Ownership: the Network owns the platform node's background loops (its
// outbox, activation retries, MO pruning), started by [New] on one
// goroutine and stopped by [Network.Close], which waits for them, closes
// the store and removes the temporary directory. The SMS centre's state
// (SIMs, phones' inboxes) is guarded by Network.mu; HTTP handlers and the
// exported methods may be called from any goroutine. A confirmation delay
// ([Config.ConfirmDelay]) runs inside the outbox's send, bounded by its
// context.
//
// HTTP API, all JSON:
//
//	GET  /v1/terminals/{tid}/binding   the platform's terminal API (protocol v2)
//	     /v1/sms/mo, /v1/sms/dlr       the platform's gateway callbacks (no key: unused by netsim)
//	     /v1/admin/...                 the platform's admin API, when Config.AdminToken is set
//	POST /v1/phone/sms                 a phone's MO SMS: {"from","to","body"} → 202
//	POST /v1/sim/sms                   an arbitrary MT SMS into a terminal's modem: {"terminal","from","text","alpha"} → 200
package netsim
