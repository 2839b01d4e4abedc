package crashtest

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/capq/capq/ulid"
)

func TestMain(m *testing.M) {
	// Run() re-executes this test binary as its children.
	MaybeRunChild()
	os.Exit(m.Run())
}

// Spec R9, R11, R16, R25: SIGKILLed appenders and consumers lose no
// acknowledged record, deliver nothing twice without cause, and leave no
// torn file.
func TestRunKillCrash(t *testing.T) {
	t.Parallel()
	// CAPQ_CRASHTEST_ROUNDS=N runs a longer campaign.
	rounds := 3
	if testing.Short() {
		rounds = 1
	}
	if v, err := strconv.Atoi(os.Getenv("CAPQ_CRASHTEST_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	rep, err := Run(context.Background(), Config{Dir: t.TempDir(), Rounds: rounds, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range rep.Violations {
		t.Error(v)
	}
	t.Logf("%+v", *rep)
	if rep.Kills != rep.Children || rep.Children != rounds*4 {
		t.Errorf("children %d, kills %d; want %d of each", rep.Children, rep.Kills, rounds*4)
	}
	if rep.Acked == 0 || rep.Delivered == 0 {
		t.Errorf("acked %d, delivered %d: the children did no work", rep.Acked, rep.Delivered)
	}
}

// The check is exactly as strict as the spec: a second delivery is allowed
// only when the first one was the last act of a killed consumer.
func TestCheckVerdicts(t *testing.T) {
	t.Parallel()
	x, y, z := ulid.MustParse("01ARZ3NDEKTSV4RRFFQ69G5FAV").String(),
		ulid.MustParse("01ARZ3NDEKTSV4RRFFQ69G5FAW").String(),
		ulid.MustParse("01ARZ3NDEKTSV4RRFFQ69G5FAX").String()
	type child struct {
		out    string
		killed bool
	}
	tests := []struct {
		name     string
		children []child
		want     []string // substrings of the violations, in order; nil: none
	}{
		{"delivered once", []child{{"A " + x + "\n", true}, {"D " + x + " 1\n", true}}, nil},
		{"cut delivery redelivered", []child{{"D " + x + " 1\n", true}, {"D " + x + " 2\n", true}}, nil},
		{"torn last line ignored", []child{{"A " + x + "\nD " + x + " 1\nA 01AR", true}}, nil},
		{"redelivered without a kill", []child{{"D " + x + " 1\nD " + y + " 1\n", true}, {"D " + x + " 2\n", true}},
			[]string{"delivered again (attempt 2)"}},
		{"redelivered, first process not killed", []child{{"D " + x + " 1\n", false}, {"D " + x + " 2\n", true}},
			[]string{"delivered again (attempt 2)"}},
		{"same attempt twice", []child{{"F " + x + " 1\n", true}, {"D " + x + " 1\n", true}},
			[]string{"with attempt 1"}},
		{"acknowledged and lost", []child{{"A " + x + "\nA " + z + "\n", true}, {"D " + x + " 1\n", true}},
			[]string{"record " + z + " lost"}},
		{"malformed", []child{{"A nope\n", true}}, []string{"malformed line"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Dir: t.TempDir()}
			cfg.defaults()
			var insts []*instance
			for _, c := range tt.children {
				in := &instance{role: RoleConsumer, killed: c.killed}
				in.out.WriteString(c.out)
				insts = append(insts, in)
			}
			rep := &Report{}
			if err := check(&cfg, insts, rep); err != nil {
				t.Fatal(err)
			}
			if len(rep.Violations) != len(tt.want) {
				t.Fatalf("violations %q, want %d matching %q", rep.Violations, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(rep.Violations[i], w) {
					t.Errorf("violation %q does not contain %q", rep.Violations[i], w)
				}
			}
		})
	}
}
