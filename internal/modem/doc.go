// Package modem receives the binding confirmation SMS on the terminal's own
// GSM modem, over an AT-command serial port.
//
// The port is handed in as an io.ReadWriter (opened by the caller with
// go.bug.st/serial; a pty in tests) and driven with github.com/warthog618/modem/at.
// Messages are taken from the modem's storage, never routed (+CMT): the
// modem is told to store every SMS and announce it with +CMTI, every
// (re)initialisation scans the storage with AT+CMGL=4, and a message is
// deleted only when the caller says its outcome is durable. An SMS that
// arrives while the agent is down, busy or crashing therefore stays in the
// modem until it has been handled.
//
// Ownership: a Session wraps one AT session on one open port; its
// indication handlers run in goroutines started by package at, which only
// hand the storage index to the Session's channel and exit when the Session
// stops. A Receiver owns the loop that opens the port, initialises a
// Session, scans, waits for indications and serves Delete requests; it runs
// in the goroutine that calls Receiver.Run and is the only code that issues
// AT commands while it runs.
package modem
