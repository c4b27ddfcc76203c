// Package modemsim simulates a GSM modem (Quectel/SIMCom-like, PDU mode)
// that speaks AT commands on a pseudo-terminal.
//
// It exists so that bindpay's agent can be tested, and demonstrated, through
// the very code path it uses in the field: the agent opens [Modem.Path] with
// go.bug.st/serial and drives it with github.com/warthog618/modem/at. The
// network simulator (internal/netsim) puts incoming SMS into the modem with
// [Modem.Deliver]; tests put messages that "arrived while the agent was down"
// there with [Modem.Store], read the modem's storage with [Modem.Stored] and
// wait for the agent's commands with [Modem.WaitFor]. [EncodeDeliver] builds
// the SMS-DELIVER PDUs to feed it.
//
// # What is simulated
//
// Echo (on at power-on, ATE0/ATE1), numeric or verbose errors (AT+CMEE),
// identity (ATI, +CGMI, +CGMM, +CGMR, +CGSN, +CIMI, +CCID), SIM and network
// status (+CPIN, +CSQ, +CREG, +COPS), and SMS storage in "SM" with 1-based
// indexes (+CPMS, +CMGF, +CNMI, +CMGL, +CMGR, +CMGD, +CSMS, +CSCA, +CSCS).
// Several commands may share a line, separated by ';'. Unknown commands
// answer a plain ERROR, as real modems do even with AT+CMEE=1.
//
// Deliberate simplifications, each answering an error rather than
// pretending:
//   - Only PDU mode is simulated. AT+CMGF=1 is accepted, but then AT+CMGL and
//     AT+CMGR answer +CMS ERROR: 303 (plain ERROR with AT+CMEE=0).
//   - Only stored delivery is simulated: AT+CNMI accepts <mt> 0 (no
//     indication) and 1 (+CMTI); 2 and 3 (routing with +CMT/+CDS) answer
//     +CMS ERROR: 303. <mode> is accepted (0-2) but not simulated: with
//     <mt>=1 the +CMTI is always sent, never buffered.
//   - Sending SMS (+CMGS, +CMGW) and the '>' prompt are not simulated.
//   - An ESC byte discards the line received so far; a line that is only ESC
//     (as at.Init sends) is thus ignored and not recorded.
//
// # Goroutines and ownership
//
// New starts exactly one goroutine, the server, which Close stops and waits
// for. The server owns the pty master: it alone reads from it and it alone
// writes to it, so replies and +CMTI indications can never interleave. The
// modem state (settings, storage, the command log, pending indications) lives
// in a state value guarded by Modem.mu; the server holds the mutex while it
// executes a command line (pure computation, no I/O) and releases it before
// writing the reply.
//
// Store, Deliver, Stored, Commands and WaitFor may be called from any
// goroutine. Deliver stores the PDUs under the mutex, queues the +CMTI lines
// and wakes the server by setting a read deadline in the past on the master
// (the master is non-blocking and registered with Go's poller, so a deadline
// interrupts a blocked Read). The server clears the deadline, writes the
// queued indications, then reads again: indications go out between replies,
// never inside one, and an indication queued before a command line arrives is
// written before that command's reply.
//
// All bytes to the client pass through Modem.write, the one place where later
// fault injection (echo quirks, URC noise, delays, baud throttling) and
// vendor profiles are meant to hook in.
//
// # The pty
//
// The slave is put in raw mode before any client opens it (a fresh pty slave
// echoes and maps CR to LF). The Modem keeps its own slave descriptor open for
// its whole life, so the master never reads EIO when a client closes the port
// between sessions: clients may close and reopen [Modem.Path] at will, and the
// storage survives. Bytes written while no client has the port open stay in
// the tty buffer and reach the next client, like a real modem's output after
// the host crashed.
//
// pty.Open leaves the master in blocking mode, and closing a blocking *os.File
// does not wake a goroutine blocked in Read on it. New therefore duplicates
// the master descriptor, sets the duplicate non-blocking, wraps it with
// os.NewFile (which registers it with the poller) and closes the original.
// Close then wakes the server at once, the master is really closed, and the
// client sees the hang-up (go.bug.st/serial reports "Port has been closed"
// and an at.AT's Closed channel fires).
package modemsim
