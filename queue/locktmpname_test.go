//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package queue

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/capq/capq/internal/fsys"
)

// Spec R45, R21, R23: a lock-creation temporary name is exactly
// ".pending-<ULID>.lock.<16 lower-case hex>.locktmp", as fsys.LockTmpName
// makes it, and a genuine one is created empty. Recover removes only such
// a file (once older than TmpGrace), Stats counts only it, Verify calls it
// a stray tmp; a name that merely resembles it, or the name holding bytes
// capq never writes there, is left alone and reported as a look-alike.
func TestLockTmpNameRule(t *testing.T) {
	t.Parallel()
	const id = "01HZQ0000000000000000000AA"
	lock := lockName(id)
	for _, tc := range []struct {
		name    string
		content string
		ours    bool // Recover removes it, Stats counts it, Verify says stray_tmp
	}{
		{"." + lock + ".0123456789abcdef.locktmp", "", true},
		{"." + lock + ".fedcba9876543210.locktmp", "", true},
		{"." + lock + ".0123456789abcdef.locktmp", `{"attempt":1}` + "\n", false}, // bytes capq never writes there
		{"." + lock + "..locktmp", "", false},
		{"." + lock + ".0123456789ABCDEF.locktmp", "", false},  // upper-case hex
		{"." + lock + ".0123456789abcde.locktmp", "", false},   // 15 digits
		{"." + lock + ".0123456789abcdef0.locktmp", "", false}, // 17 digits
		{"." + lock + ".notes.locktmp", "", false},
		{"." + lock + ".hello world.locktmp", "", false},
		{"." + lock + ".g.locktmp", "", false},
		{"." + lock + ".0123456789abcdeg.locktmp", "", false},
		{".pending-01hzq0000000000000000000aa.lock.0123456789abcdef.locktmp", "", false}, // lower-case ULID
		{".pending-XYZ.lock.0123456789abcdef.locktmp", "", false},
		{".pending-" + id + ".json.0123456789abcdef.locktmp", "", false},
		{".pending-" + id + ".lock.0123456789abcdef.locktmp.locktmp", "", false},
		{"..pending-" + id + ".lock.0123456789abcdef.locktmp", "", false}, // not ours to judge: foreign
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := fsys.NewMem(nil)
			if err := m.WriteFile(tc.name, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			// A clock past the grace period makes every file old enough.
			later := func() time.Time { return time.Now().Add(2 * defaultTmpGrace) }
			opts := Options{SkipRecover: true, clock: later}
			q := openMem(t, m.FS(), opts)

			findings, err := Verify(context.Background(), "mem", q.opts)
			if err != nil {
				t.Fatal(err)
			}
			var kinds []string
			for _, f := range findings {
				if f.Name == tc.name {
					kinds = append(kinds, f.Kind)
				}
			}
			st, err := q.Stats(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			rep, err := q.Recover(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			_, lerr := m.FS().Lstat(tc.name)
			removed := lerr != nil
			if removed != tc.ours || slices.Contains(rep.Removed, tc.name) != tc.ours {
				t.Errorf("Recover removed it: %v (Removed %v), want %v", removed, rep.Removed, tc.ours)
			}
			if (st.Tmp == 1) != tc.ours {
				t.Errorf("Stats.Tmp = %d, want it counted: %v", st.Tmp, tc.ours)
			}
			switch {
			case tc.ours && !slices.Equal(kinds, []string{findingStrayTmp}):
				t.Errorf("Verify: %v, want one stray_tmp", kinds)
			case !tc.ours && tc.name[1] == '.' && len(kinds) != 0:
				t.Errorf("Verify: %v for a name that is not capq's to judge", kinds)
			case !tc.ours && tc.name[1] != '.' && !slices.Equal(kinds, []string{findingLookalike}):
				t.Errorf("Verify: %v, want one lookalike_name", kinds)
			}
		})
	}
}
