package conform

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/capq/capq/internal/layout"
	"github.com/capq/capq/queue"
	"github.com/capq/capq/ulid"
)

// pendingOnDisk lists the ULIDs of the regular files named exactly
// pending-<ULID>.json in dir (spec R1), in order.
func pendingOnDisk(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range ents {
		if id, ok := pendingName(e.Name()); ok && e.Type().IsRegular() {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// pendingName returns the ULID of a name of the form pending-<ULID>.json.
func pendingName(name string) (string, bool) {
	id, ok := strings.CutSuffix(strings.TrimPrefix(name, "pending-"), ".json")
	if !ok || !strings.HasPrefix(name, "pending-") || !ulid.Valid(id) {
		return "", false
	}
	return id, true
}

// lockFiles returns the names of the pending-*.lock entries in dir.
func lockFiles(dir string) []string {
	ents, _ := os.ReadDir(dir)
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "pending-") && strings.HasSuffix(e.Name(), ".lock") {
			out = append(out, e.Name())
		}
	}
	return out
}

// readRecord decodes dir/pending-<id>.json (spec R3) and returns its record.
func readRecord(dir, id string) ([]byte, error) {
	name := "pending-" + id + ".json"
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	env, err := queue.DecodeEnvelope(data)
	if err != nil {
		return nil, fmt.Errorf("%s does not decode as an envelope (spec R3): %v", name, err)
	}
	if env.ULID.String() != id {
		return nil, fmt.Errorf("%s holds ulid %s (spec R2)", name, env.ULID)
	}
	return env.Record, nil
}

// auditEntries reads the audit log's lines; unreadable lines are skipped
// (and counted).
func auditEntries(dir string) (entries []queue.AuditEntry, bad int) {
	f, err := os.Open(filepath.Join(dir, layout.AuditLogName))
	if err != nil {
		return nil, 0
	}
	defer f.Close()
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			var e queue.AuditEntry
			if json.Unmarshal(line, &e) == nil {
				entries = append(entries, e)
			} else {
				bad++
			}
		}
		if err == io.EOF || err != nil {
			return entries, bad
		}
	}
}

// auditedIDs returns the ULIDs the audit log names (dropped_ulid or ulid).
func auditedIDs(dir string) map[string]int {
	out := map[string]int{}
	es, _ := auditEntries(dir)
	for _, e := range es {
		id := e.DroppedULID
		if id == "" {
			id = e.ULID
		}
		out[id]++
	}
	return out
}

// envelope returns the bytes of a valid envelope, as the reference writes it.
func envelope(id, appendedAt, record string, version string) []byte {
	return fmt.Appendf(nil, `{"ulid":"%s","appended_at":"%s","record":%s,"schema_version":%s}`, id, appendedAt, record, version)
}

// idSource makes ULIDs for planted files: deterministic for a seed, with a
// timestamp the checker chooses (old, to sort before what the
// implementation appends, or the checker's clock).
type idSource struct {
	g *ulid.Generator
	t time.Time
}

func newIDSource(seed uint64, t time.Time) *idSource {
	src := &idSource{t: t}
	rng := rand.New(rand.NewPCG(seed, 0x706c616e74))
	src.g = ulid.NewGenerator(ulid.GeneratorOptions{Clock: func() time.Time { return src.t }, Entropy: rngReader{rng}})
	return src
}

// next returns the next ULID, a millisecond after the previous one (so the
// generator never has to wait for its clock: it is fixed).
func (s *idSource) next() string {
	s.t = s.t.Add(time.Millisecond)
	id, err := s.g.New()
	if err != nil {
		// Only the entropy can fail, and a PRNG does not: keep going with
		// a ULID of the timestamp alone rather than stop the check.
		return ulidAt(s.t)
	}
	return id.String()
}

// ulidAt returns the ULID of time t with a zero random part.
func ulidAt(t time.Time) string {
	var id ulid.ULID
	ms := uint64(t.UnixMilli())
	for i := 5; i >= 0; i-- {
		id[i] = byte(ms)
		ms >>= 8
	}
	return id.String()
}

type rngReader struct{ r *rand.Rand }

func (r rngReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r.r.Uint32())
	}
	return len(p), nil
}

func sortStrings(s []string) { slices.Sort(s) }
