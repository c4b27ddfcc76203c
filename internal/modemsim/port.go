package modemsim

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// openPort opens a pty with a raw slave and a non-blocking, pollable master.
func openPort() (p *port, err error) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("open pty: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tty.Close()
		}
	}()
	// Fd puts ptmx in blocking mode; the duplicate shares the open file
	// description, so set it non-blocking only afterwards. The duplicate is
	// close-on-exec, atomically: a program the tests start (the agent) must
	// not inherit the master, or closing ours would not hang up the port.
	fd, err := unix.FcntlInt(ptmx.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	_ = ptmx.Close()
	if err != nil {
		return nil, fmt.Errorf("dup pty master: %w", err)
	}
	if err = unix.SetNonblock(fd, true); err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("pty master non-blocking: %w", err)
	}
	master := os.NewFile(uintptr(fd), "/dev/ptmx")
	// A deadline only works on a file registered with the poller; the
	// wake-ups of the server rely on it.
	if err = master.SetReadDeadline(time.Time{}); err != nil {
		_ = master.Close()
		return nil, fmt.Errorf("pty master is not pollable: %w", err)
	}
	if err = makeRaw(int(tty.Fd())); err != nil {
		_ = master.Close()
		return nil, fmt.Errorf("raw mode on %s: %w", tty.Name(), err)
	}
	return &port{master: master, slave: tty, dev: tty.Name(), gone: make(chan struct{})}, nil
}

// close releases a port that the server never saw.
func (p *port) close() error {
	return errors.Join(p.master.Close(), p.slave.Close())
}
