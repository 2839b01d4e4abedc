package conform

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// This file judges durability (spec R9, R15, R20) from the outside, in the
// manner of ALICE (Pillai et al., "All File Systems Are Not Created Equal",
// OSDI 2014): the implementation runs under strace -f, and the trace is
// replayed against a model of what a power cut may keep. The model is the
// weak one POSIX promises (and ext4 without a journal, or with
// data=writeback, delivers): file data is durable only after an fsync or
// fdatasync of that file; a directory entry (a create, rename, link or
// unlink) only after an fsync of its directory; sync and syncfs make
// everything durable. The reply to a request is the moment of
// acknowledgement (the first write on stdout after the request was read).
// A crash state consistent with the trace exists that loses an
// acknowledged record when, at that moment, the record's data or its
// directory entry is not yet durable; one that brings a delivered record
// back when its unlink is not; and one that loses the audit line of a
// dropped record when the line was not fsynced before the unlink.

// traceSyscalls are the system calls the durability model needs.
// Besides the calls the model judges, it traces every other way of
// writing into a file (mmap, ftruncate, sendfile, copy_file_range,
// splice, io_uring, aio), of duplicating the reply pipe (dup, dup2, dup3,
// fcntl) and of changing what a relative path means (chdir, fchdir): a
// write path the model cannot follow makes the verdict inconclusive, never
// a pass.
const traceSyscalls = "trace=open,openat,openat2,creat,write,pwrite64,writev,pwritev,pwritev2,fsync,fdatasync,sync,syncfs,sync_file_range,rename,renameat,renameat2,link,linkat,unlink,unlinkat,read,readv,flock,dup,dup2,dup3,fcntl,mmap,msync,ftruncate,truncate,sendfile,copy_file_range,splice,io_uring_setup,io_submit,chdir,fchdir"

// durCache holds the one traced session of a Run, which the three
// durability probes judge each in its own way.
type durCache struct {
	a      *durAnalysis
	err    error
	events []Event
	stderr string
}

// durabilityRun runs the traced session once per Run (and seed) and
// analyses it; the three durability probes share it and each reports its
// own part.
func durabilityRun(s *Session) (*durAnalysis, error) {
	if c := s.cfg.dur; c != nil && s.cfg.durSeed == s.seed {
		s.Events = append(s.Events, c.events...)
		s.stderr = append(s.stderr, c.stderr)
		return c.a, c.err
	}
	a, err := traceSession(s)
	s.cfg.dur, s.cfg.durSeed = &durCache{a: a, err: err, events: s.Events, stderr: s.StderrTail()}, s.seed
	return a, err
}

func traceSession(s *Session) (*durAnalysis, error) {
	strace := s.cfg.Strace
	if strace == "none" {
		return nil, errInconclusive("tracing disabled (--strace none): durability cannot be judged")
	}
	if strace == "" {
		p, err := exec.LookPath("strace")
		if err != nil {
			return nil, errInconclusive("strace is not installed: durability cannot be judged (never a pass without a trace)")
		}
		strace = p
	}
	tf := filepath.Join(s.root, "strace.out")
	s.wrap = []string{strace, "-f", "-qq", "-y", "-s", "8192", "-e", traceSyscalls, "-o", tf}
	var max *int
	if s.cfg.features[FeatureMaxSize] {
		max = intp(3) // overflow drops on the later appends: audit lines
	}
	ev0 := len(s.Events)
	if err := s.Start(max); err != nil {
		return nil, err
	}
	inPipe, outPipe := s.proc.inPipe, s.proc.outPipe
	if _, err := s.appendN(5, nil); err != nil {
		return nil, err
	}
	if _, err := s.ingest(nil, 0); err != nil {
		return nil, err
	}
	if s.Features[FeaturePrune] {
		if _, err := s.appendN(2, nil); err != nil {
			return nil, err
		}
		if _, err := s.Call(Request{Op: "prune", Keep: intp(0)}); err != nil {
			return nil, err
		}
	}
	s.Close() // quit: strace must exit by itself to flush its output
	f, err := os.Open(tf)
	if err != nil {
		return nil, errInconclusive("no strace output (%v): durability cannot be judged", err)
	}
	defer f.Close()
	calls, err := parseStrace(bufio.NewScanner(f))
	if err != nil {
		return nil, errInconclusive("strace output not understood: %v", err)
	}
	dir, err := filepath.EvalSymlinks(s.Dir)
	if err != nil {
		dir = s.Dir
	}
	a := analyse(calls, dir, inPipe, outPipe)
	if a.appends == 0 {
		return nil, errInconclusive("the trace shows no file created under a pending name in %s: was the implementation traced?", dir)
	}
	if len(a.unknown) > 0 {
		return nil, errInconclusive("the trace cannot be judged: %s", strings.Join(a.unknown, "; "))
	}
	// Every request that was answered must be found in the trace, read
	// and replied to: an acknowledgement the model cannot place (a reply
	// written some way it does not follow) must never make a pass.
	answered := 0
	for _, e := range s.Events[ev0:] {
		if e.Kind == "reply" {
			answered++
		}
	}
	if a.replies < answered {
		return nil, errInconclusive("the trace shows %d replies, but the implementation answered %d requests: acknowledgements cannot be located in the trace", a.replies, answered)
	}
	return a, nil
}

func probeDurableAppend(s *Session) error {
	a, err := durabilityRun(s)
	if err != nil {
		return err
	}
	if len(a.r9) > 0 {
		return fmt.Errorf("R9: %s", strings.Join(a.r9, "\n"))
	}
	return passWith("%d acknowledged appends durable at their reply (%d system calls traced)", a.appends, a.calls)
}

func probeDurableDelete(s *Session) error {
	a, err := durabilityRun(s)
	if err != nil {
		return err
	}
	if a.deletes == 0 {
		return errInconclusive("the trace shows no delivered record's unlink")
	}
	if len(a.r15) > 0 {
		return fmt.Errorf("R15: %s", strings.Join(a.r15, "\n"))
	}
	return passWith("%d deletes durable before the ingest reply", a.deletes)
}

// probeTmpFiles judges the temporary files of the traced session: each
// created O_EXCL|O_NOFOLLOW, so that a planted symlink or file is never
// written through (R9, R22), and none left behind once its append was
// acknowledged and the implementation quit (R8: a stray .tmp file is a
// leak nothing ever removes).
func probeTmpFiles(s *Session) error {
	a, err := durabilityRun(s)
	if err != nil {
		return err
	}
	var bad []string
	if len(a.unsafeTmp) > 0 {
		bad = append(bad, "R22: "+strings.Join(a.unsafeTmp, "\n"))
	}
	if len(a.leftTmp) > 0 {
		bad = append(bad, "R8: "+strings.Join(a.leftTmp, "\n"))
	}
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, "\n"))
	}
	if a.tmps == 0 {
		return errNA("no named .tmp file in the trace (O_TMPFILE or another scheme)")
	}
	return passWith("%d .tmp files, each created O_EXCL|O_NOFOLLOW and gone by the end", a.tmps)
}

// probeLockOrder judges the lock protocol's order from the traced
// session (R11): a delivered record is deleted while its consumer still
// holds its lock, and its lock file goes only after it. A lock released
// (LOCK_UN) or unlinked first lets another consumer lock the record and
// deliver it a second time.
func probeLockOrder(s *Session) error {
	a, err := durabilityRun(s)
	if err != nil {
		return err
	}
	if a.deletes == 0 {
		return errInconclusive("the trace shows no delivered record's delete")
	}
	if len(a.r11) > 0 {
		return fmt.Errorf("R11: %s", strings.Join(a.r11, "\n"))
	}
	if a.locked == 0 {
		return errInconclusive("the trace shows no flock of a lock file during ingest (a lock of another kind is not judged)")
	}
	return passWith("%d deliveries, each record deleted under its lock, the lock file after it", a.deletes)
}

func probeDurableAudit(s *Session) error {
	a, err := durabilityRun(s)
	if err != nil {
		return err
	}
	if a.drops == 0 {
		return errNA("nothing was dropped in the traced session (neither prune nor max_size)")
	}
	if len(a.r20) > 0 {
		return fmt.Errorf("R20: %s", strings.Join(a.r20, "\n"))
	}
	return passWith("%d dropped records, each with an audit line fsynced before the unlink", a.drops)
}

// syscallRec is one completed system call of the trace.
type syscallRec struct {
	pid   string
	line  int // the line of the trace where it completed (1-based)
	start int // the line where it started (== line unless unfinished)
	name  string
	args  []string
	ret   string // the return value with its annotation, e.g. 3</q/x>
}

var (
	lineRe    = regexp.MustCompile(`^(\d+)\s+(.*)$`)
	resumedRe = regexp.MustCompile(`^<\.\.\. (\w+) resumed>(.*)$`)
	fdPathRe  = regexp.MustCompile(`^(-?\d+|AT_FDCWD)<(.*)>$`)
	opRe      = regexp.MustCompile(`"op"\s*:\s*"(\w+)"`)
)

// parseStrace reads `strace -f -y` output into completed calls.
func parseStrace(sc *bufio.Scanner) ([]syscallRec, error) {
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	type open struct {
		text  string
		start int
	}
	unfinished := map[string]open{}
	var out []syscallRec
	n := 0
	for sc.Scan() {
		n++
		m := lineRe.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		pid, text := m[1], m[2]
		start := n
		if rest, ok := strings.CutSuffix(text, " <unfinished ...>"); ok {
			unfinished[pid] = open{rest, n}
			continue
		}
		if r := resumedRe.FindStringSubmatch(text); r != nil {
			u, ok := unfinished[pid]
			if !ok {
				continue
			}
			delete(unfinished, pid)
			text, start = u.text+r[2], u.start
		}
		if c, ok := parseCall(text); ok {
			c.pid, c.line, c.start = pid, n, start
			out = append(out, c)
		}
	}
	return out, sc.Err()
}

// parseCall splits `name(arg, arg) = ret` respecting quotes and brackets.
func parseCall(text string) (syscallRec, bool) {
	i := strings.IndexByte(text, '(')
	if i <= 0 {
		return syscallRec{}, false
	}
	c := syscallRec{name: text[:i]}
	depth, inq, esc := 0, false, false
	argStart := i + 1
	j := i + 1
	for ; j < len(text); j++ {
		ch := text[j]
		switch {
		case esc:
			esc = false
		case inq && ch == '\\':
			esc = true
		case ch == '"':
			inq = !inq
		case inq:
		case ch == '(' || ch == '[' || ch == '{' || ch == '<':
			depth++
		case ch == ']' || ch == '}' || ch == '>':
			depth--
		case ch == ')' && depth == 0:
			c.args = append(c.args, strings.TrimSpace(text[argStart:j]))
			rest := strings.TrimSpace(text[j+1:])
			ret, ok := strings.CutPrefix(rest, "= ")
			if !ok {
				return c, false
			}
			c.ret = ret
			return c, true
		case ch == ')':
			depth--
		case ch == ',' && depth == 0:
			c.args = append(c.args, strings.TrimSpace(text[argStart:j]))
			argStart = j + 1
		}
	}
	return c, false
}

// fdPath returns the fd number and the path of an `N</path>` argument.
func fdPath(arg string) (string, string) {
	m := fdPathRe.FindStringSubmatch(arg)
	if m == nil {
		return arg, ""
	}
	return m[1], m[2]
}

// unquote decodes a strace string argument (enough for paths and JSON).
func unquote(arg string) string {
	arg = strings.TrimSuffix(arg, "...")
	if len(arg) < 2 || arg[0] != '"' {
		return arg
	}
	s, err := strconv.Unquote(arg)
	if err != nil {
		return strings.Trim(arg, `"`)
	}
	return s
}

// retInt returns the numeric return value of a call.
func retInt(c syscallRec) int {
	v, _ := fdPath(strings.Fields(c.ret + " ")[0])
	n, err := strconv.Atoi(v)
	if err != nil {
		return -1
	}
	return n
}

// durAnalysis is what the replay of a trace found.
type durAnalysis struct {
	calls, appends, deletes, drops int
	replies                        int // requests whose reply was found
	r9, r15, r20                   []string
	r11                            []string // lock-order violations
	unsafeTmp, leftTmp             []string // R22 and R8 findings on .tmp files
	tmps                           int      // .tmp files created in the directory
	locked                         int      // lock files flocked during an ingest
	// unknown lists what the model cannot follow (a write path it does
	// not understand): the verdict is then inconclusive.
	unknown []string
}

// mapping is a shared writable mmap of a file.
type mapping struct {
	start, size uint64
	path        string
}

func parseUint(s string) uint64 {
	v, err := strconv.ParseUint(s, 0, 64)
	if err != nil {
		return 0
	}
	return v
}

// analyse replays calls against the persistence model for the queue
// directory dir. inPipe and outPipe name the judge's request and reply
// pipes as strace -y shows them (pipe:[inode]); where they are "" the
// request and reply fds are taken to be 0 and 1.
func analyse(calls []syscallRec, dir, inPipe, outPipe string) *durAnalysis {
	a := &durAnalysis{calls: len(calls)}
	// The reply pipe and the request pipe are known by their identity:
	// a reply written through a duplicate of fd 1 (dup, dup2, fcntl) is
	// still a reply, and what a subshell writes on its own fd 1 is not.
	isOut := func(fd, path string) bool {
		if outPipe != "" && path != "" {
			return path == outPipe
		}
		return fd == "1"
	}
	isIn := func(fd, path string) bool {
		if inPipe != "" && path != "" {
			return path == inPipe
		}
		return fd == "0"
	}
	// Each process's working directory, for relative paths.
	cwd := map[string]string{}
	lastCwd := ""
	resolveAt := func(c syscallRec, dirArg, name string) string {
		if filepath.IsAbs(name) {
			return filepath.Clean(name)
		}
		if _, base := fdPath(dirArg); base != "" {
			return filepath.Join(base, name)
		}
		if d, ok := cwd[c.pid]; ok {
			return filepath.Join(d, name)
		}
		if lastCwd != "" {
			return filepath.Join(lastCwd, name)
		}
		return filepath.Clean(name)
	}
	var maps []mapping
	tmpLeft := map[string]int{} // .tmp files in dir still there, with their creation line
	isTmp := func(p string) bool { return filepath.Dir(p) == dir && strings.HasSuffix(p, ".tmp") }
	dirty := map[string]bool{}         // file data written since its last fsync
	syncOpen := map[string]bool{}      // opened O_SYNC or O_DSYNC
	entry := map[string]int{}          // path -> start line of its last entry change not yet durable
	dirs := map[string]bool{dir: true} // known directories
	isDir := func(p string) bool {
		if dirs[p] {
			return true
		}
		fi, err := os.Stat(p)
		return err == nil && fi.IsDir()
	}
	type auditWrite struct {
		line   int
		text   string
		synced bool
	}
	var audits []*auditWrite
	auditPath := filepath.Join(dir, ".overflow-audit.log")
	// The current request segment.
	op, acked := "", true
	var created, unlinked []string // pending paths of this segment
	// Lock files released or unlinked in this segment, by ULID, with the
	// trace line.
	unlockedAt, lockGoneAt := map[string]int{}, map[string]int{}
	lockID := func(p string) (string, bool) {
		b := filepath.Base(p)
		if filepath.Dir(p) != dir || !strings.HasPrefix(b, "pending-") || !strings.HasSuffix(b, ".lock") {
			return "", false
		}
		return strings.TrimSuffix(strings.TrimPrefix(b, "pending-"), ".lock"), true
	}
	renamedDirty := map[string]int{}
	checkAck := func(c syscallRec) {
		if op != "append" {
			created = nil // only an append acknowledges a record
		}
		for _, p := range created {
			id := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p), "pending-"), ".json")
			switch {
			case renamedDirty[p] > 0:
				a.r9 = append(a.r9, fmt.Sprintf("%s was renamed to its pending name (trace line %d) before its data was fsynced: a power cut after the rename can leave an empty or partial file under the pending name (R8)", id, renamedDirty[p]))
			case dirty[p]:
				a.r9 = append(a.r9, fmt.Sprintf("%s was acknowledged (trace line %d) before its file's data was fsynced: a power cut right after the reply can lose it", id, c.line))
			case entry[p] > 0:
				a.r9 = append(a.r9, fmt.Sprintf("%s was acknowledged (trace line %d) before the directory was fsynced after the entry was created (line %d): a power cut right after the reply can lose the acknowledged record", id, c.line, entry[p]))
			}
		}
		if op == "ingest" {
			for _, p := range unlinked {
				if entry[p] > 0 {
					a.r15 = append(a.r15, fmt.Sprintf("ingest replied (trace line %d) before the directory was fsynced after unlinking %s (line %d): a power cut can bring the delivered record back", c.line, filepath.Base(p), entry[p]))
				}
			}
		}
		created, unlinked = nil, nil
		clear(renamedDirty)
		clear(unlockedAt)
		clear(lockGoneAt)
	}
	pendingPath := func(p string) bool {
		_, ok := pendingName(filepath.Base(p))
		return ok && filepath.Dir(p) == dir
	}
	newEntry := func(p string, line int) {
		entry[p] = line
	}
	// removed judges a pending record's removal (an unlink, or a rename
	// away from its pending name): a delivered record's delete must be
	// durable at the ingest reply (R15), a dropped record's audit line
	// before it goes (R20).
	removed := func(c syscallRec, p string) {
		unlinked = append(unlinked, p)
		if op == "ingest" {
			a.deletes++
			id := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p), "pending-"), ".json")
			if l, ok := unlockedAt[id]; ok {
				a.r11 = append(a.r11, fmt.Sprintf("%s's lock was released (LOCK_UN, trace line %d) before the record was deleted (line %d): another consumer could lock it and deliver it again", id, l, c.line))
			}
			if l, ok := lockGoneAt[id]; ok {
				a.r11 = append(a.r11, fmt.Sprintf("%s's lock file was unlinked (trace line %d) before the record (line %d): another consumer could create a fresh lock and deliver it again", id, l, c.line))
			}
			return
		}
		a.drops++
		id := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p), "pending-"), ".json")
		i := slices.IndexFunc(audits, func(w *auditWrite) bool { return strings.Contains(w.text, id) })
		switch {
		case i < 0:
			a.r20 = append(a.r20, fmt.Sprintf("%s was removed (trace line %d) with no audit line written before", filepath.Base(p), c.line))
		case !audits[i].synced:
			a.r20 = append(a.r20, fmt.Sprintf("%s was removed (trace line %d) before its audit line (line %d) was fsynced: a power cut can keep the removal and lose the line", filepath.Base(p), c.line, audits[i].line))
		}
	}
	for _, c := range calls {
		fd, path := "", ""
		if len(c.args) > 0 {
			fd, path = fdPath(c.args[0])
		}
		for _, arg := range c.args {
			if strings.HasPrefix(arg, "AT_FDCWD<") {
				if _, d := fdPath(arg); d != "" {
					cwd[c.pid], lastCwd = d, d
				}
			}
		}
		ack := func() {
			if !acked {
				acked = true
				a.replies++
				checkAck(c)
			}
		}
		switch c.name {
		case "read", "readv":
			if isIn(fd, path) && retInt(c) > 0 && len(c.args) > 1 {
				if m := opRe.FindStringSubmatch(unquote(c.args[1])); m != nil {
					op, acked = m[1], false
				} else if m := opRe.FindStringSubmatch(strings.ReplaceAll(strings.Join(c.args[1:], " "), `\"`, `"`)); m != nil {
					op, acked = m[1], false
				}
			}
		case "flock":
			if retInt(c) != 0 || len(c.args) < 2 {
				continue
			}
			if strings.Contains(c.args[1], "LOCK_EX") && strings.HasPrefix(path, dir+"/") {
				// Any exclusive lock in the directory: a lock file may be
				// made under another name, or ahead of time, and
				// linked or renamed into place.
				a.locked++
			}
			if id, ok := lockID(path); ok && op == "ingest" && strings.Contains(c.args[1], "LOCK_UN") {
				unlockedAt[id] = c.line
			}
		case "chdir", "fchdir":
			if retInt(c) != 0 || len(c.args) == 0 {
				continue
			}
			d := path
			if c.name == "chdir" {
				d = resolveAt(c, "", unquote(c.args[0]))
			}
			if d != "" {
				cwd[c.pid], lastCwd = d, d
			}
		case "io_uring_setup", "io_submit":
			if retInt(c) >= 0 {
				a.unknown = append(a.unknown, fmt.Sprintf("%s (trace line %d): what is written through it is invisible to the trace", c.name, c.line))
			}
		case "mmap":
			// mmap(addr, length, prot, flags, fd, offset): a shared
			// writable mapping of a file writes into it without a traced
			// call, so the file is dirty until an msync(MS_SYNC) of the
			// mapping or an fsync of the file.
			if len(c.args) < 5 || !strings.Contains(c.args[2], "PROT_WRITE") || !strings.Contains(c.args[3], "MAP_SHARED") {
				continue
			}
			_, mp := fdPath(c.args[4])
			if mp == "" || strings.HasPrefix(c.ret, "-1") {
				continue
			}
			maps = append(maps, mapping{start: parseUint(strings.Fields(c.ret)[0]), size: parseUint(c.args[1]), path: mp})
			if !syncOpen[mp] {
				dirty[mp] = true
			}
		case "msync":
			if retInt(c) != 0 || len(c.args) < 3 || !strings.Contains(c.args[2], "MS_SYNC") {
				continue
			}
			addr, size := parseUint(c.args[0]), parseUint(c.args[1])
			for _, m := range maps {
				if addr < m.start+m.size && m.start < addr+size {
					delete(dirty, m.path)
				}
			}
		case "ftruncate", "truncate":
			if retInt(c) != 0 || len(c.args) == 0 {
				continue
			}
			p := path
			if c.name == "truncate" {
				p = resolveAt(c, "", unquote(c.args[0]))
			}
			if p != "" && !syncOpen[p] {
				dirty[p] = true
			}
		case "sendfile", "copy_file_range", "splice":
			// The destination is sendfile's first argument, the third of
			// the others.
			i := 2
			if c.name == "sendfile" {
				i = 0
			}
			if retInt(c) <= 0 || len(c.args) <= i {
				continue
			}
			ofd, op := fdPath(c.args[i])
			if isOut(ofd, op) {
				ack()
				continue
			}
			if op == "" {
				a.unknown = append(a.unknown, fmt.Sprintf("%s (trace line %d) into an fd whose file is not known", c.name, c.line))
				continue
			}
			if !syncOpen[op] {
				dirty[op] = true
			}
		case "write", "pwrite64", "writev", "pwritev", "pwritev2":
			if retInt(c) <= 0 {
				continue
			}
			if isOut(fd, path) {
				ack()
				continue
			}
			if path == "" || syncOpen[path] {
				continue
			}
			dirty[path] = true
			if path == auditPath && len(c.args) > 1 {
				audits = append(audits, &auditWrite{line: c.line, text: strings.Join(c.args[1:], " ")})
			}
		case "open", "openat", "openat2", "creat":
			var flags, name, dirArg string
			if (c.name == "openat" || c.name == "openat2") && len(c.args) >= 3 {
				dirArg, name, flags = c.args[0], unquote(c.args[1]), c.args[2]
			} else if len(c.args) >= 2 {
				name, flags = unquote(c.args[0]), c.args[1]
			}
			if c.name == "creat" {
				flags = "O_CREAT"
			}
			if retInt(c) < 0 {
				continue
			}
			_, p := fdPath(strings.Fields(c.ret)[0])
			if p == "" {
				p = resolveAt(c, dirArg, name)
			}
			if strings.Contains(flags, "O_DIRECTORY") {
				dirs[p] = true
			}
			if strings.Contains(flags, "O_SYNC") || strings.Contains(flags, "O_DSYNC") {
				syncOpen[p] = true
			}
			if strings.Contains(flags, "O_CREAT") && !strings.Contains(flags, "O_TMPFILE") && isTmp(p) {
				a.tmps++
				tmpLeft[p] = c.line
				if !strings.Contains(flags, "O_EXCL") || !strings.Contains(flags, "O_NOFOLLOW") {
					a.unsafeTmp = append(a.unsafeTmp, fmt.Sprintf("%s opened %s (trace line %d): without O_EXCL|O_NOFOLLOW a planted file or symlink under the name is written through", filepath.Base(p), flags, c.line))
				}
			}
			if strings.Contains(flags, "O_CREAT") && !strings.Contains(flags, "O_TMPFILE") {
				newEntry(p, c.start)
				if pendingPath(p) {
					created = append(created, p)
					a.appends++
				}
			}
		case "fsync", "fdatasync", "sync_file_range":
			if retInt(c) != 0 || path == "" {
				continue
			}
			if c.name != "sync_file_range" && isDir(path) {
				for p, l := range entry {
					if filepath.Dir(p) == path && l < c.start {
						delete(entry, p)
					}
				}
				continue
			}
			if c.name == "sync_file_range" {
				continue // does not flush metadata nor the disk cache
			}
			delete(dirty, path)
			if path == auditPath {
				for _, w := range audits {
					if w.line < c.start {
						w.synced = true
					}
				}
			}
		case "sync", "syncfs":
			clear(dirty)
			clear(entry)
			for _, w := range audits {
				w.synced = true
			}
		case "rename", "renameat", "renameat2", "link", "linkat":
			if retInt(c) != 0 {
				continue
			}
			var from, to string
			if c.name == "rename" || c.name == "link" {
				if len(c.args) < 2 {
					continue
				}
				from, to = resolveAt(c, "", unquote(c.args[0])), resolveAt(c, "", unquote(c.args[1]))
			} else {
				if len(c.args) < 4 {
					continue
				}
				from, to = resolveAt(c, c.args[0], unquote(c.args[1])), resolveAt(c, c.args[2], unquote(c.args[3]))
			}
			if dirty[from] {
				dirty[to] = true
				if pendingPath(to) {
					renamedDirty[to] = c.line
				}
			}
			if strings.HasPrefix(c.name, "rename") {
				delete(tmpLeft, from)
				delete(dirty, from)
				newEntry(from, c.start)
			}
			newEntry(to, c.start)
			if pendingPath(to) {
				created = append(created, to)
			}
			if pendingPath(from) && !pendingPath(to) && strings.HasPrefix(c.name, "rename") {
				// A rename away from a pending name (into a trash name,
				// say) removes the record as an unlink does.
				removed(c, from)
			}
			if pendingPath(to) {
				a.appends++
			}
		case "unlink", "unlinkat":
			if retInt(c) != 0 || len(c.args) == 0 {
				continue
			}
			var p string
			if c.name == "unlink" {
				p = resolveAt(c, "", unquote(c.args[0]))
			} else if len(c.args) >= 2 {
				p = resolveAt(c, c.args[0], unquote(c.args[1]))
			}
			newEntry(p, c.start)
			delete(dirty, p)
			delete(tmpLeft, p)
			if id, ok := lockID(p); ok && op == "ingest" {
				lockGoneAt[id] = c.line
			}
			if !pendingPath(p) {
				continue
			}
			removed(c, p)
		}
	}
	// A .tmp file the trace shows created and never renamed nor unlinked
	// is a leftover (the trace ends after quit).
	for p, l := range tmpLeft {
		a.leftTmp = append(a.leftTmp, fmt.Sprintf("%s (created at trace line %d) is still there after its append was acknowledged and the implementation quit", filepath.Base(p), l))
	}
	slices.Sort(a.leftTmp)
	return a
}
