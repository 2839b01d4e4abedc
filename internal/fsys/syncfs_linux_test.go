package fsys

import (
	"os"
	"testing"
)

// Spec R49: on this kernel (5.17 or later) OS.SyncFS calls syncfs and
// succeeds; after Close it fails instead of flushing another descriptor.
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
	if !syncfsReportsErrors() {
		t.Skipf("kernel older than 5.17: SyncFS = %v", err)
	}
	if err != nil {
		t.Errorf("SyncFS = %v", err)
	}
	o.Close()
	if err := o.SyncFS(); err == nil {
		t.Error("SyncFS after Close succeeded")
	}
}
