package fsys

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
)

// Op names one operation of FS or File, for Fault rules and counters.
type Op uint8

// The operations a Fault can fail. OpClose is File.Close; FS.Close is passed
// through and never failed.
const (
	OpOpen     Op = iota // FS.OpenFile
	OpRead               // File.Read
	OpWrite              // File.Write
	OpSync               // File.Sync
	OpStat               // File.Stat
	OpFlock              // File.Flock
	OpClose              // File.Close
	OpRename             // FS.Rename
	OpRemove             // FS.Remove
	OpMkdir              // FS.Mkdir
	OpLstat              // FS.Lstat
	OpReadDir            // FS.ReadDir
	OpSyncDir            // FS.SyncDir
	OpSyncFS             // FileSystemSyncer.SyncFS
	OpTruncate           // Truncater.Truncate of a File
	OpReserve            // Reserver.Reserve of a File
	numOps
)

var opNames = [numOps]string{
	"open", "read", "write", "sync", "stat", "flock", "close",
	"rename", "remove", "mkdir", "lstat", "readdir", "syncdir", "syncfs",
	"truncate", "reserve",
}

// String returns the lower-case name of the operation ("open", "syncdir").
func (op Op) String() string {
	if op < numOps {
		return opNames[op]
	}
	return fmt.Sprintf("Op(%d)", uint8(op))
}

// Rule says which calls a Fault fails. A call matches a rule if its
// operation is Op and Match accepts its name. Of the matching calls, the
// first After succeed, the next Times fail with Err (all of them if Times is
// 0), and the rest succeed.
type Rule struct {
	Op Op
	// Match selects calls by name; nil matches every name. File operations
	// are matched on the name the file was opened with; OpRename matches if
	// Match accepts either the old or the new name. Match runs with the
	// Fault's lock held and must not call the Fault.
	Match func(name string) bool
	// After is how many matching calls succeed before the rule fires.
	After int
	// Times is how many matching calls fail once the rule fires; 0 means
	// every one.
	Times int
	// Err is the error the failed call wraps, such as EIO, ENOSPC or
	// EDQUOT (errno.go); nil means EIO.
	Err error
	// Short, for OpWrite only, makes a failed write first write the first
	// half of the buffer to the inner file and then return that count with
	// Err, as a write that ran out of space part-way does.
	Short bool
	// Creates restricts the rule to calls that would make a new inode:
	// OpOpen of CreateLocked, OpOpen of OpenFile with O_CREATE when the
	// name does not exist yet, and OpMkdir. Writes to files that exist,
	// renames and removes are not matched: with Err ENOSPC this is a file
	// system out of inodes (InodeExhaustion).
	Creates bool
}

// InodeExhaustion returns the rules of a file system out of inodes: every
// call that would create a file or folder fails with ENOSPC, while
// existing files can still be opened, written, renamed and removed.
func InodeExhaustion() []Rule {
	return []Rule{
		{Op: OpOpen, Creates: true, Err: ENOSPC},
		{Op: OpMkdir, Creates: true, Err: ENOSPC},
	}
}

// Call describes one call, as a Fault hook sees it.
type Call struct {
	Op      Op
	Name    string // the name, or for a File the name it was opened with
	NewName string // for OpRename only: the new name
	// Create says the call would make a new inode (see Rule.Creates).
	Create bool
}

// Fault wraps an FS and fails chosen calls, for testing error paths. A
// failed call does not reach the inner FS, except where a real failure would
// have had an effect: a failed File.Close still closes the inner file (on
// Linux close always releases the descriptor), and a Short write writes half
// its buffer. So a failed Sync leaves the file unsynced, a failed Flock
// leaves it unlocked, and a failed Rename, Remove or Mkdir changes nothing.
//
// Failures are returned as *fs.PathError (*os.LinkError for Rename) wrapping
// the rule's error, so errors.Is(err, EIO) works. A Fault is safe for
// concurrent use.
type Fault struct {
	inner FS

	mu    sync.Mutex
	rules []*ruleState
	hook  func(Call) error
	calls [numOps]int
	fired int
}

type ruleState struct {
	Rule
	seen, failed int
}

var _ FS = (*Fault)(nil)

// NewFault returns a Fault that passes every call to inner until rules are
// injected.
func NewFault(inner FS) *Fault {
	return &Fault{inner: inner}
}

// Inject adds a rule. Rules are consulted in the order they were added, and
// every matching rule counts the call; the first one that is due to fail
// fails it.
func (f *Fault) Inject(r Rule) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Err == nil {
		r.Err = EIO
	}
	f.rules = append(f.rules, &ruleState{Rule: r})
}

// SetHook installs a hook consulted for every call that no rule fails: a
// non-nil error from it fails the call as a rule would (without a short
// write), and counts in Fired. The hook runs without the Fault's lock held,
// so it may use the Fault; nil removes it.
func (f *Fault) SetHook(hook func(Call) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hook = hook
}

// Reset removes every rule and the hook and zeroes Calls and Fired.
func (f *Fault) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = nil
	f.hook = nil
	f.calls = [numOps]int{}
	f.fired = 0
}

// Calls returns how many calls of op the Fault has seen, failed or not.
func (f *Fault) Calls(op Op) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if op >= numOps {
		return 0
	}
	return f.calls[op]
}

// Fired returns how many calls the Fault has failed.
func (f *Fault) Fired() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fired
}

// decide counts the call and returns the error to fail it with, if any, and
// whether the failure is a short write.
func (f *Fault) decide(c Call) (short bool, err error) {
	f.mu.Lock()
	f.calls[c.Op]++
	var hit *ruleState
	for _, r := range f.rules {
		if r.Op != c.Op || !r.matches(c) {
			continue
		}
		r.seen++
		if hit == nil && r.seen > r.After && (r.Times == 0 || r.failed < r.Times) {
			hit = r
		}
	}
	hook := f.hook
	if hit != nil {
		hit.failed++
		f.fired++
		f.mu.Unlock()
		return hit.Short && c.Op == OpWrite, hit.Err
	}
	f.mu.Unlock()
	if hook == nil {
		return false, nil
	}
	if err := hook(c); err != nil {
		f.mu.Lock()
		f.fired++
		f.mu.Unlock()
		return false, err
	}
	return false, nil
}

func (r *ruleState) matches(c Call) bool {
	if r.Creates && !c.Create {
		return false
	}
	if r.Match == nil {
		return true
	}
	return r.Match(c.Name) || (c.Op == OpRename && r.Match(c.NewName))
}

func faultErr(c Call, err error) error {
	if c.Op == OpRename {
		return &os.LinkError{Op: "rename", Old: c.Name, New: c.NewName, Err: err}
	}
	return &fs.PathError{Op: c.Op.String(), Path: c.Name, Err: err}
}

// OpenFile implements FS; the File it returns is subject to the same rules.
// CreateLocked implements FS. It is one call of OpOpen followed by one of
// OpFlock, as the creation and the lock it combines; a failure of either
// creates nothing, as the real operation fails as a whole.
func (f *Fault) CreateLocked(name string, perm fs.FileMode) (File, error) {
	for _, op := range []Op{OpOpen, OpFlock} {
		c := Call{Op: op, Name: name, Create: op == OpOpen}
		if _, err := f.decide(c); err != nil {
			return nil, faultErr(c, err)
		}
	}
	inner, err := f.inner.CreateLocked(name, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{f: f, inner: inner, name: name}, nil
}

func (f *Fault) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	c := Call{Op: OpOpen, Name: name}
	if flag&os.O_CREATE != 0 {
		// Only a name that does not exist needs a new inode.
		_, err := f.inner.Lstat(name)
		c.Create = errors.Is(err, fs.ErrNotExist)
	}
	if _, err := f.decide(c); err != nil {
		return nil, faultErr(c, err)
	}
	inner, err := f.inner.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{f: f, inner: inner, name: name}, nil
}

// Rename implements FS.
func (f *Fault) Rename(oldname, newname string) error {
	c := Call{Op: OpRename, Name: oldname, NewName: newname}
	if _, err := f.decide(c); err != nil {
		return faultErr(c, err)
	}
	return f.inner.Rename(oldname, newname)
}

// WithNoReplace returns f as an FS that also implements NoReplaceRenamer
// when the inner FS does, each RenameNoReplace being one call of OpRename
// (rules on OpRename fail it too); otherwise it returns f. A plain Fault
// hides the inner FS's RenameNoReplace, so that tests of a queue without
// the spare-file reserve (spec R32) keep it; the model uses this one.
func (f *Fault) WithNoReplace() FS {
	if _, ok := f.inner.(NoReplaceRenamer); !ok {
		return f
	}
	return faultNoReplace{f}
}

// faultNoReplace is a Fault that renames without replacing.
type faultNoReplace struct{ *Fault }

var _ NoReplaceRenamer = faultNoReplace{}

func (f faultNoReplace) RenameNoReplace(oldname, newname string) error {
	c := Call{Op: OpRename, Name: oldname, NewName: newname}
	if _, err := f.decide(c); err != nil {
		return faultErr(c, err)
	}
	return f.inner.(NoReplaceRenamer).RenameNoReplace(oldname, newname)
}

// Remove implements FS.
func (f *Fault) Remove(name string) error {
	c := Call{Op: OpRemove, Name: name}
	if _, err := f.decide(c); err != nil {
		return faultErr(c, err)
	}
	return f.inner.Remove(name)
}

// Mkdir implements FS.
func (f *Fault) Mkdir(name string, perm fs.FileMode) error {
	c := Call{Op: OpMkdir, Name: name, Create: true}
	if _, err := f.decide(c); err != nil {
		return faultErr(c, err)
	}
	return f.inner.Mkdir(name, perm)
}

// Lstat implements FS.
func (f *Fault) Lstat(name string) (FileInfo, error) {
	c := Call{Op: OpLstat, Name: name}
	if _, err := f.decide(c); err != nil {
		return FileInfo{}, faultErr(c, err)
	}
	return f.inner.Lstat(name)
}

// ReadDir implements FS. A failure happens before any entry is listed.
func (f *Fault) ReadDir(dir string, fn func(name []byte, typ EntryType) error) error {
	c := Call{Op: OpReadDir, Name: dir}
	if _, err := f.decide(c); err != nil {
		return faultErr(c, err)
	}
	return f.inner.ReadDir(dir, fn)
}

// SyncDir implements FS.
func (f *Fault) SyncDir(dir string) error {
	c := Call{Op: OpSyncDir, Name: dir}
	if _, err := f.decide(c); err != nil {
		return faultErr(c, err)
	}
	return f.inner.SyncDir(dir)
}

var _ FileSystemSyncer = (*Fault)(nil)

// SyncFS implements FileSystemSyncer, as OpSyncFS (matched on the name
// "."): it passes the call to the inner FS, or fails it with an error
// wrapping errors.ErrUnsupported if the inner FS is no FileSystemSyncer.
func (f *Fault) SyncFS() error {
	c := Call{Op: OpSyncFS, Name: "."}
	if _, err := f.decide(c); err != nil {
		return faultErr(c, err)
	}
	s, ok := f.inner.(FileSystemSyncer)
	if !ok {
		return faultErr(c, errors.ErrUnsupported)
	}
	return s.SyncFS()
}

// Close closes the inner FS. It is never failed.
func (f *Fault) Close() error { return f.inner.Close() }

// faultFile is a File opened through a Fault.
type faultFile struct {
	f     *Fault
	inner File
	name  string
}

func (ff *faultFile) Read(p []byte) (int, error) {
	c := Call{Op: OpRead, Name: ff.name}
	if _, err := ff.f.decide(c); err != nil {
		return 0, faultErr(c, err)
	}
	return ff.inner.Read(p)
}

func (ff *faultFile) ReadAt(p []byte, off int64) (int, error) {
	c := Call{Op: OpRead, Name: ff.name}
	if _, err := ff.f.decide(c); err != nil {
		return 0, faultErr(c, err)
	}
	return ff.inner.ReadAt(p, off)
}

func (ff *faultFile) Write(p []byte) (int, error) {
	c := Call{Op: OpWrite, Name: ff.name}
	short, err := ff.f.decide(c)
	if err == nil {
		return ff.inner.Write(p)
	}
	n := 0
	if short {
		var werr error
		if n, werr = ff.inner.Write(p[:len(p)/2]); werr != nil {
			return n, werr
		}
	}
	return n, faultErr(c, err)
}

func (ff *faultFile) Sync() error {
	c := Call{Op: OpSync, Name: ff.name}
	if _, err := ff.f.decide(c); err != nil {
		return faultErr(c, err)
	}
	return ff.inner.Sync()
}

func (ff *faultFile) Stat() (FileInfo, error) {
	c := Call{Op: OpStat, Name: ff.name}
	if _, err := ff.f.decide(c); err != nil {
		return FileInfo{}, faultErr(c, err)
	}
	return ff.inner.Stat()
}

func (ff *faultFile) Flock(how LockHow) error {
	c := Call{Op: OpFlock, Name: ff.name}
	if _, err := ff.f.decide(c); err != nil {
		return faultErr(c, err)
	}
	return ff.inner.Flock(how)
}

// Close closes the inner file even when it fails the call, as close(2)
// releases the descriptor (and its locks) whatever it returns.
func (ff *faultFile) Close() error {
	c := Call{Op: OpClose, Name: ff.name}
	_, err := ff.f.decide(c)
	cerr := ff.inner.Close()
	if err != nil {
		return faultErr(c, err)
	}
	return cerr
}

// Truncate passes Truncater through (OpTruncate), so that the code paths
// that cut a file back (a history's compaction, audit lines taken back)
// run, and can be failed, behind the seam. An inner file without it
// fails with errors.ErrUnsupported.
func (ff *faultFile) Truncate(size int64) error {
	c := Call{Op: OpTruncate, Name: ff.name}
	if _, err := ff.f.decide(c); err != nil {
		return faultErr(c, err)
	}
	t, ok := ff.inner.(Truncater)
	if !ok {
		return &fs.PathError{Op: "truncate", Path: ff.name, Err: errors.ErrUnsupported}
	}
	return t.Truncate(size)
}

// Reserve passes Reserver through (OpReserve); an inner file without it
// fails with errors.ErrUnsupported, as the queue's reserve is best effort.
func (ff *faultFile) Reserve(off, n int64) error {
	c := Call{Op: OpReserve, Name: ff.name}
	if _, err := ff.f.decide(c); err != nil {
		return faultErr(c, err)
	}
	r, ok := ff.inner.(Reserver)
	if !ok {
		return &fs.PathError{Op: "fallocate", Path: ff.name, Err: errors.ErrUnsupported}
	}
	return r.Reserve(off, n)
}

// SeekData passes DataSeeker through, never failed (it only finds where
// the data is, and counting it as a read would shift the rules that count
// reads); an inner file without it fails with errors.ErrUnsupported, and
// the reader then reads the bytes.
func (ff *faultFile) SeekData(off int64) (int64, error) {
	d, ok := ff.inner.(DataSeeker)
	if !ok {
		return 0, &fs.PathError{Op: "lseek", Path: ff.name, Err: errors.ErrUnsupported}
	}
	return d.SeekData(off)
}
