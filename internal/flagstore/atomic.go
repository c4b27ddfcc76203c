package flagstore

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/afero"
)

// WriteFile replaces path with data so that a power cut at any moment leaves
// either the old content or the new, never a mix: a temporary file in the
// same directory is written, synced and closed, renamed over path, and the
// directory is synced so that the rename itself is durable. The temporary
// file is removed on any failure. Every piece of state bindpay keeps on
// flash is written this way. The file gets exactly perm, whatever the
// process's umask: the mode is set on the open file (fchmod) before any
// byte is written, so no other process can open it with a wider mode in
// between. State files are 0600; a file another program reads, such as the
// UI app's status file, 0644. The temporary file is created with O_EXCL, so
// a symbolic link planted under its name is never followed, and the rename
// replaces whatever has path's name (a symbolic link itself, not its
// target), except a directory, which makes the rename fail.
//
// A power cut or a kill -9 can leave a temporary file behind, which no
// deferred removal can prevent; WriteFile removes the ones an earlier
// write of the same path left, so that crashes never pile files up in the
// state directory. It therefore assumes one writer of a path at a time (the
// agent owns its state directory): a concurrent WriteFile of the same path
// may fail, but neither ever leaves a torn file.
func WriteFile(fsys afero.Fs, path string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	removeLeftovers(fsys, path)
	tmp := path + tempInfix + randomSuffix()
	f, err := fsys.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("create temporary file in %s: %w (is the directory writable?)", dir, err)
	}
	renamed := false
	defer func() {
		if !renamed {
			// The temporary file is garbage whatever went wrong; a failure
			// to remove it is secondary to err.
			_ = fsys.Remove(tmp)
		}
	}()
	if err := chmod(fsys, f, tmp, perm); err != nil {
		f.Close()
		return fmt.Errorf("chmod %s: %w", tmp, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := fsys.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	renamed = true
	return syncDir(fsys, dir)
}

// removeLeftovers removes the temporary files of interrupted writes of
// path. Their removal is made durable by the directory sync of the write
// that follows; a failure is left to that write to report.
func removeLeftovers(fsys afero.Fs, path string) {
	names, err := readDirNames(fsys, filepath.Dir(path))
	if err != nil {
		return
	}
	prefix := filepath.Base(path) + tempInfix
	for _, name := range names {
		if strings.HasPrefix(name, prefix) {
			_ = fsys.Remove(filepath.Join(filepath.Dir(path), name))
		}
	}
}

// syncDir makes a rename or removal in dir durable.
func syncDir(fsys afero.Fs, dir string) error {
	d, err := fsys.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s to sync it: %w", dir, err)
	}
	if err := d.Sync(); err != nil {
		d.Close()
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	if err := d.Close(); err != nil {
		return fmt.Errorf("close directory %s: %w", dir, err)
	}
	return nil
}

// chmod sets f's mode: by the open file (fchmod) where it is an *os.File or
// anything else with a Chmod method, else (afero's memory file systems) by
// its name.
func chmod(fsys afero.Fs, f afero.File, name string, perm os.FileMode) error {
	if c, ok := f.(interface{ Chmod(os.FileMode) error }); ok {
		return c.Chmod(perm)
	}
	return fsys.Chmod(name, perm)
}
