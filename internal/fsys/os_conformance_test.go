//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package fsys

import (
	"os"
	"path/filepath"
	"testing"
)

// TestOSFS runs the seam conformance suite on the real disk, once with
// OpenOS (the system's fast paths, where it has them) and once with
// OpenPortable (the code macOS and the BSDs run), so that Linux proves the
// portable backend too. Spec R45, R47.
func TestOSFS(t *testing.T) {
	t.Parallel()
	for _, b := range []struct {
		name string
		open func(string) (*OS, error)
	}{
		{"default", OpenOS},
		{"portable", OpenPortable},
	} {
		t.Run(b.name, func(t *testing.T) {
			testFS(t, func(t *testing.T) (FS, func(target, name string) error) {
				dir := t.TempDir()
				o, err := b.open(dir)
				if err != nil {
					t.Fatalf("open %s: %v", b.name, err)
				}
				return o, func(target, name string) error {
					return os.Symlink(target, filepath.Join(dir, filepath.FromSlash(name)))
				}
			})
		})
	}
}

// TestOpenOSBackend checks that the capq_portable build tag reaches OpenOS,
// so that `go test -tags capq_portable` really runs the queue's tests on
// the portable backend. Spec R47.
func TestOpenOSBackend(t *testing.T) {
	t.Parallel()
	o, err := OpenOS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if o.Portable() != forcePortable {
		t.Errorf("OpenOS().Portable() = %v with forcePortable = %v", o.Portable(), forcePortable)
	}
	p, err := OpenPortable(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if !p.Portable() {
		t.Error("OpenPortable().Portable() = false")
	}
}
