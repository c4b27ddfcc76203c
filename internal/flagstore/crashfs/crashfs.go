// Package crashfs is an [afero.Fs] for tests that records every operation
// and can lose power after any of them, then shows what a reboot would find
// on the flash.
//
// The live view (what the process reads back while it runs) is an ordinary
// [afero.MemMapFs]. Beside it crashfs keeps a model of what is durable:
//
//   - a file's data is durable once the file was synced (File.Sync on any
//     handle of it); data written and not synced may be lost;
//   - a directory's entries (a create, a rename, a removal, a mkdir in it)
//     are durable once the directory was synced, by opening it and calling
//     Sync on the handle, as flagstore does; until then they may be lost.
//     A file created and synced whose directory was not synced may vanish.
//
// A power cut does not simply drop everything unsynced: a real file system
// writes dirty pages back and commits its journal whenever it likes, so any
// change may have reached the flash before the cut, in order. crashfs models
// that by keeping, for each file and each directory, every state it went
// through since its last sync (a write is also seen half done: a torn
// write), and [FS.Crashes] returns one reboot view per combination of those
// states. [FS.Reboot] returns the strict view where every unsynced change
// is lost.
//
// Test helpers live here, outside _test.go files, so that the boot and
// end-to-end tests can use them too; nothing the agent binary imports may
// import this package.
//
// An FS is safe for concurrent use; operations are serialised.
package crashfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/afero"
)

// ErrPowerLost is returned by every operation after the power was lost.
var ErrPowerLost = errors.New("crashfs: power lost")

// MaxCrashes bounds the number of reboot views Crashes builds.
const MaxCrashes = 1 << 14

// Op is one recorded operation.
type Op struct {
	N      int    // 1-based sequence number
	Kind   string // open, openfile, stat, mkdir, mkdirall, remove, removeall, rename, chmod, chown, chtimes, write, truncate, sync, syncdir, close
	Path   string
	Detail string // flags, byte counts, the new name of a rename
}

func (o Op) String() string {
	s := fmt.Sprintf("%d %s %s", o.N, o.Kind, o.Path)
	if o.Detail != "" {
		s += " " + o.Detail
	}
	return s
}

// node is a file or a directory of the durability model. history[0] is its
// durable state and the last element the live one; the states between are
// those it went through since it was last synced.
type node struct {
	dir  bool
	perm os.FileMode
	data [][]byte           // file: contents
	ents []map[string]*node // directory: name → node
}

func newFile(perm os.FileMode) *node { return &node{perm: perm, data: [][]byte{nil}} }

func newDir(perm os.FileMode) *node {
	return &node{dir: true, perm: perm, ents: []map[string]*node{{}}}
}

func (n *node) states() int {
	if n.dir {
		return len(n.ents)
	}
	return len(n.data)
}

func (n *node) liveData() []byte { return n.data[len(n.data)-1] }

func (n *node) liveEnts() map[string]*node { return n.ents[len(n.ents)-1] }

// setEnts appends a new live entry table: a copy of the live one changed by
// edit.
func (n *node) setEnts(edit func(m map[string]*node)) {
	m := make(map[string]*node, len(n.liveEnts())+1)
	for k, v := range n.liveEnts() {
		m[k] = v
	}
	edit(m)
	n.ents = append(n.ents, m)
}

func (n *node) pushData(b []byte) { n.data = append(n.data, b) }

func (n *node) sync() {
	if n.dir {
		n.ents = n.ents[len(n.ents)-1:]
	} else {
		n.data = n.data[len(n.data)-1:]
	}
}

// FS is the recording, crashing file system. The zero value is not usable;
// call New.
type FS struct {
	mu    sync.Mutex
	base  afero.Fs
	root  *node
	nodes []*node // every node created, for Crashes
	ops   []Op
	limit int // operations allowed before the power is lost; -1: no limit
	lost  bool
	// Fail, when set, is asked before each operation is carried out (after
	// it is recorded) and may return an error for it, e.g. ENOSPC for a
	// write: fault injection without a power cut. The operation then has no
	// effect.
	Fail func(op Op) error
}

var _ afero.Fs = (*FS)(nil)

// New returns an empty file system with only the root directory, durable.
func New() *FS {
	root := newDir(0o755)
	return &FS{base: afero.NewMemMapFs(), root: root, nodes: []*node{root}, limit: -1}
}

// Checkpoint makes everything durable, as sync(2) does, clears the
// operation log and restores the power: what was set up before it is the
// starting state of a test.
func (c *FS) Checkpoint() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.nodes {
		n.sync()
	}
	c.ops = nil
	c.limit = -1
	c.lost = false
}

// CrashAfter makes the power go out once k more operations have been
// carried out: the (k+1)th operation from now, and every one after it,
// fails with ErrPowerLost and has no effect. k < 0 cancels a pending crash.
func (c *FS) CrashAfter(k int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if k < 0 {
		c.limit = -1
		return
	}
	c.limit = len(c.ops) + k
}

// PowerLost reports whether the power went out.
func (c *FS) PowerLost() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lost
}

// Ops returns the operations recorded since New or the last Checkpoint.
func (c *FS) Ops() []Op {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.ops)
}

// begin records an operation, or refuses it when the power is out. Called
// with c.mu held.
func (c *FS) begin(kind, name, detail string) error {
	if c.lost {
		return &fs.PathError{Op: kind, Path: name, Err: ErrPowerLost}
	}
	if c.limit >= 0 && len(c.ops) >= c.limit {
		c.lost = true
		return &fs.PathError{Op: kind, Path: name, Err: ErrPowerLost}
	}
	op := Op{N: len(c.ops) + 1, Kind: kind, Path: name, Detail: detail}
	c.ops = append(c.ops, op)
	if c.Fail != nil {
		if err := c.Fail(op); err != nil {
			return err
		}
	}
	return nil
}

// split cleans name into its components below the root.
func split(name string) []string {
	p := path.Clean("/" + filepath.ToSlash(name))
	if p == "/" {
		return nil
	}
	return strings.Split(p[1:], "/")
}

// lookup finds the live node at name, or nil.
func (c *FS) lookup(name string) *node {
	n := c.root
	for _, part := range split(name) {
		if !n.dir {
			return nil
		}
		n = n.liveEnts()[part]
		if n == nil {
			return nil
		}
	}
	return n
}

// parent finds the live directory holding name and name's last component.
func (c *FS) parent(name string) (*node, string) {
	parts := split(name)
	if len(parts) == 0 {
		return nil, ""
	}
	dir := c.lookup(path.Join(append([]string{"/"}, parts[:len(parts)-1]...)...))
	if dir == nil || !dir.dir {
		return nil, ""
	}
	return dir, parts[len(parts)-1]
}

func (c *FS) add(n *node) *node {
	c.nodes = append(c.nodes, n)
	return n
}

// Name implements afero.Fs.
func (c *FS) Name() string { return "crashfs" }

// Create implements afero.Fs.
func (c *FS) Create(name string) (afero.File, error) {
	return c.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
}

// Open implements afero.Fs.
func (c *FS) Open(name string) (afero.File, error) {
	return c.open("open", name, os.O_RDONLY, 0)
}

// OpenFile implements afero.Fs.
func (c *FS) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	return c.open("openfile", name, flag, perm)
}

func (c *FS) open(kind, name string, flag int, perm os.FileMode) (afero.File, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	detail := ""
	if kind == "openfile" {
		detail = flagString(flag)
	}
	if err := c.begin(kind, name, detail); err != nil {
		return nil, err
	}
	existing := c.lookup(name)
	f, err := c.base.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	n := existing
	switch {
	case n == nil:
		// Created (the base accepted O_CREATE for a name the model lacks).
		dir, base := c.parent(name)
		if dir == nil {
			f.Close()
			return nil, fmt.Errorf("crashfs: model lost track of the parent of %s", name)
		}
		n = c.add(newFile(perm.Perm()))
		dir.setEnts(func(m map[string]*node) { m[base] = n })
	case !n.dir && flag&os.O_TRUNC != 0 && flag&(os.O_WRONLY|os.O_RDWR) != 0 && len(n.liveData()) > 0:
		n.pushData(nil)
	}
	h := &file{c: c, f: f, n: n, name: name}
	if flag&os.O_APPEND != 0 && !n.dir {
		h.pos = int64(len(n.liveData()))
	}
	return h, nil
}

// Mkdir implements afero.Fs.
func (c *FS) Mkdir(name string, perm os.FileMode) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.begin("mkdir", name, ""); err != nil {
		return err
	}
	if err := c.base.Mkdir(name, perm); err != nil {
		return err
	}
	return c.mkdirModel(name, perm)
}

// MkdirAll implements afero.Fs; it is recorded as one operation.
func (c *FS) MkdirAll(name string, perm os.FileMode) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.begin("mkdirall", name, ""); err != nil {
		return err
	}
	if err := c.base.MkdirAll(name, perm); err != nil {
		return err
	}
	parts := split(name)
	for i := range parts {
		p := "/" + strings.Join(parts[:i+1], "/")
		if c.lookup(p) == nil {
			if err := c.mkdirModel(p, perm); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *FS) mkdirModel(name string, perm os.FileMode) error {
	dir, base := c.parent(name)
	if dir == nil {
		return fmt.Errorf("crashfs: model lost track of the parent of %s", name)
	}
	n := c.add(newDir(perm.Perm()))
	dir.setEnts(func(m map[string]*node) { m[base] = n })
	return nil
}

// Remove implements afero.Fs.
func (c *FS) Remove(name string) error { return c.remove("remove", name, c.base.Remove) }

// RemoveAll implements afero.Fs.
func (c *FS) RemoveAll(name string) error { return c.remove("removeall", name, c.base.RemoveAll) }

func (c *FS) remove(kind, name string, do func(string) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.begin(kind, name, ""); err != nil {
		return err
	}
	if err := do(name); err != nil {
		return err
	}
	if dir, base := c.parent(name); dir != nil {
		if _, ok := dir.liveEnts()[base]; ok {
			dir.setEnts(func(m map[string]*node) { delete(m, base) })
		}
	}
	return nil
}

// Rename implements afero.Fs. Within one directory the rename is one change
// of its entry table (atomic, as rename(2) is); across directories each
// directory changes on its own.
func (c *FS) Rename(oldname, newname string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.begin("rename", oldname, "→ "+newname); err != nil {
		return err
	}
	n := c.lookup(oldname)
	if err := c.base.Rename(oldname, newname); err != nil {
		return err
	}
	odir, obase := c.parent(oldname)
	ndir, nbase := c.parent(newname)
	if n == nil || odir == nil || ndir == nil {
		return fmt.Errorf("crashfs: model lost track of rename %s → %s", oldname, newname)
	}
	if odir == ndir {
		odir.setEnts(func(m map[string]*node) { delete(m, obase); m[nbase] = n })
		return nil
	}
	ndir.setEnts(func(m map[string]*node) { m[nbase] = n })
	odir.setEnts(func(m map[string]*node) { delete(m, obase) })
	return nil
}

// Stat implements afero.Fs.
func (c *FS) Stat(name string) (os.FileInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.begin("stat", name, ""); err != nil {
		return nil, err
	}
	return c.base.Stat(name)
}

// Chmod implements afero.Fs; modes are not part of the durability model.
func (c *FS) Chmod(name string, mode os.FileMode) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.begin("chmod", name, mode.String()); err != nil {
		return err
	}
	return c.base.Chmod(name, mode)
}

// Chown implements afero.Fs.
func (c *FS) Chown(name string, uid, gid int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.begin("chown", name, fmt.Sprintf("%d:%d", uid, gid)); err != nil {
		return err
	}
	return c.base.Chown(name, uid, gid)
}

// Chtimes implements afero.Fs.
func (c *FS) Chtimes(name string, atime, mtime time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.begin("chtimes", name, ""); err != nil {
		return err
	}
	return c.base.Chtimes(name, atime, mtime)
}

// file is an open handle.
type file struct {
	c    *FS
	f    afero.File
	n    *node
	name string
	pos  int64 // the handle's offset, mirrored for the model
}

func (h *file) Name() string { return h.f.Name() }

func (h *file) Close() error {
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	if err := h.c.begin("close", h.name, ""); err != nil {
		h.f.Close() // release the live handle: the failure is simulated
		return err
	}
	return h.f.Close()
}

func (h *file) Sync() error {
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	kind := "sync"
	if h.n.dir {
		kind = "syncdir"
	}
	if err := h.c.begin(kind, h.name, ""); err != nil {
		return err
	}
	if err := h.f.Sync(); err != nil {
		return err
	}
	h.n.sync()
	return nil
}

func (h *file) Write(p []byte) (int, error) {
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	n, err := h.writeAt("write", p, h.pos, func() (int, error) { return h.f.Write(p) })
	h.pos += int64(n)
	return n, err
}

func (h *file) WriteAt(p []byte, off int64) (int, error) {
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	return h.writeAt("writeat", p, off, func() (int, error) { return h.f.WriteAt(p, off) })
}

func (h *file) WriteString(s string) (int, error) { return h.Write([]byte(s)) }

// writeAt records a write and mirrors it in the model: first torn (half the
// bytes written), then whole. Called with c.mu held.
func (h *file) writeAt(kind string, p []byte, off int64, do func() (int, error)) (int, error) {
	if err := h.c.begin(kind, h.name, fmt.Sprintf("%d bytes at %d", len(p), off)); err != nil {
		return 0, err
	}
	n, err := do()
	if n > 0 && !h.n.dir {
		if n > 1 {
			h.n.pushData(patch(h.n.liveData(), p[:n/2], off))
		}
		h.n.pushData(patch(h.n.liveData(), p[:n], off))
	}
	return n, err
}

// patch returns a copy of data with p written at off.
func patch(data, p []byte, off int64) []byte {
	end := int(off) + len(p)
	out := make([]byte, max(len(data), end))
	copy(out, data)
	copy(out[off:], p)
	return out
}

func (h *file) Truncate(size int64) error {
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	if err := h.c.begin("truncate", h.name, fmt.Sprint(size)); err != nil {
		return err
	}
	if err := h.f.Truncate(size); err != nil {
		return err
	}
	d := h.n.liveData()
	out := make([]byte, size)
	copy(out, d)
	h.n.pushData(out)
	return nil
}

// Reads are not recorded (they change nothing durable) but fail once the
// power is out.

func (h *file) dead() error {
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	if h.c.lost {
		return &fs.PathError{Op: "read", Path: h.name, Err: ErrPowerLost}
	}
	return nil
}

func (h *file) Read(p []byte) (int, error) {
	if err := h.dead(); err != nil {
		return 0, err
	}
	n, err := h.f.Read(p)
	h.c.mu.Lock()
	h.pos += int64(n)
	h.c.mu.Unlock()
	return n, err
}

func (h *file) ReadAt(p []byte, off int64) (int, error) {
	if err := h.dead(); err != nil {
		return 0, err
	}
	return h.f.ReadAt(p, off)
}

func (h *file) Seek(offset int64, whence int) (int64, error) {
	if err := h.dead(); err != nil {
		return 0, err
	}
	pos, err := h.f.Seek(offset, whence)
	if err == nil {
		h.c.mu.Lock()
		h.pos = pos
		h.c.mu.Unlock()
	}
	return pos, err
}

func (h *file) Readdir(count int) ([]os.FileInfo, error) {
	if err := h.dead(); err != nil {
		return nil, err
	}
	return h.f.Readdir(count)
}

func (h *file) Readdirnames(n int) ([]string, error) {
	if err := h.dead(); err != nil {
		return nil, err
	}
	return h.f.Readdirnames(n)
}

func (h *file) Stat() (os.FileInfo, error) {
	if err := h.dead(); err != nil {
		return nil, err
	}
	return h.f.Stat()
}

// Crash is what one reboot finds.
type Crash struct {
	// Desc says which state each changed file and directory was left in,
	// for failure messages.
	Desc string
	// FS is a fresh MemMapFs holding only what survived.
	FS afero.Fs
}

// Reboot returns what a reboot finds when every unsynced change was lost:
// each file holds its last synced data and each directory its entries as of
// its last sync.
func (c *FS) Reboot() afero.Fs {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.build(func(*node) int { return 0 })
}

// Crashes returns every view a reboot may find, given that any change made
// since the last sync of a file or directory may or may not have reached
// the flash, in order. The first is Reboot's strict view. It fails when
// there would be more than MaxCrashes views.
func (c *FS) Crashes() ([]Crash, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var dirty []*node
	total := 1
	for _, n := range c.nodes {
		if s := n.states(); s > 1 {
			dirty = append(dirty, n)
			total *= s
			if total > MaxCrashes {
				return nil, fmt.Errorf("crashfs: more than %d crash views", MaxCrashes)
			}
		}
	}
	choice := make(map[*node]int, len(dirty))
	var out []Crash
	for i := range total {
		rest := i
		var desc []string
		for j, n := range dirty {
			choice[n] = rest % n.states()
			rest /= n.states()
			desc = append(desc, fmt.Sprintf("#%d:%d/%d", j, choice[n], n.states()-1))
		}
		out = append(out, Crash{
			Desc: "states " + strings.Join(desc, " "),
			FS:   c.build(func(n *node) int { return choice[n] }),
		})
	}
	return out, nil
}

// build makes a MemMapFs from the state pick chooses for each node. Called
// with c.mu held.
func (c *FS) build(pick func(*node) int) afero.Fs {
	out := afero.NewMemMapFs()
	var walk func(dir *node, p string)
	walk = func(dir *node, p string) {
		ents := dir.ents[pick(dir)]
		names := make([]string, 0, len(ents))
		for name := range ents {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			n, q := ents[name], path.Join(p, name)
			if n.dir {
				_ = out.Mkdir(q, n.perm|0o700)
				walk(n, q)
				continue
			}
			_ = afero.WriteFile(out, q, n.data[pick(n)], n.perm)
		}
	}
	walk(c.root, "/")
	return out
}

// flagString renders open flags for the operation log.
func flagString(flag int) string {
	var s []string
	switch flag & (os.O_RDONLY | os.O_WRONLY | os.O_RDWR) {
	case os.O_WRONLY:
		s = append(s, "O_WRONLY")
	case os.O_RDWR:
		s = append(s, "O_RDWR")
	default:
		s = append(s, "O_RDONLY")
	}
	for _, f := range []struct {
		bit  int
		name string
	}{{os.O_CREATE, "O_CREATE"}, {os.O_EXCL, "O_EXCL"}, {os.O_TRUNC, "O_TRUNC"}, {os.O_APPEND, "O_APPEND"}, {os.O_SYNC, "O_SYNC"}} {
		if flag&f.bit != 0 {
			s = append(s, f.name)
		}
	}
	return strings.Join(s, "|")
}

// Dump lists the files of fsys with their contents, for failure messages.
func Dump(fsys afero.Fs) string {
	var b strings.Builder
	_ = afero.Walk(fsys, "/", func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			fmt.Fprintf(&b, "%s: %v\n", p, err)
			return nil
		}
		if fi.IsDir() {
			fmt.Fprintf(&b, "%s/\n", strings.TrimSuffix(p, "/"))
			return nil
		}
		data, err := afero.ReadFile(fsys, p)
		if err != nil {
			fmt.Fprintf(&b, "%s: %v\n", p, err)
			return nil
		}
		fmt.Fprintf(&b, "%s (%d bytes): %q\n", p, len(data), clip(data, 120))
		return nil
	})
	return b.String()
}

func clip(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}

var _ io.Writer = (*file)(nil)
