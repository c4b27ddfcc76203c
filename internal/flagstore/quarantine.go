package flagstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/afero"
)

// MaxQuarantined is how many quarantined copies of one state file are
// kept: a quarantine removes the oldest beyond it, so that a state file
// corrupted again and again (by a failing flash, or by someone) cannot fill
// the state directory.
const MaxQuarantined = 3

// quarantineFile renames path aside to path.corrupt-<UTC time>, with a
// ".<n>" suffix when that name is taken, gives the copy mode 0600 when it is
// a regular file, then removes the oldest copies of path beyond
// MaxQuarantined (never the one just made). It returns the new
// name; dst is "" when the rename failed (err says why). A non-nil err with
// a dst means the file was moved but an old copy could not be removed.
//
// Neither the rename nor the removals are synced: a power cut that undoes
// the rename brings the corrupt file back, to be quarantined again at the
// next read, and one that undoes a removal brings back a copy that the
// next quarantine removes.
func quarantineFile(fsys afero.Fs, path string, now time.Time) (dst string, err error) {
	base := path + corruptInfix + now.UTC().Format(quarantineStamp)
	dst = base
	// Two corrupt files in one second must not overwrite each other.
	for i := 1; i < 100; i++ {
		if _, err := lstat(fsys, dst); err != nil {
			break // free (or unknowable: let Rename report it)
		}
		dst = base + "." + strconv.Itoa(i)
	}
	if err := fsys.Rename(path, dst); err != nil {
		return "", err
	}
	var errs []error
	// A copy holds what the state file held (numbers, SMS texts): it is
	// as private, whatever mode an older version or a person gave it.
	if err := restrict(fsys, dst); err != nil {
		errs = append(errs, fmt.Errorf("restrict the mode of %s: %w", dst, err))
	}
	dir := filepath.Dir(path)
	names, err := readDirNames(fsys, dir)
	if err != nil {
		errs = append(errs, fmt.Errorf("list %s to remove old quarantined copies: %w", dir, err))
		return dst, errors.Join(errs...)
	}
	for _, name := range staleCopies(filepath.Base(path), names, filepath.Base(dst), MaxQuarantined) {
		if err := fsys.Remove(filepath.Join(dir, name)); err != nil {
			errs = append(errs, fmt.Errorf("remove old quarantined copy: %w", err))
		}
	}
	return dst, errors.Join(errs...)
}

// quarantined is one quarantined copy's name, parsed.
type quarantined struct {
	name  string
	stamp time.Time
	n     int // the ".<n>" suffix, 0 without one
}

// staleCopies returns the quarantined copies of the state file named base,
// among the directory entries names, to remove so that at most max stay:
// the oldest first by the time in their names, then by their suffix. keep
// (the copy just made) is never returned, even when a clock set back makes
// it look the oldest. Names that are not exactly base.corrupt-<time>[.<n>]
// (a copy a person renamed, another file's copies) are not copies.
func staleCopies(base string, names []string, keep string, max int) []string {
	var copies []quarantined
	kept := 0
	for _, name := range names {
		q, ok := parseQuarantined(base, name)
		switch {
		case !ok:
		case name == keep:
			kept = 1
		default:
			copies = append(copies, q)
		}
	}
	excess := len(copies) + kept - max
	if excess <= 0 {
		return nil
	}
	slices.SortFunc(copies, func(a, b quarantined) int {
		if c := a.stamp.Compare(b.stamp); c != 0 {
			return c
		}
		return a.n - b.n
	})
	out := make([]string, 0, excess)
	for _, q := range copies[:min(excess, len(copies))] {
		out = append(out, q.name)
	}
	return out
}

// parseQuarantined parses name as a quarantined copy of base.
func parseQuarantined(base, name string) (quarantined, bool) {
	rest, ok := strings.CutPrefix(name, base+corruptInfix)
	if !ok {
		return quarantined{}, false
	}
	stamp, suffix, hasSuffix := strings.Cut(rest, ".")
	t, err := time.Parse(quarantineStamp, stamp)
	if err != nil {
		return quarantined{}, false
	}
	q := quarantined{name: name, stamp: t}
	if hasSuffix {
		n, err := strconv.Atoi(suffix)
		if err != nil || n < 1 || strconv.Itoa(n) != suffix {
			return quarantined{}, false
		}
		q.n = n
	}
	return q, true
}

// lstat is Lstat where the file system has one, else Stat.
func lstat(fsys afero.Fs, path string) (os.FileInfo, error) {
	if l, ok := fsys.(afero.Lstater); ok {
		fi, _, err := l.LstatIfPossible(path)
		return fi, err
	}
	return fsys.Stat(path)
}

// readDirNames lists the names in dir.
func readDirNames(fsys afero.Fs, dir string) ([]string, error) {
	d, err := fsys.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Readdirnames(-1)
}
