//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package main

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/capq/capq/verify/crashtest"
	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	// capq check re-executes the binary as kill-crash children; under
	// test, that binary is this one.
	crashtest.MaybeRunChild()
	maybeRunGuard() // check --impl's implementation guard, likewise
	if raceEnabled && os.Getenv("GORACE") == "" {
		// Every capq child of these tests is this binary: under the race
		// detector each would sleep a second at exit (atexit_sleep_ms),
		// which hundreds of children turn into minutes.
		os.Setenv("GORACE", "atexit_sleep_ms=0")
	}
	testscript.Main(m, map[string]func(){
		"capq": func() { os.Exit(mainExit()) },
	})
}

// TestScripts runs testdata/script/*.txtar against the real capq binary
// (testscript re-executes this test binary as "capq").
func TestScripts(t *testing.T) {
	t.Parallel()
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits":     cmdExits,
			"waitcount": cmdWaitCount,
			"waitfile":  cmdWaitFile,
		},
		Condition: func(cond string) (bool, error) {
			if cond == "root" {
				return os.Geteuid() == 0, nil
			}
			return false, errors.New("unknown condition " + cond)
		},
	})
}

// cmdExits runs a command and checks its exit status:
//
//	exits N prog args...
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits STATUS prog [args...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got, ok := exitOf(err)
	if !ok {
		ts.Fatalf("%v", err)
	}
	if got != want {
		ts.Fatalf("exit status %d, want %d", got, want)
	}
}

// waitFor polls cond until it holds, failing the script after a generous
// limit: it synchronises with a background process, it does not time it.
func waitFor(ts *testscript.TestScript, what string, cond func() bool) {
	for deadline := time.Now().Add(60 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			ts.Fatalf("gave up waiting for %s", what)
		}
	}
}

// cmdWaitCount waits until the directory holds N pending files:
//
//	waitcount DIR N
func cmdWaitCount(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: waitcount DIR N")
	}
	want, err := strconv.Atoi(args[1])
	ts.Check(err)
	dir := ts.MkAbs(args[0])
	waitFor(ts, args[1]+" pending files in "+args[0], func() bool {
		ents, _ := os.ReadDir(dir)
		n := 0
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), "pending-") && strings.HasSuffix(e.Name(), ".json") {
				n++
			}
		}
		return n == want
	})
}

// cmdWaitFile waits until a file matching the glob exists:
//
//	waitfile GLOB
func cmdWaitFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitfile GLOB")
	}
	pat := ts.MkAbs(args[0])
	waitFor(ts, args[0], func() bool {
		m, _ := filepath.Glob(pat)
		return len(m) > 0
	})
}
