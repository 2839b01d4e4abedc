package crashtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/capq/capq/internal/layout"
	"github.com/capq/capq/queue"
)

// Spec R9, R36: the check tells a lost acknowledged record from one moved
// to a numbered dead-letter pair (kept, but where DeadLetters does not
// look, which process crashes alone must never cause): each is a
// violation, named for what happened.
func TestCheckNamesWhereARecordWent(t *testing.T) {
	cases := []struct {
		name      string
		move      func(t *testing.T, dir, pending string) // what became of the record
		want, not string
	}{
		{"numbered dead letter", func(t *testing.T, dir, pending string) {
			if err := os.Mkdir(filepath.Join(dir, layout.DeadLetterDir), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(filepath.Join(dir, pending), filepath.Join(dir, layout.DeadLetterDir, pending+".1")); err != nil {
				t.Fatal(err)
			}
		}, "dead-lettered to the numbered pair " + layout.DeadLetterDir + "/", " lost:"},
		{"gone", func(t *testing.T, dir, pending string) {
			if err := os.Remove(filepath.Join(dir, pending)); err != nil {
				t.Fatal(err)
			}
		}, " lost:", "numbered pair"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Dir: t.TempDir()}
			cfg.defaults()
			q, err := queue.Open(cfg.Dir, queue.Options{})
			if err != nil {
				t.Fatal(err)
			}
			id, err := q.Append([]byte(`{"n":1}`))
			q.Close()
			if err != nil {
				t.Fatal(err)
			}
			tc.move(t, cfg.Dir, "pending-"+id.String()+".json")
			in := &instance{role: RoleAppender}
			in.out.WriteString("A " + id.String() + "\n")
			rep := &Report{}
			if err := check(&cfg, []*instance{in}, rep); err != nil {
				t.Fatal(err)
			}
			found := false
			for _, v := range rep.Violations {
				found = found || strings.Contains(v, id.String()) && strings.Contains(v, tc.want)
				if strings.Contains(v, tc.not) {
					t.Errorf("violation %q; want none saying %q", v, tc.not)
				}
			}
			if !found {
				t.Errorf("violations %q; want one naming %s with %q", rep.Violations, id, tc.want)
			}
		})
	}
}
