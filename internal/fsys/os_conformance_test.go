//go:build linux

package fsys

import (
	"os"
	"path/filepath"
	"testing"
)

func TestOSFS(t *testing.T) {
	testFS(t, func(t *testing.T) (FS, func(target, name string) error) {
		dir := t.TempDir()
		o, err := OpenOS(dir)
		if err != nil {
			t.Fatalf("OpenOS: %v", err)
		}
		return o, func(target, name string) error {
			return os.Symlink(target, filepath.Join(dir, filepath.FromSlash(name)))
		}
	})
}
