//go:build unix

package confirm

import (
	"os"
	"syscall"
)

const unixPermissions = true

// fileOwner returns the uid that owns the file described by fi.
func fileOwner(fi os.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}
