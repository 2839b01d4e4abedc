package fsys

import (
	"errors"
	"os"
	"testing"
)

// Spec R49: on Linux 5.17 or later OS.SyncFS calls syncfs and succeeds,
// and after Close it fails instead of flushing another descriptor; on the
// portable paths or an older kernel it says it is unsupported.
func TestOSSyncFS(t *testing.T) {
	o, err := OpenOS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f, err := o.OpenFile("x", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("x"))
	f.Close()
	err = o.SyncFS()
	if o.Portable() || !syncfsReportsErrors() {
		// The portable paths and kernels before 5.17 have no trustworthy
		// syncfs: the queue must fsync each file instead.
		if !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("SyncFS = %v, want errors.ErrUnsupported", err)
		}
		return
	}
	if err != nil {
		t.Errorf("SyncFS = %v", err)
	}
	o.Close()
	if err := o.SyncFS(); err == nil {
		t.Error("SyncFS after Close succeeded")
	}
}
