//go:build unix

package flagstore

import "syscall"

// openNoFollow: never follow a symbolic link in the last component, never
// block opening a FIFO (reads of a regular file are not affected).
const openNoFollow = syscall.O_NOFOLLOW | syscall.O_NONBLOCK
