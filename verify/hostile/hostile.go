// Package hostile plants hostile entries at the names a capq queue uses, for
// the hostile-environment matrix (spec R38): the queue package's
// TestHostileMatrix runs every queue operation against every kind of entry
// at every name, and the command's tests can run each subcommand against
// the same cells. It only creates files; it knows nothing of the queue.
package hostile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Kind is a kind of entry planted at a name.
type Kind string

// The kinds of entry. Regular and Empty are ordinary files (harmless where a
// file belongs, wrong where a folder belongs); Dir is a directory (wrong
// where a file belongs); SymlinkIn points at another name inside the queue,
// SymlinkOut at the sentinel outside it; FIFO and Socket are special files;
// Mode000, ReadOnly and OtherOwner need an unprivileged process to matter
// (root reads through them), see NeedsUnprivileged.
const (
	Regular    Kind = "regular"
	Empty      Kind = "empty"
	Dir        Kind = "dir"
	SymlinkIn  Kind = "symlink-in"
	SymlinkOut Kind = "symlink-out"
	FIFO       Kind = "fifo"
	Socket     Kind = "socket"
	Mode000    Kind = "mode000"
	ReadOnly   Kind = "readonly"
	OtherOwner Kind = "other-owner"
)

// Kinds lists every kind, in the matrix's column order.
var Kinds = []Kind{Regular, Empty, Dir, SymlinkIn, SymlinkOut, FIFO, Socket, Mode000, ReadOnly, OtherOwner}

// NeedsUnprivileged reports whether the kind only differs from Regular for a
// process without CAP_DAC_OVERRIDE (root reads and writes mode-000 files).
func (k Kind) NeedsUnprivileged() bool {
	return k == Mode000 || k == ReadOnly || k == OtherOwner
}

// ErrSkip is returned by Plant when the kind cannot be made here (a socket
// path too long for sun_path, no other user to own a file).
var ErrSkip = errors.New("hostile: this kind cannot be planted here")

// SentinelName is the file Sentinel creates outside the queue.
const SentinelName = "sentinel"

// SentinelData is the sentinel file's content.
const SentinelData = "outside the queue: never read or written by capq\n"

// Sentinel creates, in the directory outside (which must not be inside the
// queue), the sentinel file that SymlinkOut entries point at, and returns a
// function that reports whether outside is still exactly as created: the
// sentinel's bytes, mode and modification time, and no other entry.
func Sentinel(outside string) (untouched func() error, err error) {
	p := filepath.Join(outside, SentinelName)
	if err := os.WriteFile(p, []byte(SentinelData), 0o644); err != nil {
		return nil, err
	}
	before, err := os.Lstat(p)
	if err != nil {
		return nil, err
	}
	return func() error {
		ents, err := os.ReadDir(outside)
		if err != nil {
			return err
		}
		if len(ents) != 1 || ents[0].Name() != SentinelName {
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			return fmt.Errorf("outside the queue: entries %q, want only %s", names, SentinelName)
		}
		after, err := os.Lstat(p)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if string(data) != SentinelData || after.Mode() != before.Mode() || !after.ModTime().Equal(before.ModTime()) || after.Size() != before.Size() {
			return fmt.Errorf("outside the queue: the sentinel changed (%q, %v, %v)", data, after.Mode(), after.ModTime())
		}
		return nil
	}, nil
}

// Plant creates an entry of kind k at path, replacing nothing: path must
// not exist. SymlinkOut points at outside's sentinel (at outside itself when
// folder is true, for names where capq expects a folder); SymlinkIn points
// at inside, a name relative to path's directory. Regular files hold data.
// Mode000, ReadOnly and OtherOwner entries are folders when folder is true,
// else files holding data; an OtherOwner entry is created owned by the
// caller, who then runs the operation as another user (and gives the rest
// of the queue to that user).
func Plant(path string, k Kind, folder bool, outside, inside string, data []byte) error {
	switch k {
	case Regular:
		return os.WriteFile(path, data, 0o600)
	case Empty:
		return os.WriteFile(path, nil, 0o600)
	case Dir:
		return os.Mkdir(path, 0o700)
	case SymlinkIn:
		return os.Symlink(inside, path)
	case SymlinkOut:
		target := filepath.Join(outside, SentinelName)
		if folder {
			target = outside
		}
		return os.Symlink(target, path)
	case FIFO:
		return mkfifo(path)
	case Socket:
		return mksocket(path)
	case Mode000, ReadOnly, OtherOwner:
		mode := map[Kind]os.FileMode{Mode000: 0, ReadOnly: 0o400, OtherOwner: 0o600}[k]
		if folder {
			mode = map[Kind]os.FileMode{Mode000: 0, ReadOnly: 0o500, OtherOwner: 0o700}[k]
			if err := os.Mkdir(path, 0o700); err != nil {
				return err
			}
		} else if err := os.WriteFile(path, data, 0o600); err != nil {
			return err
		}
		return os.Chmod(path, mode)
	}
	return fmt.Errorf("hostile: unknown kind %q", k)
}
