package fsys

import (
	"math"
	"os"
	"strconv"
	"testing"
)

// Spec R48: on a 32-bit system a Mem file cannot grow past what a byte
// slice holds; Truncate beyond that fails with EFBIG instead of wrapping
// the length to a negative int and panicking. (On a 64-bit system the
// same length is merely enormous, so the test runs in the 386 build.)
func TestMemTruncateBeyondInt(t *testing.T) {
	if strconv.IntSize != 32 {
		t.Skip("only a 32-bit build can express a length past math.MaxInt")
	}
	m := NewMem(nil)
	f := mustOpen(t, m.FS(), "f", os.O_RDWR|os.O_CREATE, 0o600)
	defer f.Close()
	for _, size := range []int64{math.MaxInt32 + 1, 1 << 40, math.MaxInt64} {
		wantErrno(t, f.(Truncater).Truncate(size), EFBIG)
	}
	if err := f.(Truncater).Truncate(3); err != nil {
		t.Fatalf("Truncate(3): %v", err)
	}
	if fi, _ := f.Stat(); fi.Size != 3 {
		t.Errorf("size after Truncate(3) = %d", fi.Size)
	}
}
