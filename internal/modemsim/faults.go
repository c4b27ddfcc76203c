package modemsim

import (
	"errors"
	"fmt"
	"os"
)

// Runtime faults. Each is safe to call from any goroutine; the work is
// handed to the serving goroutine, which does it at its next opportunity
// (at once when it is idle), so a test waits for the effect on the port or
// with WaitStatus, never with a sleep.

// Reset makes the modem restart as if its firmware rebooted mid-session:
// echo back as at power-on, CNMI off, PDU mode, AT+CMEE=0, a PIN-unlocked
// SIM locked again, the boot lines written again, and the SMS-not-ready
// and SIM-busy windows started again. A hung modem recovers. The SIM
// storage and the command log are kept; a partial command line is lost.
// Status().PowerOns counts the restart once it has happened. Reset does
// nothing while the modem is unplugged (Replug restarts it anyway) or
// closed.
func (m *Modem) Reset() {
	m.enqueue(action{kind: actReset})
}

// Hang makes the modem stop answering (on) or resume (off). A hung modem
// still reads command lines and records them (Commands) but executes none
// and writes nothing: lines queued for it (InjectLine, boot lines) wait for
// it to resume, and the indications of messages delivered meanwhile are
// lost, as they would be on a wedged modem. Reset and Replug also end it.
func (m *Modem) Hang(on bool) {
	m.mu.Lock()
	m.hung = on
	p := m.port
	m.broadcastLocked()
	m.mu.Unlock()
	if !on {
		wake(p)
	}
}

// InjectLine has the modem write an unsolicited line (framed with its line
// endings) at its next opportunity: at once when idle, or just before the
// next reply.
func (m *Modem) InjectLine(line string) {
	m.enqueue(action{kind: actLine, text: line})
}

// InjectGarbage has the modem write b as it is at its next opportunity.
func (m *Modem) InjectGarbage(b []byte) {
	m.enqueue(action{kind: actRaw, text: string(b)})
}

// enqueue hands a to the server; it is dropped while unplugged or closed.
func (m *Modem) enqueue(a action) {
	m.mu.Lock()
	p := m.port
	if p != nil && !m.closed {
		m.queue = append(m.queue, a)
	}
	m.mu.Unlock()
	wake(p)
}

// Unplug makes the port vanish, as a USB modem's does when it
// re-enumerates: the pty is closed, so a client with it open sees a
// hang-up (its reads fail, an at.AT's Closed fires), and Path no longer
// exists. Output not yet written is lost. The storage and command log are
// kept for Replug. It returns ErrUnplugged when already unplugged.
func (m *Modem) Unplug() error {
	m.plugMu.Lock()
	defer m.plugMu.Unlock()
	m.mu.Lock()
	p := m.port
	switch {
	case m.closed:
		m.mu.Unlock()
		return ErrClosed
	case p == nil:
		m.mu.Unlock()
		return ErrUnplugged
	}
	m.port = nil
	m.plugged = make(chan struct{})
	m.queue = nil
	close(p.gone)
	m.broadcastLocked()
	m.mu.Unlock()
	errLink := os.Remove(m.path)
	// Closing the pollable master wakes the server and returns once the
	// descriptor is really closed: the client's hang-up is under way.
	if err := errors.Join(errLink, p.master.Close(), p.slave.Close()); err != nil {
		return fmt.Errorf("modemsim: unplug: %w", err)
	}
	return nil
}

// Replug makes the modem come back after Unplug: a new pty appears at the
// same Path, and the modem powers on there as after Reset (boot lines,
// windows), with the storage and command log it had. It returns ErrPlugged
// when the modem is plugged in.
func (m *Modem) Replug() error {
	m.plugMu.Lock()
	defer m.plugMu.Unlock()
	m.mu.Lock()
	closed, plugged := m.closed, m.port != nil
	m.mu.Unlock()
	switch {
	case closed:
		return ErrClosed
	case plugged:
		return ErrPlugged
	}
	p, err := openPort()
	if err != nil {
		return fmt.Errorf("modemsim: replug: %w", err)
	}
	if err := os.Symlink(p.dev, m.path); err != nil {
		return fmt.Errorf("modemsim: replug: %w", errors.Join(err, p.close()))
	}
	m.mu.Lock()
	m.port = p
	m.queue = []action{{kind: actReset}}
	close(m.plugged)
	m.broadcastLocked()
	m.mu.Unlock()
	return nil
}
