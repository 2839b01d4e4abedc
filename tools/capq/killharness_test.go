//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/capq/capq/verify/crashtest"
)

// Spec R39: the kill harness with `capq drain --exec` consumers. Each
// round runs appenders and capq drains whose handler (this binary as
// crashtest.RoleHandler) holds an O_EXCL marker outside the queue while it
// works; every capq is SIGKILLed or sent SIGHUP at a random moment, most
// often in the middle of a handler. No record may ever be handed to a
// second handler while the first still runs, no acknowledged record may be
// lost, and a SIGHUP'd capq must finish the record in hand and exit by
// itself. CAPQ_CRASHTEST_ROUNDS=N runs N rounds instead of a few.
func TestKillHarnessExecConsumers(t *testing.T) {
	rounds := 4
	if testing.Short() || raceEnabled {
		rounds = 2
	}
	if v, err := strconv.Atoi(os.Getenv("CAPQ_CRASHTEST_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	rep, err := crashtest.Run(context.Background(), crashtest.Config{
		Dir:           filepath.Join(t.TempDir(), "q"),
		Rounds:        rounds,
		Seed:          11,
		Appenders:     1,
		Consumers:     -1,
		ExecConsumers: 3,
		MaxRound:      600 * time.Millisecond,
		MaxHandle:     150 * time.Millisecond,
		FailRate:      0.2,
		// capq is this test binary under the name testscript.Main put on
		// $PATH.
		DrainCommand: func() (*exec.Cmd, error) { return exec.Command("capq"), nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range rep.Violations {
		t.Error(v)
	}
	t.Logf("%+v", *rep)
	if rep.Children != rounds*4 || rep.Kills+rep.Hangups != rep.Children-len(rep.Violations) && len(rep.Violations) == 0 {
		t.Errorf("children %d, kills %d, hangups %d; want %d children all ended by a signal", rep.Children, rep.Kills, rep.Hangups, rounds*4)
	}
	if rep.Acked == 0 || rep.Delivered-rep.FinalDrained <= 0 {
		t.Errorf("acked %d, delivered %d (final drain %d): the exec consumers delivered nothing", rep.Acked, rep.Delivered, rep.FinalDrained)
	}
}
