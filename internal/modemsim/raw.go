//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package modemsim

import "golang.org/x/sys/unix"

// makeRaw puts the tty in raw mode, as cfmakeraw(3) does: no echo, no line
// editing, no CR/LF mapping, 8-bit characters. A fresh pty slave would echo
// the modem's own output back to it and turn "\r" into "\n".
func makeRaw(fd int) error {
	t, err := unix.IoctlGetTermios(fd, ioctlGetTermios)
	if err != nil {
		return err
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	return unix.IoctlSetTermios(fd, ioctlSetTermios, t)
}
