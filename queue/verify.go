package queue

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/capq/capq/internal/fsys"
	"github.com/capq/capq/ulid"
)

// Finding is one observation of Verify.
type Finding struct {
	// Kind names what was found, as a stable string (capq verify --json
	// prints it too): "corrupt" (a pending file that is not a valid
	// envelope), "future_schema" (a schema_version this code does not
	// read: a newer writer), "lookalike_name" (starts with "pending-" but
	// is not a name capq uses), "symlink" (a symlink among the queue's
	// names), "not_regular" (a directory, FIFO, socket or device under a
	// file name), "hard_link" (a regular file with more than one link,
	// shared with a name outside the queue's control), "stray_tmp" (a
	// temporary file: an append or lock creation in progress, or one that
	// died), "in_doubt" (an unheld lock file beside its record: a
	// delivery failed or crashed), "orphan_lock" (a lock file whose
	// record is gone), "permissions" (readable or writable by group or
	// others), "dir_symlink" (the queue directory itself is a symlink),
	// "quarantined" (a file in the quarantine folder), "dead_letter" (a
	// record in the dead-letter folder), "unreadable" (a file that could
	// not be read: an I/O error).
	Kind string `json:"kind"`
	// Name is the file, relative to the queue directory.
	Name string `json:"name"`
	// Detail says what was found, for people.
	Detail string `json:"detail"`
	// Violation says the finding means the directory breaks the spec, as
	// opposed to describing state a human may want to see (an append or
	// a delivery in progress, a newer writer, a dead letter).
	Violation bool `json:"violation"`
}

// The kinds of finding (Finding.Kind).
const (
	findingCorrupt      = "corrupt"
	findingFutureSchema = "future_schema"
	findingLookalike    = "lookalike_name"
	findingSymlink      = "symlink"
	findingNotRegular   = "not_regular"
	findingStrayTmp     = "stray_tmp"
	findingInDoubt      = "in_doubt"
	findingOrphanLock   = "orphan_lock"
	findingPermissions  = "permissions"
	findingDirSymlink   = "dir_symlink"
	findingQuarantined  = "quarantined"
	findingDeadLetter   = "dead_letter"
	findingUnreadable   = "unreadable"
	findingHardLink     = "hard_link"
)

// finding returns a Finding of kind, with its Violation set: the kinds that
// break the spec are corrupt and unreadable files, look-alike names, unsafe
// entries, loose permissions and orphan locks.
func finding(kind, name, detail string) Finding {
	switch kind {
	case findingCorrupt, findingLookalike, findingSymlink, findingNotRegular, findingHardLink,
		findingPermissions, findingOrphanLock, findingUnreadable:
		return Finding{Kind: kind, Name: name, Detail: detail, Violation: true}
	}
	return Finding{Kind: kind, Name: name, Detail: detail}
}

// Verify checks the queue directory dir against the spec without changing
// anything (spec R26), and returns every finding, sorted by name. It
// neither creates dir nor needs an open Queue (so it works on a directory
// no process may touch); opts are those the queue is used with, of which
// MaxRecordSize matters (a larger pending file is corrupt). What is wrong
// inside the directory is a finding, never an error. The error is one of:
// ErrInvalidOptions for options Open refuses too (a negative MaxRecordSize
// or MaxDepth, a MaxDepth above 9,999); an *OpError for a directory that
// cannot be opened or read at all (missing, not a directory, unreadable),
// or an error wrapping errors.ErrUnsupported on a system without a
// backend; or ctx's error when ctx is cancelled (checked between files).
// No findings are returned with an error.
func Verify(ctx context.Context, dir string, opts Options) ([]Finding, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	opts = opts.resolved()
	if opts.fileSystem != nil {
		q := newQueue(dir, opts, opts.fileSystem, false)
		return q.verify(ctx)
	}
	var out []Finding
	if fi, err := os.Lstat(dir); err != nil {
		return nil, opErr("verify", stepOpen, dir, err)
	} else if fi.Mode()&os.ModeSymlink != 0 {
		out = append(out, finding(findingDirSymlink, ".", "the queue directory is a symlink; capq resolves it once at Open"))
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, opErr("verify", stepOpen, dir, err)
	}
	if !fi.IsDir() {
		return nil, opErr("verify", stepOpen, dir, fsys.ENOTDIR)
	}
	fsy, err := fsys.OpenOS(dir)
	if err != nil {
		return nil, opErr("verify", stepOpen, dir, err)
	}
	q := newQueue(dir, opts, fsy, true)
	defer q.closeFS()
	more, err := q.verify(ctx)
	if err != nil {
		return nil, err // as documented: no findings with an error
	}
	return append(out, more...), nil
}

func (q *Queue) verify(ctx context.Context) ([]Finding, error) {
	var out []Finding
	add := func(k, name, detail string) {
		out = append(out, finding(k, name, detail))
	}
	if root, err := q.fs.Lstat("."); err == nil && root.Mode.Perm()&0o022 != 0 {
		add(findingPermissions, ".", "the queue directory is writable by group or others ("+root.Mode.Perm().String()+")")
	}
	type entry struct {
		name string
		typ  fsys.EntryType
	}
	var entries []entry
	pending := make(map[string]bool)
	err := q.fs.ReadDir(".", func(name []byte, typ fsys.EntryType) error {
		if typ == fsys.TypeUnknown {
			if fi, err := q.fs.Lstat(string(name)); err == nil {
				typ = typeOf(fi.Mode)
			}
		}
		entries = append(entries, entry{string(name), typ})
		if k, idb := classify(name); k == kindPending && typ == fsys.TypeRegular {
			pending[string(idb)] = true
		}
		return nil
	})
	if err != nil {
		return nil, opErr("verify", stepList, ".", err)
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		k, idb := classify([]byte(e.name))
		switch k {
		case kindForeign:
			continue // not ours to judge
		case kindLookalike:
			if strings.HasPrefix(e.name, ".") {
				add(findingLookalike, e.name, "looks like the temporary name of a lock creation but is not one capq makes; Recover and claims leave it")
			} else {
				add(findingLookalike, e.name, "looks like a queue file but is not a name capq uses; Count, List and Ingest ignore it")
			}
			continue
		case kindQuarantine, kindDeadLetter:
			if e.typ != fsys.TypeDir {
				add(findingNotRegular, e.name, "should be a directory")
			} else {
				out = append(out, q.verifyFolder(e.name, k)...)
			}
			continue
		}
		if e.typ == fsys.TypeSymlink {
			add(findingSymlink, e.name, "symlink where capq keeps a regular file; capq never follows it")
			continue
		}
		if e.typ != fsys.TypeRegular {
			add(findingNotRegular, e.name, "not a regular file")
			continue
		}
		fi, err := q.fs.Lstat(e.name)
		if err == nil && fi.Mode.Perm()&0o077 != 0 {
			add(findingPermissions, e.name, "readable or writable by group or others ("+fi.Mode.Perm().String()+")")
		}
		if err == nil && fi.Nlink > 1 && k != kindLock && k != kindLockTmp {
			// A lock and its creation's temporary name may share a
			// file (spec R45): lockState and lockTmpState judge them.
			add(findingHardLink, e.name, hardLinkDetail(fi.Nlink))
			continue
		}
		switch k {
		case kindPending:
			data, err := q.readPending(e.name)
			if err == nil {
				_, err = decodeFile(e.name, data)
			}
			switch {
			case err == nil:
			case errors.Is(err, ErrSchemaVersion):
				add(findingFutureSchema, e.name, err.Error())
			case errors.Is(err, ErrCorrupt) || errors.Is(err, ErrUnsafeFile):
				add(findingCorrupt, e.name, err.Error())
			case errors.Is(err, fs.ErrNotExist):
			default:
				add(findingUnreadable, e.name, err.Error())
			}
		case kindAudit:
			if f, _, err := q.openRegular("verify", e.name, os.O_RDONLY); err != nil {
				add(findingUnreadable, e.name, err.Error())
			} else {
				f.Close()
			}
		case kindLockTmp:
			if err != nil {
				continue // gone since the listing
			}
			switch q.lockTmpState(e.name, string(idb), fi) {
			case tmpLeftover:
				add(findingStrayTmp, e.name, "temporary file of a lock creation in progress or one that died; Recover removes it after the grace period")
			case tmpSecondLink:
				add(findingStrayTmp, e.name, "second name of its lock file: a lock creation in progress, or one killed between its link and its unlink; the next claim removes it, as does Recover after the grace period")
			case tmpForeign:
				add(findingLookalike, e.name, "has the name of a lock creation's temporary file but holds bytes, which capq never writes there; capq leaves it")
			case tmpHardLinked:
				add(findingHardLink, e.name, hardLinkDetail(fi.Nlink))
			}
		case kindTmp:
			add(findingStrayTmp, e.name, "temporary file of an append in progress or one that died; Recover removes it after the grace period")
		case kindLock:
			st, err := q.lockState(string(idb))
			switch {
			case errors.Is(err, errHardLinked):
				add(findingHardLink, e.name, hardLinkDetail(fi.Nlink))
			case err != nil:
				add(findingUnreadable, e.name, "cannot open or lock: "+err.Error())
			case st != lockFree:
			case pending[string(idb)]:
				add(findingInDoubt, e.name, "a delivery of this record failed or crashed; the next one has Attempt > 1")
			default:
				add(findingOrphanLock, e.name, "lock file without its record; Recover removes it")
			}
		}
	}
	slices.SortFunc(out, func(a, b Finding) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// verifyFolder reports the contents of the quarantine or dead-letter
// folder: what is kept there for a human, and, in the dead-letter folder,
// symlinks, special files and stray temporary files at the names capq
// writes (R31, R38). A folder it cannot list is reported as unreadable.
func (q *Queue) verifyFolder(dir string, k nameKind) []Finding {
	var out []Finding
	err := q.fs.ReadDir(dir, func(name []byte, typ fsys.EntryType) error {
		n := dir + "/" + string(name)
		if typ == fsys.TypeUnknown {
			if fi, err := q.fs.Lstat(n); err == nil {
				typ = typeOf(fi.Mode)
			}
		}
		switch {
		case k == kindQuarantine:
			out = append(out, finding(findingQuarantined, n, "kept for a human; see the audit log for why"))
		case !strings.HasPrefix(string(name), pendingPrefix):
		case !deadLetterNameOK(string(name)):
			out = append(out, finding(findingLookalike, n, "looks like a dead letter's name but is not one capq uses; Requeue ignores it"))
		case typ == fsys.TypeSymlink:
			out = append(out, finding(findingSymlink, n, "symlink where capq keeps a dead letter or its history; capq never follows it"))
		case typ != fsys.TypeRegular:
			out = append(out, finding(findingNotRegular, n, "not a regular file where capq keeps a dead letter or its history"))
		case q.hardLinked(n):
			out = append(out, finding(findingHardLink, n, "has more than one hard link: another name shares it; capq never reads or writes it"))
		case !q.readable(n):
			out = append(out, finding(findingUnreadable, n, "cannot be opened for reading"))
		case strings.HasSuffix(n, ".tmp"):
			out = append(out, finding(findingStrayTmp, n, "temporary file of a dead letter's history being written, or of a writer that died"))
		case strings.Contains(string(name), pendingSuffix):
			// pending-<ULID>.json, or .json.N for a second dead letter of
			// one ULID (R36), which Requeue leaves to a human.
			out = append(out, finding(findingDeadLetter, n, "handler failed MaxAttempts times; Requeue puts it back"))
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		out = append(out, finding(findingUnreadable, dir, "cannot list: "+err.Error()))
	}
	return out
}

// deadLetterNameOK reports whether name is one capq gives entries in
// dead-letter/: pending-<ULID>.json or .history, optionally numbered (.N,
// spec R36), or the temporary name of a history being written
// (durableTmpName: the history's name, "." and 16 hex digits, ".tmp").
func deadLetterNameOK(name string) bool {
	rest, ok := strings.CutPrefix(name, pendingPrefix)
	if !ok || len(rest) < ulid.EncodedSize {
		return false
	}
	if k, _ := classify([]byte(pendingPrefix + rest[:ulid.EncodedSize] + pendingSuffix)); k != kindPending {
		return false
	}
	rest = rest[ulid.EncodedSize:]
	suffixes := []string{pendingSuffix, historySuffix}
	if strings.HasSuffix(rest, durableTmpSuffix) {
		// Only a history is written through a temporary name here, and
		// only under a name drawn by durableTmpName: any other .tmp
		// (pending-<ULID>.history.tmp included) is not capq's (spec R21).
		base, ok := durableTmpBase(rest)
		if !ok {
			return false
		}
		rest, suffixes = base, []string{historySuffix}
	}
	for _, s := range suffixes {
		r, ok := strings.CutPrefix(rest, s)
		if !ok {
			continue
		}
		if r == "" {
			return true
		}
		d, ok := strings.CutPrefix(r, ".")
		return ok && d != "" && strings.Trim(d, "0123456789") == ""
	}
	return false
}

func hardLinkDetail(nlink uint64) string {
	return "has " + strconv.FormatUint(nlink, 10) + " hard links: another name shares it; capq never reads or writes it"
}

// hardLinked reports whether name is a regular file with more than one
// link (spec R31).
func (q *Queue) hardLinked(name string) bool {
	fi, err := q.fs.Lstat(name)
	return err == nil && fi.IsRegular() && fi.Nlink > 1
}

// readable reports whether name opens for reading (as openRegular does).
func (q *Queue) readable(name string) bool {
	f, _, err := q.openRegular("verify", name, os.O_RDONLY)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

func typeOf(m fs.FileMode) fsys.EntryType {
	switch {
	case m.IsRegular():
		return fsys.TypeRegular
	case m.IsDir():
		return fsys.TypeDir
	case m&fs.ModeSymlink != 0:
		return fsys.TypeSymlink
	}
	return fsys.TypeOther
}
