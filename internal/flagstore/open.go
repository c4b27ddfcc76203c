package flagstore

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"

	"github.com/spf13/afero"
)

// openRegular opens path for reading, provided it is a regular file. A
// symbolic link is not followed and a FIFO is never opened for reading (that
// would block until a writer came: `status` hanging at boot); either, like a
// directory, a device or a socket, is reported with an error wrapping
// errNotRegular that names the path and what is there.
//
// On the real file system (*afero.OsFs) the file is opened with O_NOFOLLOW
// and O_NONBLOCK and checked again once open (fstat), so that a swap between
// the check and the open is caught too; on other afero file systems the
// check is an Lstat where the file system has one, then a Stat of the open
// file. A missing file is an error wrapping fs.ErrNotExist.
func openRegular(fsys afero.Fs, path string) (afero.File, os.FileInfo, error) {
	if l, ok := fsys.(afero.Lstater); ok {
		fi, _, err := l.LstatIfPossible(path)
		if err != nil {
			return nil, nil, err
		}
		if !fi.Mode().IsRegular() {
			return nil, nil, notRegular(path, fi.Mode())
		}
	}
	return openChecked(fsys, path)
}

// openChecked is openRegular after the Lstat: what stands between a file
// swapped in after the Lstat and a blocked read. It returns the open file's
// own FileInfo.
func openChecked(fsys afero.Fs, path string) (afero.File, os.FileInfo, error) {
	var f afero.File
	var err error
	if isOsFs(fsys) {
		f, err = fsys.OpenFile(path, os.O_RDONLY|openNoFollow, 0)
	} else {
		f, err = fsys.Open(path)
	}
	if errors.Is(err, syscall.ELOOP) {
		// O_NOFOLLOW met a symbolic link that appeared after the Lstat.
		return nil, nil, notRegular(path, fs.ModeSymlink)
	}
	if err != nil {
		// A socket cannot be opened at all (ENXIO): say what it is.
		if fi, lerr := lstat(fsys, path); lerr == nil && !fi.Mode().IsRegular() {
			return nil, nil, notRegular(path, fi.Mode())
		}
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, notRegular(path, fi.Mode())
	}
	return f, fi, nil
}

// readRegular returns up to limit+1 bytes of the regular file at path (one
// more than limit says it is too big) and its permission bits, with
// openRegular's errors.
func readRegular(fsys afero.Fs, path string, limit int64) ([]byte, fs.FileMode, error) {
	f, fi, err := openRegular(fsys, path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, 0, fmt.Errorf("read %s: %w", path, err)
	}
	return data, fi.Mode().Perm(), nil
}

// restrict gives the regular file at path the state files' mode, by the
// open file where it can (it is opened as openRegular opens, so a symbolic
// link's target is never changed); anything else is left alone.
func restrict(fsys afero.Fs, path string) error {
	f, fi, err := openRegular(fsys, path)
	if err != nil {
		if errors.Is(err, errNotRegular) {
			return nil
		}
		return err
	}
	defer f.Close()
	if fi.Mode().Perm() == fileMode {
		return nil
	}
	return chmod(fsys, f, path, fileMode)
}

func isOsFs(fsys afero.Fs) bool {
	switch fsys.(type) {
	case *afero.OsFs, afero.OsFs:
		return true
	}
	return false
}

func notRegular(path string, mode fs.FileMode) error {
	return &notRegularError{path: path, kind: fileKind(mode)}
}

// notRegularError says that path is not a regular file, and what it is.
type notRegularError struct {
	path string
	kind string // fileKind's words
}

func (e *notRegularError) Error() string { return e.path + " is " + e.kind + ", not a regular file" }

func (e *notRegularError) Unwrap() error { return errNotRegular }

// whatIsWrong says what is wrong with a state file whose read failed with err,
// for an error that names the file already.
func whatIsWrong(err error) string {
	if nr, ok := errors.AsType[*notRegularError](err); ok {
		return "it is " + nr.kind + ", not a regular file"
	}
	return err.Error()
}

// fileKind says what a file of this mode is, for a person.
func fileKind(mode fs.FileMode) string {
	switch {
	case mode.IsRegular():
		return "a regular file"
	case mode&fs.ModeSymlink != 0:
		return "a symbolic link"
	case mode.IsDir():
		return "a directory"
	case mode&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case mode&fs.ModeSocket != 0:
		return "a socket"
	case mode&fs.ModeCharDevice != 0:
		return "a character device"
	case mode&fs.ModeDevice != 0:
		return "a block device"
	default:
		return fmt.Sprintf("of mode %v", mode)
	}
}
