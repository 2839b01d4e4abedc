//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/capq/capq/queue"
	"github.com/capq/capq/tools/internal/syncbuf"
)

// Spec R40: drain --follow does not spin on a record it cannot finish (a
// dead-letter folder that is a file or a symlink, so a record that failed
// its last attempt stays pending): the record is delivered again at most
// once per rescan, not as fast as the loop can run (it was some 300 times
// a second, woken by its own lock-file writes).
func TestFollowNoSpinOnUnfinishedRecord(t *testing.T) {
	cases := []struct {
		name  string
		plant func(path string) error
	}{
		{"dead-letter a file", func(p string) error { return os.WriteFile(p, []byte("x\n"), 0o600) }},
		{"dead-letter a symlink", func(p string) error { return os.Symlink(os.TempDir(), p) }},
	}
	const window = 2500 * time.Millisecond
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir, ids := newQueue(t, `{"a":1}`)
			must(t, tc.plant(filepath.Join(dir, "dead-letter")))
			ctx, cancel := context.WithTimeout(context.Background(), window)
			defer cancel()
			var out, errOut bytes.Buffer
			code := run(ctx, []string{"--dir", dir, "drain", "--follow", "--max-attempts", "1", "--exec", "false"}, strings.NewReader(""), &out, &errOut)
			n := strings.Count(errOut.String(), ids[0].String()+" attempt ")
			// One pass at the start, one per rescan in the window, and one
			// for a rescan the scheduler delayed into it: an upper bound,
			// however slow the machine.
			limit := 1 + int(window/rescanEvery) + 1
			if code != 1 || n < 1 || n > limit {
				t.Fatalf("exit %d, %d deliveries in %v; want exit 1 and 1 to %d (one per rescan)\n%s", code, n, window, limit, tail(errOut.String()))
			}
		})
	}
}

// tail is the end of a long output, for a failure message.
func tail(s string) string {
	if len(s) > 2000 {
		return "..." + s[len(s)-2000:]
	}
	return s
}

// Spec R40: drain --follow notices at its rescan that --dir was renamed
// away and replaced by a new directory: it warns and drains the new one
// (it used to watch the old one forever, delivering nothing). When --dir
// is then deleted, it exits 1 with a message naming it.
func TestFollowReopensReplacedDir(t *testing.T) {
	t.Parallel()
	dir, _ := newQueue(t, `{"first":1}`)
	var out, errOut syncbuf.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(context.Background(), []string{"--dir", dir, "drain", "--follow"}, strings.NewReader(""), &out, &errOut)
	}()
	waitOut := func(what, want string) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !strings.Contains(out.String(), want); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("gave up waiting for %s; stdout:\n%s\nstderr:\n%s", what, out.String(), errOut.String())
			}
		}
	}
	waitOut("the first record", `{"first":1}`)
	must(t, os.Rename(dir, dir+".old"))
	q, err := queue.Open(dir, queue.Options{NoSync: true})
	must(t, err)
	_, err = q.Append([]byte(`{"second":2}`))
	must(t, err)
	must(t, q.Close())
	waitOut("the record in the new directory", `{"second":2}`)
	if !strings.Contains(errOut.String(), "warning: "+dir+" is no longer the directory being drained") {
		t.Errorf("no warning on stderr:\n%s", errOut.String())
	}
	// The drain may still be finishing the delivery (unlinking the record
	// and its lock, refilling its spare files) while the directory is
	// removed: RemoveAll then fails with "directory not empty"; try again.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		err := os.RemoveAll(dir)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	select {
	case code := <-done:
		if want := "queue directory " + dir + " is gone"; code != 1 || !strings.Contains(errOut.String(), want) {
			t.Errorf("exit %d, stderr:\n%s\nwant exit 1 and %q", code, errOut.String(), want)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("drain --follow still running 30 s after its directory was deleted")
	}
}
