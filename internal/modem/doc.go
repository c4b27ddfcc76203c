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
// Nothing the modem sends can grow the agent's memory or its work without
// bound: the line filter cuts lines at maxLine and replies at maxReplyLines
// and maxReplyBytes, and takes +CMTI and RDY out of the stream itself
// (package at would start a goroutine per indication line); indications
// are coalesced into a set of at most maxPendingIndexes indexes and one
// wake-up, and re-scans they ask for are at least rescanGap apart.
//
// Deleting is only done when certain (DESIGN "Acceptance" rule 4): a PDU
// whose length differs from its +CMGL/+CMGR header is read again before
// anything is made of it, and Receiver.Discard deletes a message only when
// a fresh AT+CMGR of every slot gives the bytes it was built from. What
// fills the storage without being a message for the agent — concatenated
// parts that stay incomplete, duplicated parts, and with storage full
// drafts and unreadable slots — is handed over as eviction candidates
// (Message.Err wraps ErrIncomplete, ErrDuplicatePart, ErrDraft or
// ErrUnparseable) for the caller to log and Discard.
//
// Ownership: a Session wraps one AT session on one open port. Package at's
// reader goroutine runs the line filter, which hands indications to the
// Session under its mutex and signals a channel of one; it never blocks.
// A Receiver owns the loop that opens the port, initialises a Session,
// scans, waits for indications and serves Delete and Discard requests; it
// runs in the goroutine that calls Receiver.Run and is the only code that
// issues AT commands while it runs.
package modem
