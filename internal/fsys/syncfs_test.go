package fsys

import (
	"errors"
	"os"
	"testing"
)

// Spec R49: syncfs is trusted from Linux 5.17 on only.
func TestKernelAtLeast(t *testing.T) {
	for _, tc := range []struct {
		release string
		want    bool
	}{
		{"5.17.0", true},
		{"5.17", true},
		{"5.16.20", false},
		{"5.8.0-63-generic", false},
		{"6.1.0-18-amd64", true},
		{"6.18.44-fc-v669", true},
		{"4.19.0", false},
		{"10.0", true},
		{"5.17rc1", true},
		{"", false},
		{"linux", false},
		{"x.y.z", false},
	} {
		if got := kernelAtLeast(tc.release, 5, 17); got != tc.want {
			t.Errorf("kernelAtLeast(%q, 5, 17) = %v, want %v", tc.release, got, tc.want)
		}
	}
}

// Spec R49: Mem's SyncFS makes the data of every file durable, in the
// root and in subdirectories, and no directory entry. Without it (the
// control) the same crash keeps sub/b's entry but not its data.
func TestMemSyncFS(t *testing.T) {
	for _, syncfs := range []bool{false, true} {
		m := NewMem(nil)
		p := m.FS()
		if err := p.Mkdir("sub", 0o700); err != nil {
			t.Fatal(err)
		}
		if err := p.SyncDir("."); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"a", "sub/b"} {
			f, err := p.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write([]byte("data of " + name)); err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
		if err := p.SyncDir("sub"); err != nil { // sub/b's entry durable, not its data
			t.Fatal(err)
		}
		want := ""
		if syncfs {
			if err := p.SyncFS(); err != nil {
				t.Fatal(err)
			}
			want = "data of sub/b"
		}
		c := m.Crash(nil)
		if data, err := c.ReadFile("sub/b"); err != nil || string(data) != want {
			t.Errorf("syncfs=%v: sub/b after the crash = %q, %v; want %q", syncfs, data, err, want)
		}
		if got := c.Names("."); len(got) != 1 || got[0] != "sub" {
			t.Errorf("syncfs=%v: root holds %v, want only sub (a's entry was never synced)", syncfs, got)
		}
	}
}

// Spec R49: a Fault passes SyncFS through, fails it by rule as OpSyncFS,
// and reports errors.ErrUnsupported over a file system without it.
func TestFaultSyncFS(t *testing.T) {
	f := NewFault(NewMem(nil).FS())
	if err := f.SyncFS(); err != nil {
		t.Fatal(err)
	}
	f.Inject(Rule{Op: OpSyncFS, Times: 1, Err: EIO})
	if err := f.SyncFS(); !errors.Is(err, EIO) {
		t.Errorf("SyncFS with a rule = %v, want EIO", err)
	}
	if got := f.Calls(OpSyncFS); got != 2 {
		t.Errorf("Calls(OpSyncFS) = %d, want 2", got)
	}
	if err := NewFault(noSyncFS{f}).SyncFS(); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("SyncFS over a file system without it = %v, want ErrUnsupported", err)
	}
}

// noSyncFS hides the SyncFS method of an FS.
type noSyncFS struct{ FS }
