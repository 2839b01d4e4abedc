package benchsuite

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// FSInfo describes the file system a benchmark directory lives on.
type FSInfo struct {
	Type       string // from statfs(2)'s f_type, e.g. "ext4/ext3/ext2", "tmpfs"
	MountPoint string // from /proc/self/mountinfo ("" if not found)
	MountType  string // the file system type mountinfo names, e.g. "ext4"
	Source     string // the mounted device, e.g. "/dev/vda"
	Options    string // per-mount options, then the super block's
}

// String formats the information on one line.
func (i FSInfo) String() string {
	s := "statfs " + i.Type
	if i.MountPoint != "" {
		s += fmt.Sprintf("; mounted %s on %s as %s, options %s", i.Source, i.MountPoint, i.MountType, i.Options)
	}
	return s
}

// FileSystemOf describes the file system of dir, from statfs(2) and
// /proc/self/mountinfo.
func FileSystemOf(dir string) (FSInfo, error) {
	typ, err := fsType(dir)
	if err != nil {
		return FSInfo{}, fmt.Errorf("benchsuite: statfs %s: %w", dir, err)
	}
	info := FSInfo{Type: typ}
	abs, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return info, nil
	}
	abs, _ = filepath.Abs(abs)
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return info, nil // not Linux, or no /proc: statfs alone
	}
	defer f.Close()
	mounts, err := parseMountinfo(f)
	if err != nil {
		return info, nil
	}
	if m, ok := mountOf(mounts, abs); ok {
		info.MountPoint, info.MountType, info.Source = m.point, m.fstype, m.source
		info.Options = m.options
		if m.super != "" {
			info.Options += " (super block: " + m.super + ")"
		}
	}
	return info, nil
}

type mount struct {
	point, options, fstype, source, super string
}

// parseMountinfo parses /proc/self/mountinfo (proc(5)): fields 5 and 6 are
// the mount point and its options, then optional fields up to "-", then
// the type, the source and the super block's options. Mount points escape
// space, tab, newline and backslash as octal (\040).
func parseMountinfo(r io.Reader) ([]mount, error) {
	var out []mount
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		sep := slices.Index(f, "-")
		if len(f) < 6 || sep < 6 || len(f) < sep+3 {
			continue // malformed line: skip rather than guess
		}
		m := mount{point: unescapeOctal(f[4]), options: f[5], fstype: f[sep+1], source: unescapeOctal(f[sep+2])}
		if len(f) > sep+3 {
			m.super = f[sep+3]
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

// mountOf returns the mount holding path: the last listed mount whose
// mount point is the longest prefix of path (later mounts hide earlier
// ones on the same point).
func mountOf(mounts []mount, path string) (mount, bool) {
	best, found := mount{}, false
	for _, m := range mounts {
		p := m.point
		if path == p || p == "/" || strings.HasPrefix(path, strings.TrimSuffix(p, "/")+"/") {
			if !found || len(p) >= len(best.point) {
				best, found = m, true
			}
		}
	}
	return best, found
}

func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return '0' <= c && c <= '7' }

// FsyncProbe is the outcome of ProbeFsync.
type FsyncProbe struct {
	Median time.Duration // median time of write(4 KiB)+fsync
	Real   bool          // whether fsync appears to reach a device
	Note   string        // why it looks real or not, for people
}

// fakeFsync is the time under which an fsync cannot have waited for any
// storage device (a flush to even a fast NVMe drive takes tens of
// microseconds; a tmpfs or a cache that ignores flushes takes a few).
const fakeFsync = 15 * time.Microsecond

// ProbeFsync times n rounds of a 4 KiB write and fsync of a scratch file
// in dir, and judges whether fsync is real. On tmpfs, or when the median
// is below what any device flush takes, durability figures measure only
// the page cache, and the report says so instead of presenting them.
func ProbeFsync(dir string, fsType string, n int) (FsyncProbe, error) {
	f, err := os.CreateTemp(dir, ".fsync-probe-*")
	if err != nil {
		return FsyncProbe{}, fmt.Errorf("benchsuite: fsync probe: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 4096)
	times := make([]time.Duration, 0, n)
	for range n {
		t0 := time.Now()
		if _, err := f.Write(buf); err != nil {
			return FsyncProbe{}, fmt.Errorf("benchsuite: fsync probe: %w", err)
		}
		if err := f.Sync(); err != nil {
			return FsyncProbe{}, fmt.Errorf("benchsuite: fsync probe: %w", err)
		}
		times = append(times, time.Since(t0))
	}
	slices.Sort(times)
	p := FsyncProbe{Median: times[len(times)/2]}
	switch {
	case fsType == "tmpfs" || fsType == "ramfs":
		p.Note = fsType + " keeps files in memory: fsync is free and every durability figure below is meaningless"
	case p.Median < fakeFsync:
		p.Note = fmt.Sprintf("median write+fsync %v: too fast for a device flush (write cache ignoring flushes, or eatmydata?); durability figures are not trustworthy", p.Median)
	default:
		p.Real = true
		p.Note = fmt.Sprintf("median write(4 KiB)+fsync %v: fsync reaches the device", p.Median.Round(time.Microsecond))
	}
	return p, nil
}
