package fsys

import (
	"bytes"
	"cmp"
	"hash/fnv"
	"io"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Mem is an in-memory file system that remembers, besides the current
// contents of every file and directory, what a power loss would leave behind.
// It plays the part of the disk and the kernel; each view returned by FS
// plays the part of one process. Mem is safe for concurrent use.
//
// # Durability model
//
// Every regular file has its current data and its synced data (a copy taken
// at its last File.Sync). Every directory has its current entries (name →
// inode) and its synced entries (a copy taken at its last SyncDir, or
// File.Sync of the directory opened read-only). Creating, renaming, removing
// and Mkdir change only current entries; File.Sync never makes a file's
// directory entry durable, and SyncDir never makes a file's data durable.
// Crash returns what survives:
//
//   - Crash(nil) keeps exactly the durable state: the tree of synced
//     entries from the root, with each file's synced data.
//   - Crash(rng) picks an adversarial outcome that a journaling file system
//     such as ext4 could plausibly produce. Every directory entry whose
//     current state differs from its synced state independently ends up in
//     one or the other (so an unsynced rename can leave both names, or only
//     one); the sole exception is that a file or directory that was durably
//     linked before the crash and is still linked at the crash is never lost
//     altogether, because journaling file systems commit a rename as one
//     transaction. Every file whose current data differs from its synced
//     data ends up with the synced data, the current data, or a prefix of
//     the current data (a torn append: of length at least len(synced) when
//     the current data extends the synced data, of any length otherwise,
//     which also covers an O_TRUNC that reached the disk before the new
//     data did).
//
// The model does not capture: garbage or zeroed bytes (it never invents
// bytes that were not written), reordering or tearing of an overwrite in
// the middle of a file (there is no Seek, so the queue only appends or
// truncates), lost fsyncs (Sync and SyncDir are perfect barriers), metadata
// other than entries and data (mode and mtime survive as they were at the
// crash), permission checks (every view acts as root), and the umask (the
// perm of O_CREATE and Mkdir is used as given).
//
// # Locks
//
// flock(2) locks live with the inode and belong to the open File, as locks
// belong to open file descriptions on Linux: two Files opened on the same
// inode conflict even within one view, closing a File releases its lock, and
// a lock on an unlinked inode stays with that inode (a new file created
// under the old name is a different inode, unlocked). Converting a lock
// between shared and exclusive releases the old lock first, as Linux does.
// Locks do not survive Crash.
type Mem struct {
	mu      sync.Mutex
	cond    sync.Cond // broadcast when a lock is released or a File or view dies
	clock   func() time.Time
	crashed bool // after Crash: the machine is off, every call fails with EIO
	nextIno uint64
	root    *inode
	// blocked counts opens of a FIFO without O_NONBLOCK, which on a real
	// system wait for the other end, maybe forever (BlockedOpens).
	blocked int
}

// inode is a file, directory or symbolic link of a Mem.
type inode struct {
	ino   uint64
	mode  fs.FileMode // type bits and permission bits
	mtime time.Time

	// Regular files. synced is never aliased with data.
	data, synced []byte

	// Directories.
	entries, syncedEntries map[string]*inode

	// Symbolic links.
	target string

	// flock state: at most one exclusive owner, or any number of shared
	// owners.
	exclusive *memFile
	shared    map[*memFile]struct{}
}

func (n *inode) isDir() bool     { return n.mode.IsDir() }
func (n *inode) isFIFO() bool    { return n.mode&fs.ModeNamedPipe != 0 }
func (n *inode) isSymlink() bool { return n.mode&fs.ModeSymlink != 0 }

func (n *inode) entryType() EntryType {
	switch {
	case n.mode.IsRegular():
		return TypeRegular
	case n.isDir():
		return TypeDir
	case n.isSymlink():
		return TypeSymlink
	}
	return TypeOther
}

// NewMem returns an empty Mem whose root directory is durable. The clock
// supplies modification times; nil means time.Now.
func NewMem(clock func() time.Time) *Mem {
	if clock == nil {
		clock = time.Now
	}
	m := &Mem{clock: clock, nextIno: 1}
	m.cond.L = &m.mu
	m.root = m.newInode(fs.ModeDir | 0o755)
	return m
}

func (m *Mem) newInode(mode fs.FileMode) *inode {
	n := &inode{ino: m.nextIno, mode: mode, mtime: m.clock()}
	m.nextIno++
	if mode.IsDir() {
		n.entries = map[string]*inode{}
		n.syncedEntries = map[string]*inode{}
	}
	return n
}

// FS returns a new view of m rooted at its root directory. Each view stands
// for one process: Kill ends it as SIGKILL would.
func (m *Mem) FS() *MemFS {
	return &MemFS{m: m, files: map[*memFile]struct{}{}}
}

// pathErr wraps errno as the os package does, so that errors.Is matches both
// the errno and its fs.Err* equivalent.
func pathErr(op, name string, errno Errno) error {
	return &fs.PathError{Op: op, Path: name, Err: errno}
}

// splitName validates name and returns its directory component ("" for an
// entry of the root) and its base name ("." for the root itself).
func splitName(name string) (dir, base string, errno Errno) {
	if name == "." {
		return "", ".", 0
	}
	parts := strings.Split(name, "/")
	if len(parts) > 2 {
		return "", "", EINVAL
	}
	for _, p := range parts {
		if p == "" || p == "." || p == ".." {
			return "", "", EINVAL
		}
	}
	if len(parts) == 1 {
		return "", parts[0], 0
	}
	return parts[0], parts[1], 0
}

// lookup resolves name. For the root, parent is nil and node is the root.
// Otherwise parent is the directory holding base and node is nil if there is
// no such entry. The directory component is never followed if it is a
// symlink (ELOOP), as the real implementation opens it O_NOFOLLOW.
// The caller holds m.mu.
func (m *Mem) lookup(name string) (parent *inode, base string, node *inode, errno Errno) {
	dir, base, errno := splitName(name)
	if errno != 0 {
		return nil, "", nil, errno
	}
	if base == "." {
		return nil, ".", m.root, 0
	}
	parent = m.root
	if dir != "" {
		parent = m.root.entries[dir]
		switch {
		case parent == nil:
			return nil, "", nil, ENOENT
		case parent.isSymlink():
			return nil, "", nil, ELOOP
		case !parent.isDir():
			return nil, "", nil, ENOTDIR
		}
	}
	return parent, base, parent.entries[base], 0
}

// lookupDir resolves name, which must be a directory. The caller holds m.mu.
func (m *Mem) lookupDir(name string) (*inode, Errno) {
	_, _, n, errno := m.lookup(name)
	switch {
	case errno != 0:
		return nil, errno
	case n == nil:
		return nil, ENOENT
	case n.isSymlink():
		return nil, ELOOP
	case !n.isDir():
		return nil, ENOTDIR
	}
	return n, 0
}

func (m *Mem) info(n *inode, base string) FileInfo {
	fi := FileInfo{Name: base, Mode: n.mode, ModTime: n.mtime, Ino: n.ino}
	switch {
	case n.mode.IsRegular():
		fi.Size = int64(len(n.data))
	case n.isSymlink():
		fi.Size = int64(len(n.target))
	}
	return fi
}

// WriteFile is a test helper that creates or truncates the regular file name
// (perm applies only when creating, as os.WriteFile), writes data, and then
// makes the result durable as File.Sync followed by SyncDir of its directory
// would: the data, and all current entries of that directory. It is meant for
// setting up a state that has survived a crash already.
func (m *Mem) WriteFile(name string, data []byte, perm fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.crashed {
		return pathErr("open", name, EIO)
	}
	parent, base, n, errno := m.lookup(name)
	switch {
	case errno != 0:
		return pathErr("open", name, errno)
	case parent == nil || (n != nil && n.isDir()):
		return pathErr("open", name, EISDIR)
	case n != nil && n.isSymlink():
		return pathErr("open", name, ELOOP)
	case n == nil:
		n = m.newInode(perm & fs.ModePerm)
		parent.entries[base] = n
		parent.mtime = n.mtime
	}
	n.data = slices.Clone(data)
	n.synced = slices.Clone(data)
	n.mtime = m.clock()
	parent.syncedEntries = maps.Clone(parent.entries)
	return nil
}

// ReadFile is a test helper that returns a copy of the current data of the
// regular file name (durable or not).
func (m *Mem) ReadFile(name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.crashed {
		return nil, pathErr("open", name, EIO)
	}
	_, _, n, errno := m.lookup(name)
	switch {
	case errno != 0:
		return nil, pathErr("open", name, errno)
	case n == nil:
		return nil, pathErr("open", name, ENOENT)
	case n.isSymlink():
		return nil, pathErr("open", name, ELOOP)
	case n.isDir():
		return nil, pathErr("read", name, EISDIR)
	}
	if n.data == nil {
		return []byte{}, nil
	}
	return slices.Clone(n.data), nil
}

// Symlink is a test helper that creates the symbolic link name pointing to
// target, durably (its directory is synced, as by WriteFile). The queue never
// creates symlinks; tests use them to check that none is ever followed.
func (m *Mem) Symlink(target, name string) error {
	return m.mknod("symlink", name, fs.ModeSymlink|0o777, target)
}

// Mkfifo is a test helper that creates the named pipe name, durably (as
// Symlink). Opening it with O_NONBLOCK behaves as on Linux with no other
// end: read-only succeeds (reads find nothing), write access fails with
// ENXIO. Opening it without O_NONBLOCK would wait for the other end on a
// real system: Mem fails the open with EWOULDBLOCK and counts it in
// BlockedOpens, so a test can call it the hang it would be.
func (m *Mem) Mkfifo(name string) error {
	return m.mknod("mkfifo", name, fs.ModeNamedPipe|0o600, "")
}

// mknod creates the special file name (a symlink to target, or a FIFO) for
// the test helpers above, durably: its directory entries are synced at once.
func (m *Mem) mknod(op, name string, mode fs.FileMode, target string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.crashed {
		return pathErr(op, name, EIO)
	}
	parent, base, n, errno := m.lookup(name)
	switch {
	case errno != 0:
		return pathErr(op, name, errno)
	case parent == nil || n != nil:
		return pathErr(op, name, EEXIST)
	}
	n = m.newInode(mode)
	n.target = target
	parent.entries[base] = n
	parent.mtime = n.mtime
	parent.syncedEntries = maps.Clone(parent.entries)
	return nil
}

// BlockedOpens returns how many opens of a FIFO without O_NONBLOCK the
// Mem has refused (see Mkfifo): each would have hung.
func (m *Mem) BlockedOpens() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.blocked
}

// Names is a test helper that returns the sorted current entry names of the
// directory dir ("." for the root), or nil if dir is not a directory.
func (m *Mem) Names(dir string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, errno := m.lookupDir(dir)
	if errno != 0 {
		return nil
	}
	return sortedNames(d.entries)
}

// SyncedNames is a test helper that returns the sorted entry names that the
// last sync of the directory dir ("." for the root) made durable, or nil if
// dir is not currently a directory. Whether dir itself is durably linked is
// a separate question, answered by SyncedNames of its parent.
func (m *Mem) SyncedNames(dir string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, errno := m.lookupDir(dir)
	if errno != 0 {
		return nil
	}
	return sortedNames(d.syncedEntries)
}

func sortedNames(entries map[string]*inode) []string {
	names := make([]string, 0, len(entries))
	for name := range entries {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Crash simulates a power loss and returns a new Mem that holds only what
// survived, with no open files and no locks; see the Mem doc comment for the
// model. With rng == nil the result is exactly the durable state; otherwise
// rng draws one adversarial outcome, deterministically for a given rng
// state.
//
// Afterwards m is frozen: every call on m, its views and its files fails
// with an error wrapping EIO, and blocked Flock calls return. Crash itself
// may be called again on a frozen m: each call draws another outcome of the
// same power loss, which lets a test explore many outcomes of one state.
func (m *Mem) Crash(rng *rand.Rand) *Mem {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.crashed = true
	m.cond.Broadcast()

	// Every directory that may survive: reachable through current or
	// synced entries. Sorted by inode number so that rng draws are
	// reproducible (map iteration order is not).
	var dirs []*inode
	seen := map[*inode]bool{m.root: true}
	for queue := []*inode{m.root}; len(queue) > 0; queue = queue[1:] {
		d := queue[0]
		dirs = append(dirs, d)
		for _, entries := range []map[string]*inode{d.entries, d.syncedEntries} {
			for _, name := range sortedNames(entries) {
				if c := entries[name]; c.isDir() && !seen[c] {
					seen[c] = true
					queue = append(queue, c)
				}
			}
		}
	}
	slices.SortFunc(dirs, func(a, b *inode) int { return cmp.Compare(a.ino, b.ino) })

	outcome := make(map[*inode]map[string]*inode, len(dirs))
	for _, d := range dirs {
		if rng == nil {
			outcome[d] = maps.Clone(d.syncedEntries)
			continue
		}
		out := map[string]*inode{}
		names := sortedNames(d.entries)
		for _, name := range sortedNames(d.syncedEntries) {
			if _, ok := d.entries[name]; !ok {
				names = append(names, name)
			}
		}
		sort.Strings(names)
		for _, name := range names {
			n := d.entries[name]
			if s := d.syncedEntries[name]; s != n && rng.IntN(2) == 0 {
				n = s
			}
			if n != nil {
				out[name] = n
			}
		}
		outcome[d] = out
	}
	if rng != nil {
		repairLost(m.root, dirs, outcome)
	}

	// Build the survivor from the outcome tree.
	next := &Mem{clock: m.clock, nextIno: m.nextIno}
	next.cond.L = &next.mu
	copies := map[*inode]*inode{}
	var copyNode func(n *inode) *inode
	copyNode = func(n *inode) *inode {
		if c := copies[n]; c != nil {
			return c // the same inode under two names: an unsynced rename
		}
		c := &inode{ino: n.ino, mode: n.mode, mtime: n.mtime, target: n.target}
		copies[n] = c
		switch {
		case n.isDir():
			c.entries = map[string]*inode{}
			for _, name := range sortedNames(outcome[n]) {
				c.entries[name] = copyNode(outcome[n][name])
			}
			c.syncedEntries = maps.Clone(c.entries)
		case n.mode.IsRegular():
			c.data = survivingData(n, rng)
			c.synced = slices.Clone(c.data)
		}
		return c
	}
	next.root = copyNode(m.root)
	return next
}

// survivingData returns what survives of a file's data: the synced data, the
// current data, or a prefix of the current data.
func survivingData(n *inode, rng *rand.Rand) []byte {
	if rng == nil || bytes.Equal(n.data, n.synced) {
		return slices.Clone(n.synced)
	}
	switch rng.IntN(3) {
	case 0:
		return slices.Clone(n.synced)
	case 1:
		return slices.Clone(n.data)
	}
	keep := 0
	if bytes.HasPrefix(n.data, n.synced) {
		keep = len(n.synced) // a torn append keeps what was synced
	}
	return slices.Clone(n.data[:keep+rng.IntN(len(n.data)-keep+1)])
}

// repairLost restores, at its synced name, every inode that is linked both in
// the durable tree and in the current tree but not in the outcome tree. Such
// a loss can only come from the two halves of a rename being decided
// independently, which a journaling file system does not do. Each repair
// moves an entry from its current to its synced state, so the loop ends.
func repairLost(root *inode, dirs []*inode, outcome map[*inode]map[string]*inode) {
	reach := func(entries func(d *inode) map[string]*inode) map[*inode]bool {
		r := map[*inode]bool{root: true}
		for queue := []*inode{root}; len(queue) > 0; queue = queue[1:] {
			for _, c := range entries(queue[0]) {
				if !r[c] {
					r[c] = true
					if c.isDir() {
						queue = append(queue, c)
					}
				}
			}
		}
		return r
	}
	durable := reach(func(d *inode) map[string]*inode { return d.syncedEntries })
	current := reach(func(d *inode) map[string]*inode { return d.entries })
	for changed := true; changed; {
		changed = false
		got := reach(func(d *inode) map[string]*inode { return outcome[d] })
		for _, d := range dirs {
			if !got[d] {
				continue
			}
			for _, name := range sortedNames(d.syncedEntries) {
				n := d.syncedEntries[name]
				if durable[n] && current[n] && !got[n] && outcome[d][name] != n {
					outcome[d][name] = n
					got[n] = true
					changed = true
				}
			}
		}
	}
}

// MemFS is one view of a Mem, standing for one process. It implements FS.
type MemFS struct {
	m *Mem
	// Guarded by m.mu.
	closed bool // Close was called: no new calls
	killed bool
	files  map[*memFile]struct{}
}

var _ FS = (*MemFS)(nil)

// check reports why p cannot be used. The caller holds p.m.mu.
func (p *MemFS) check() Errno {
	switch {
	case p.m.crashed:
		return EIO
	case p.closed || p.killed:
		return EBADF
	}
	return 0
}

// enter locks the Mem for one call of op on name through p, and fails it
// as check says; on success the caller unlocks m.mu. Every MemFS method
// starts here, so the crashed, closed and killed states mean the same
// everywhere.
func (p *MemFS) enter(op, name string) (*Mem, error) {
	m := p.m
	m.mu.Lock()
	if errno := p.check(); errno != 0 {
		m.mu.Unlock()
		return nil, pathErr(op, name, errno)
	}
	return m, nil
}

// Kill simulates SIGKILL of the process p stands for: every File opened
// through p is closed, releasing its locks, and every later call on p or on
// those Files fails with an error wrapping EBADF. Data written but not
// synced stays in the Mem (it is in the page cache, not in the process).
func (p *MemFS) Kill() {
	m := p.m
	m.mu.Lock()
	defer m.mu.Unlock()
	p.killed = true
	for f := range p.files {
		f.closeLocked()
	}
}

// Close ends the view's use of its root directory: later calls on p fail
// with EBADF, but Files opened through p stay usable until closed.
func (p *MemFS) Close() error {
	p.m.mu.Lock()
	defer p.m.mu.Unlock()
	if errno := p.check(); errno != 0 {
		return pathErr("close", ".", errno)
	}
	p.closed = true
	return nil
}

const accMode = os.O_RDONLY | os.O_WRONLY | os.O_RDWR

// OpenFile implements FS. It honours O_RDONLY, O_WRONLY, O_RDWR, O_CREATE,
// O_EXCL, O_TRUNC and O_APPEND, and never follows a symlink.
func (p *MemFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	m, err := p.enter("open", name)
	if err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	parent, base, n, errno := m.lookup(name)
	if errno != 0 {
		return nil, pathErr("open", name, errno)
	}
	acc := flag & accMode
	create := flag&os.O_CREATE != 0
	switch {
	case n != nil && create && flag&os.O_EXCL != 0:
		return nil, pathErr("open", name, EEXIST)
	case n != nil && n.isSymlink():
		return nil, pathErr("open", name, ELOOP)
	case n != nil && n.isDir():
		if acc != os.O_RDONLY || create || flag&os.O_TRUNC != 0 {
			return nil, pathErr("open", name, EISDIR)
		}
	case n != nil && n.isFIFO() && flag&ONonblock == 0:
		m.blocked++
		return nil, pathErr("open", name, ErrWouldBlock)
	case n != nil && n.isFIFO() && acc != os.O_RDONLY:
		return nil, pathErr("open", name, ENXIO)
	case n != nil && n.isFIFO():
	case n != nil:
		if flag&os.O_TRUNC != 0 && acc != os.O_RDONLY && len(n.data) > 0 {
			n.data = nil
			n.mtime = m.clock()
		}
	case !create:
		return nil, pathErr("open", name, ENOENT)
	default:
		n = m.newInode(perm & fs.ModePerm)
		parent.entries[base] = n
		parent.mtime = n.mtime
	}
	f := &memFile{p: p, node: n, name: name, base: base, flag: flag}
	p.files[f] = struct{}{}
	return f, nil
}

// CreateLocked implements FS: the new file appears already locked by the
// returned File, atomically under the Mem's mutex.
func (p *MemFS) CreateLocked(name string, perm fs.FileMode) (File, error) {
	m, err := p.enter("create", name)
	if err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	parent, base, n, errno := m.lookup(name)
	if errno != 0 {
		return nil, pathErr("create", name, errno)
	}
	if n != nil {
		return nil, pathErr("create", name, EEXIST)
	}
	n = m.newInode(perm & fs.ModePerm)
	parent.entries[base] = n
	parent.mtime = n.mtime
	f := &memFile{p: p, node: n, name: name, base: base, flag: os.O_RDWR}
	n.exclusive = f
	f.lock = LockExclusive
	p.files[f] = struct{}{}
	return f, nil
}

// Rename implements FS, with the errors of rename(2): ENOENT if oldname is
// missing, EISDIR for a non-directory over a directory, ENOTDIR for a
// directory over a non-directory, ENOTEMPTY over a non-empty directory.
func (p *MemFS) Rename(oldname, newname string) error {
	return p.rename(oldname, newname, false)
}

var _ NoReplaceRenamer = (*MemFS)(nil)

// RenameNoReplace implements NoReplaceRenamer: Rename, except that it
// fails with EEXIST if any entry of newname exists, atomically (as
// renameat2 with RENAME_NOREPLACE).
func (p *MemFS) RenameNoReplace(oldname, newname string) error {
	return p.rename(oldname, newname, true)
}

func (p *MemFS) rename(oldname, newname string, noReplace bool) error {
	m := p.m
	m.mu.Lock()
	defer m.mu.Unlock()
	linkErr := func(errno Errno) error {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: errno}
	}
	if errno := p.check(); errno != 0 {
		return linkErr(errno)
	}
	oldParent, oldBase, n, errno := m.lookup(oldname)
	if errno != 0 {
		return linkErr(errno)
	}
	newParent, newBase, target, errno := m.lookup(newname)
	switch {
	case errno != 0:
		return linkErr(errno)
	case n == nil:
		return linkErr(ENOENT)
	case oldParent == nil || newParent == nil:
		return linkErr(EBUSY) // renaming the root, or onto it
	case noReplace && target != nil:
		return linkErr(EEXIST)
	case target == n:
		return nil // rename(2) does nothing when both name the same file
	case n.isDir() && newParent == n:
		return linkErr(EINVAL) // a directory into itself
	case target != nil && n.isDir() && !target.isDir():
		return linkErr(ENOTDIR)
	case target != nil && !n.isDir() && target.isDir():
		return linkErr(EISDIR)
	case target != nil && target.isDir() && len(target.entries) > 0:
		return linkErr(ENOTEMPTY)
	}
	now := m.clock()
	delete(oldParent.entries, oldBase)
	newParent.entries[newBase] = n
	oldParent.mtime, newParent.mtime = now, now
	return nil
}

// Remove implements FS. Removing a directory fails with EISDIR, as
// unlinkat(2) without AT_REMOVEDIR does.
func (p *MemFS) Remove(name string) error {
	m, err := p.enter("remove", name)
	if err != nil {
		return err
	}
	defer m.mu.Unlock()
	parent, base, n, errno := m.lookup(name)
	switch {
	case errno != 0:
		return pathErr("remove", name, errno)
	case n == nil:
		return pathErr("remove", name, ENOENT)
	case n.isDir():
		return pathErr("remove", name, EISDIR)
	}
	delete(parent.entries, base)
	parent.mtime = m.clock()
	return nil
}

// Mkdir implements FS. The new entry is durable only after SyncDir of the
// parent directory.
func (p *MemFS) Mkdir(name string, perm fs.FileMode) error {
	m, err := p.enter("mkdir", name)
	if err != nil {
		return err
	}
	defer m.mu.Unlock()
	parent, base, n, errno := m.lookup(name)
	switch {
	case errno != 0:
		return pathErr("mkdir", name, errno)
	case parent == nil || n != nil:
		return pathErr("mkdir", name, EEXIST)
	}
	n = m.newInode(fs.ModeDir | perm&fs.ModePerm)
	parent.entries[base] = n
	parent.mtime = n.mtime
	return nil
}

// Lstat implements FS.
func (p *MemFS) Lstat(name string) (FileInfo, error) {
	m, err := p.enter("lstat", name)
	if err != nil {
		return FileInfo{}, err
	}
	defer m.mu.Unlock()
	_, base, n, errno := m.lookup(name)
	switch {
	case errno != 0:
		return FileInfo{}, pathErr("lstat", name, errno)
	case n == nil:
		return FileInfo{}, pathErr("lstat", name, ENOENT)
	}
	return m.info(n, base), nil
}

// ReadDir implements FS. It lists a snapshot of the entries taken at the
// call, in an order that is arbitrary (hashed, like ext4's) but
// deterministic, so that seeded tests replay. fn is called without the Mem
// lock held, and the name slice is overwritten after fn returns, so that a
// caller that keeps it without copying sees garbage at once.
func (p *MemFS) ReadDir(dir string, fn func(name []byte, typ EntryType) error) error {
	m := p.m
	m.mu.Lock()
	if errno := p.check(); errno != 0 {
		m.mu.Unlock()
		return pathErr("readdirent", dir, errno)
	}
	d, errno := m.lookupDir(dir)
	if errno != 0 {
		m.mu.Unlock()
		return pathErr("open", dir, errno)
	}
	type entry struct {
		name string
		hash uint64
		typ  EntryType
	}
	list := make([]entry, 0, len(d.entries))
	for name, n := range d.entries {
		h := fnv.New64a()
		io.WriteString(h, name)
		list = append(list, entry{name, h.Sum64(), n.entryType()})
	}
	m.mu.Unlock()

	slices.SortFunc(list, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.hash, b.hash), strings.Compare(a.name, b.name))
	})
	var buf []byte
	for _, e := range list {
		buf = append(buf[:0], e.name...)
		err := fn(buf, e.typ)
		for i := range buf {
			buf[i] = '?'
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// SyncDir implements FS: the current entries of dir become its synced
// entries.
func (p *MemFS) SyncDir(dir string) error {
	m, err := p.enter("sync", dir)
	if err != nil {
		return err
	}
	defer m.mu.Unlock()
	d, errno := m.lookupDir(dir)
	if errno != 0 {
		return pathErr("open", dir, errno)
	}
	d.syncedEntries = maps.Clone(d.entries)
	return nil
}

// memFile is a File of a MemFS: one open file description.
type memFile struct {
	p    *MemFS
	node *inode
	name string // as opened, for errors
	base string // for Stat
	flag int
	// Guarded by p.m.mu.
	off    int
	closed bool
	lock   LockHow // 0, LockShared or LockExclusive
}

// check reports why f cannot be used. The caller holds f.p.m.mu.
func (f *memFile) check() Errno {
	switch {
	case f.p.m.crashed:
		return EIO
	case f.closed:
		return EBADF
	}
	return 0
}

func (f *memFile) Read(b []byte) (int, error) {
	m := f.p.m
	m.mu.Lock()
	defer m.mu.Unlock()
	switch errno := f.check(); {
	case errno != 0:
		return 0, pathErr("read", f.name, errno)
	case f.node.isDir():
		return 0, pathErr("read", f.name, EISDIR)
	case f.flag&accMode == os.O_WRONLY:
		return 0, pathErr("read", f.name, EBADF)
	case len(b) == 0:
		return 0, nil
	case f.off >= len(f.node.data):
		return 0, io.EOF
	}
	n := copy(b, f.node.data[f.off:])
	f.off += n
	return n, nil
}

func (f *memFile) ReadAt(b []byte, off int64) (int, error) {
	m := f.p.m
	m.mu.Lock()
	defer m.mu.Unlock()
	switch errno := f.check(); {
	case errno != 0:
		return 0, pathErr("read", f.name, errno)
	case f.node.isDir():
		return 0, pathErr("read", f.name, EISDIR)
	case f.flag&accMode == os.O_WRONLY:
		return 0, pathErr("read", f.name, EBADF)
	case off < 0:
		return 0, pathErr("read", f.name, EINVAL)
	case off >= int64(len(f.node.data)):
		return 0, io.EOF
	}
	n := copy(b, f.node.data[off:])
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) Write(b []byte) (int, error) {
	m := f.p.m
	m.mu.Lock()
	defer m.mu.Unlock()
	switch errno := f.check(); {
	case errno != 0:
		return 0, pathErr("write", f.name, errno)
	case f.flag&accMode == os.O_RDONLY:
		return 0, pathErr("write", f.name, EBADF)
	case len(b) == 0:
		return 0, nil
	}
	n := f.node
	if f.flag&os.O_APPEND != 0 {
		f.off = len(n.data)
	}
	if end := f.off + len(b); end > len(n.data) {
		n.data = append(n.data, make([]byte, end-len(n.data))...)
	}
	copy(n.data[f.off:], b)
	f.off += len(b)
	n.mtime = m.clock()
	return len(b), nil
}

// Sync makes the file's data durable; for a directory opened read-only it
// makes the directory's entries durable, as fsync(2) does.
func (f *memFile) Sync() error {
	m := f.p.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if errno := f.check(); errno != 0 {
		return pathErr("sync", f.name, errno)
	}
	if f.node.isDir() {
		f.node.syncedEntries = maps.Clone(f.node.entries)
	} else {
		f.node.synced = slices.Clone(f.node.data)
	}
	return nil
}

func (f *memFile) Stat() (FileInfo, error) {
	m := f.p.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if errno := f.check(); errno != 0 {
		return FileInfo{}, pathErr("stat", f.name, errno)
	}
	return m.info(f.node, f.base), nil
}

func (f *memFile) Flock(how LockHow) error {
	m := f.p.m
	m.mu.Lock()
	defer m.mu.Unlock()
	op := how &^ LockNonBlocking
	if op != LockShared && op != LockExclusive && op != Unlock {
		return pathErr("flock", f.name, EINVAL)
	}
	if errno := f.check(); errno != 0 {
		return pathErr("flock", f.name, errno)
	}
	if op == f.lock {
		return nil
	}
	// Linux converts a lock by dropping the old one first, so a failed
	// non-blocking conversion leaves the file unlocked; so does this.
	f.unlockLocked()
	if op == Unlock {
		return nil
	}
	n := f.node
	for {
		if errno := f.check(); errno != 0 {
			return pathErr("flock", f.name, errno)
		}
		if n.exclusive == nil && (op == LockShared || len(n.shared) == 0) {
			break
		}
		if how&LockNonBlocking != 0 {
			return pathErr("flock", f.name, ErrWouldBlock)
		}
		m.cond.Wait()
	}
	if op == LockExclusive {
		n.exclusive = f
	} else {
		if n.shared == nil {
			n.shared = map[*memFile]struct{}{}
		}
		n.shared[f] = struct{}{}
	}
	f.lock = op
	return nil
}

// unlockLocked releases f's lock, if any. The caller holds f.p.m.mu.
func (f *memFile) unlockLocked() {
	switch f.lock {
	case LockExclusive:
		f.node.exclusive = nil
	case LockShared:
		delete(f.node.shared, f)
	default:
		return
	}
	f.lock = 0
	f.p.m.cond.Broadcast()
}

func (f *memFile) Close() error {
	m := f.p.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if errno := f.check(); errno != 0 {
		return pathErr("close", f.name, errno)
	}
	f.closeLocked()
	return nil
}

// closeLocked closes f. The caller holds f.p.m.mu.
func (f *memFile) closeLocked() {
	f.unlockLocked()
	f.closed = true
	delete(f.p.files, f)
	f.p.m.cond.Broadcast() // wake a Flock of f blocked in another goroutine
}

var _ FileSystemSyncer = (*MemFS)(nil)

// SyncFS implements FileSystemSyncer: the data of every regular file
// linked anywhere in the tree becomes durable, as File.Sync of each would
// make it. Directory entries are left as they are (only SyncDir makes
// them durable), so the model credits syncfs with no more than its
// FileSystemSyncer promise.
func (p *MemFS) SyncFS() error {
	m, err := p.enter("syncfs", ".")
	if err != nil {
		return err
	}
	defer m.mu.Unlock()
	var walk func(d *inode)
	walk = func(d *inode) {
		for _, n := range d.entries {
			switch {
			case n.isDir():
				walk(n)
			case n.mode.IsRegular():
				n.synced = slices.Clone(n.data)
			}
		}
	}
	walk(m.root)
	return nil
}
