package fsys

import (
	"slices"
	"testing"
)

// Spec R46: the macOS flush. F_FULLFSYNC is tried first; only the errnos
// with which a file system refuses it (ENOTSUP, EINVAL, ENOTTY) fall back
// to fsync(2); every other error, EIO above all, is returned without a
// fallback that could hide it; EINTR retries either call.
func TestFullSync(t *testing.T) {
	const eok = Errno(0)
	for _, tc := range []struct {
		name      string
		full      []Errno // successive results of F_FULLFSYNC
		plain     []Errno // successive results of fsync(2)
		want      error
		wantCalls []string
	}{
		{"full works", []Errno{eok}, nil, nil, []string{"full"}},
		{"ENOTSUP falls back", []Errno{ENOTSUP}, []Errno{eok}, nil, []string{"full", "plain"}},
		{"EINVAL falls back", []Errno{EINVAL}, []Errno{eok}, nil, []string{"full", "plain"}},
		{"ENOTTY falls back", []Errno{ENOTTY}, []Errno{eok}, nil, []string{"full", "plain"}},
		{"fallback error returned", []Errno{ENOTSUP}, []Errno{EIO}, EIO, []string{"full", "plain"}},
		{"EIO not hidden", []Errno{EIO}, []Errno{eok}, EIO, []string{"full"}},
		{"ENOSPC not hidden", []Errno{ENOSPC}, []Errno{eok}, ENOSPC, []string{"full"}},
		{"EINTR retries full", []Errno{EINTR, EINTR, eok}, nil, nil, []string{"full", "full", "full"}},
		{"EINTR retries plain", []Errno{ENOTSUP}, []Errno{EINTR, eok}, nil, []string{"full", "plain", "plain"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls []string
			next := func(name string, rs *[]Errno) func(int) error {
				return func(fd int) error {
					if fd != 7 {
						t.Errorf("%s got fd %d, want 7", name, fd)
					}
					calls = append(calls, name)
					if len(*rs) == 0 {
						t.Fatalf("%s called once too often (calls %v)", name, calls)
					}
					r := (*rs)[0]
					*rs = (*rs)[1:]
					if r == eok {
						return nil
					}
					return r
				}
			}
			full, plain := slices.Clone(tc.full), slices.Clone(tc.plain)
			err := fullSync(7, next("full", &full), next("plain", &plain))
			if err != tc.want {
				t.Errorf("fullSync = %v, want %v", err, tc.want)
			}
			if !slices.Equal(calls, tc.wantCalls) {
				t.Errorf("calls %v, want %v", calls, tc.wantCalls)
			}
		})
	}
}
