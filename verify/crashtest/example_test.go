package crashtest_test

import (
	"context"
	"fmt"
	"os"

	"github.com/capq/capq/verify/crashtest"
)

// A test package hosts the children by calling MaybeRunChild first thing in
// its TestMain:
//
//	func TestMain(m *testing.M) {
//		crashtest.MaybeRunChild()
//		os.Exit(m.Run())
//	}
//
// and a test then runs the rounds, which re-execute the test binary.
func ExampleRun() {
	dir, _ := os.MkdirTemp("", "crash")
	defer os.RemoveAll(dir)
	rep, err := crashtest.Run(context.Background(), crashtest.Config{Dir: dir, Rounds: 2, Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, v := range rep.Violations {
		fmt.Println(v)
	}
	fmt.Println(rep.Rounds, "rounds,", rep.Kills, "kills")
	// Output: 2 rounds, 8 kills
}
