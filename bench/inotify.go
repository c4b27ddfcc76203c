package main

import (
	"fmt"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fileEvent is a file that was completed in a watched directory: closed
// after writing, or moved in.
type fileEvent struct {
	at   time.Time // when the benchmark read the event
	name string
}

// watcher reports files completed in one directory, via inotify: a
// goroutine waits on the descriptor in Go's poller and timestamps each event
// as it wakes, within microseconds of the kernel's notification, with no
// polling.
type watcher struct {
	f      *os.File
	events chan fileEvent
}

func watch(dir string) (*watcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_CLOSE_WRITE|unix.IN_MOVED_TO); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("inotify watch %s: %w", dir, err)
	}
	// Non-blocking: os.NewFile registers it with the poller, so that
	// close wakes the reader.
	w := &watcher{f: os.NewFile(uintptr(fd), "inotify"), events: make(chan fileEvent, 256)}
	go w.read()
	return w, nil
}

func (w *watcher) read() {
	defer close(w.events)
	buf := make([]byte, 64<<10)
	for {
		n, err := w.f.Read(buf)
		now := time.Now()
		if err != nil || n <= 0 {
			return
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			name := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
			for len(name) > 0 && name[len(name)-1] == 0 {
				name = name[:len(name)-1]
			}
			off += unix.SizeofInotifyEvent + int(ev.Len)
			select {
			case w.events <- fileEvent{at: now, name: string(name)}:
			default:
			}
		}
	}
}

// close ends the watch and its goroutine.
func (w *watcher) close() { _ = w.f.Close() }
