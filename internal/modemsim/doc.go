// Package modemsim simulates a GSM modem that speaks AT commands on a
// pseudo-terminal, in the manner of several real modem families, with
// faults on demand.
//
// It exists so that bindpay's agent can be tested, and demonstrated, through
// the very code path it uses in the field: the agent opens [Modem.Path] with
// go.bug.st/serial and drives it with github.com/warthog618/modem/at. The
// network simulator (internal/netsim) puts incoming SMS into the modem with
// [Modem.Deliver]; tests put messages that "arrived while the agent was down"
// there with [Modem.Store], read the modem's storage with [Modem.Stored],
// wait for the agent's commands with [Modem.WaitFor] and for the modem's
// condition with [Modem.WaitStatus]. [EncodeDeliver] builds the
// SMS-DELIVER PDUs to feed it.
//
// # What is simulated
//
// Echo (on at power-on, ATE0/ATE1; ATZ and AT&F restore the power-on
// setting), numeric or verbose errors (AT+CMEE), identity (ATI, +CGMI,
// +CGMM, +CGMR, +CGSN, +CIMI, +CCID, +QCCID, +CICCID), SIM and network
// status (+CPIN, +CSQ, +CREG, +CGREG, +CEREG, +COPS, +CGATT, +CFUN), and
// SMS storage in "SM" (+CPMS, +CMGF, +CNMI, +CMGL, +CMGR, +CMGD, +CSMS,
// +CSCA, +CSCS, +CMMS, +CSDH, +CLIP). A line may hold basic commands (E0,
// V1, Q0, &C1, &D2, &F, Z, H, Sn=v, Sn?) followed by extended ones
// separated by ';' ("ATE0+CMEE=1;+CREG=2"); the first error ends the line.
// Unknown commands answer the profile's final error (ERROR unless
// WithFinalError), even with AT+CMEE=1, as real modems do.
//
// The commands smstools3's smsd and gammu-smsd send were recorded by
// running them against the simulator; they work, or fail as unknown
// commands fail on real modems (TestSMSDaemonCommands lists them).
//
// Deliberate simplifications, each answering an error rather than
// pretending:
//   - Only PDU mode is simulated. AT+CMGF=1 is accepted, but then AT+CMGL
//     and AT+CMGR answer +CMS ERROR: 303 (ERROR with AT+CMEE=0); smsd and
//     gammu use PDU mode by default.
//   - Only stored delivery is simulated: AT+CNMI accepts <mt> 0 (no
//     indication) and 1 (+CMTI); 2 and 3 (routing with +CMT/+CDS) answer
//     +CMS ERROR: 303. <mode> is accepted (0-2, or the WithCNMIModes pairs)
//     but not simulated: with <mt>=1 the +CMTI is always sent at once.
//   - Sending SMS (+CMGS, +CMGW) and the '>' prompt are not simulated;
//     neither are numeric results (ATV0) nor quiet mode (ATQ1).
//   - An ESC byte discards the line received so far; a line that is only ESC
//     (as at.Init sends) is thus ignored and not recorded.
//
// # Profiles
//
// [WithProfile] selects a bundle of quirks; [Profiles] lists them. The
// profile applies first, the other options adjust it, so a test can take
// a profile and shorten its windows or turn its noise off.
//
//   - generic (default): the modem as it always was. Quectel EC20F
//     identity, echo on, no boot lines, CRLF, 1-based indexes, empty alpha
//     (+CMGL: 1,0,,24), ERROR for unknown commands, silent when full.
//   - quectel (EC25): boot lines RDY, +CFUN: 1, then +CPIN: READY and
//     +QUSIM: 1 once the SIM is no longer busy (500 ms), then +QIND: SMS
//     DONE and +QIND: PB DONE once SMS is ready (2 s); +QURCCFG, +QINDCFG
//     and +QCFG accepted.
//   - simcom (SIM7600): boot lines RDY, +CPIN: READY (SIM busy for 1 s),
//     SMS DONE and PB DONE (SMS ready after 1.5 s); +CSUB.
//   - sim800 (SIM800L): boot lines RDY, +CFUN: 1, +CPIN: READY, Call
//     Ready, SMS Ready (SMS ready after 3 s).
//   - huawei (ME909s): boot line ^SYSSTART; every line ends in \r\r\n;
//     unknown commands answer COMMAND NOT SUPPORT; AT+CNMI accepts only
//     0,0 and 1,1 (AT+CNMI=? says (0,1),(0,1),…) so 2,1,0,0,0 fails and
//     1,1,0,0,0 works; ^RSSI, ^HCSQ, ^DSFLOWRPT and ^MODE lines slipped in
//     at 15% of output opportunities (seed 1) until AT^CURC=0; ^SMMEMFULL:
//     "SM" when a delivery finds the storage full; ^SYSCFG, ^SYSCFGEX
//     accepted.
//   - zte (MF626): every line ends in a bare \n; 0-based indexes (+CMTI:
//     "SM",0, +CMGL: 0,…, AT+CMGR=0); headers with a quoted empty alpha
//     (+CMGL: 0,0,"",24) and +CMGR without its stat (+CMGR: ,"",24);
//     +ZUSIMR:2 at 15% of output opportunities (seed 1); +ZCDRUN, +ZOPRT
//     accepted.
//
// The windows are wall-clock durations from power-on; during them the
// commands that read the SIM answer +CME ERROR: 14 (+CMS ERROR: 314 for
// SMS commands) and the SMS commands +CMS ERROR: 500, ERROR with
// AT+CMEE=0; +CREG? says 2 (searching) while the SIM is busy. A boot line
// starting with +CPIN: waits for the SIM, one announcing SMS ("SMS Ready",
// "SMS DONE") waits for SMS and a usable SIM, and each waits for those
// before it; "+CPIN: READY" reports the real state ("+CPIN: SIM PIN").
//
// # Faults
//
// [Modem.Reset] reboots the modem mid-session, [Modem.Hang] stops it
// answering, [Modem.Unplug] and [Modem.Replug] make the port vanish and
// come back as on USB re-enumeration, [Modem.InjectLine] and
// [Modem.InjectGarbage] put bytes on the line. Storage and the command log
// survive all of them. [WithNoise] slips seeded vendor URCs and garbage
// into every output opportunity (before an echo, between information lines
// and the result, next to a +CMTI, after a result): the same seed and the
// same commands give the same bytes. [WithBaud] paces the output like a
// UART.
//
// Faults of the receive path: [Modem.CorruptListing] and [Modem.CorruptRead]
// show a slot's PDU line wrong (a flipped digit, a lost octet, a stray hex
// line) for a number of listings or reads while the other command reads
// it true; [Modem.StoreDraft] stores drafts (stat 2, built with
// [EncodeSubmit]); [Modem.InjectStorm] writes one line thousands of times
// (an indication storm) and [Modem.InjectEndlessLine] megabytes without a
// line end. Partial and duplicated concatenated messages are stored parts
// of [EncodeDeliver]'s output.
//
// # Goroutines and ownership
//
// New starts exactly one goroutine, the server, which Close stops and waits
// for. The server owns the pty master of the current port: it alone reads
// from it and it alone writes to it, all through Modem.write, so replies,
// indications, boot lines and noise never interleave. The modem state
// (settings, storage, the command log), the current port, the action queue
// and the hung flag live under Modem.mu; the server holds the mutex while it
// executes a command line (state.execLine is pure: no I/O, no clock) and
// releases it before writing the reply. The noise generators, the window
// deadlines and the partial input line belong to the server alone.
//
// Every other method may be called from any goroutine. Deliver, Reset,
// InjectLine, InjectGarbage and Hang(false) queue their work under the
// mutex and wake the server by setting a read deadline in the past on the
// master (the master is non-blocking and registered with Go's poller, so a
// deadline interrupts a blocked Read). The server sets its own deadline
// (the end of the next window, or none) before it looks at the queue, so a
// wake-up is never lost. Queued lines go out between replies, never inside
// one, and a line queued before a command line arrives is written before
// that command's reply. Unplug and Close close the master, which wakes the
// server wherever it is blocked (Read, Write, or a paced wait), and close
// the port's gone channel, which tells the server the port went away on
// purpose; while unplugged the server waits for Replug.
//
// # The pty and Path
//
// [Modem.Path] is a symlink, in a private directory that New creates and
// Close removes, to the current pty slave ([Modem.Device], /dev/pts/N),
// like the udev rule's /dev/bindpay-modem on a real box; clients open
// through it. Unplug removes it and Replug makes it point to a new
// pty, so clients reopen Path and must not cache the device it resolves to.
//
// The slave is put in raw mode before any client opens it (a fresh pty
// slave echoes and maps CR to LF). The Modem keeps its own slave descriptor
// open for the port's whole life, so the master never reads EIO when a
// client closes the port between sessions: clients may close and reopen
// Path at will, and the storage survives. Bytes written while no client
// has the port open (boot lines, a +CMTI) stay in the tty buffer and reach
// the next client, like a real modem's output after the host crashed.
//
// pty.Open leaves the master in blocking mode, and closing a blocking *os.File
// does not wake a goroutine blocked in Read on it. The master descriptor is
// therefore duplicated, set non-blocking, wrapped with os.NewFile (which
// registers it with the poller) and the original closed. Close and Unplug
// then wake the server at once, the master is really closed, and the
// client sees the hang-up (a read fails, go.bug.st/serial reports "Port has
// been closed", and an at.AT's Closed channel fires).
package modemsim
