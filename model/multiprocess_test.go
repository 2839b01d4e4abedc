package model

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/capq/capq/queue"
)

// TestMultiProcess runs several OS processes (this test binary, re-run as
// TestMultiProcessChild) that append and ingest at once in one queue
// directory on the real disk, each logging its acknowledged appends and its
// deliveries; then it drains the rest and checks that every acknowledged
// record was delivered exactly once across all consumers, with its bytes,
// and nothing else was (R4, R11).
func TestMultiProcess(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dir, logs := t.TempDir(), t.TempDir()
	const children, ops = 3, 60
	var cmds []*exec.Cmd
	for i := range children {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMultiProcessChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), fmt.Sprintf("CAPQ_MODEL_CHILD=%s|%s|%d|%d", dir, logs, i, ops))
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("child %d: %v", i, err)
		}
	}
	q, err := queue.Open(dir, queue.Options{MaxSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	appended, delivered := map[string]string{}, map[string][]string{}
	if _, err := q.Ingest(context.Background(), func(_ context.Context, d queue.Delivery) error {
		delivered[d.ULID.String()] = append(delivered[d.ULID.String()], string(d.Record))
		return nil
	}, queue.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := range children {
		f, err := os.Open(filepath.Join(logs, strconv.Itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			kind, rest, _ := strings.Cut(sc.Text(), " ")
			id, rec, _ := strings.Cut(rest, " ")
			if kind == "A" {
				appended[id] = rec
			} else {
				delivered[id] = append(delivered[id], rec)
			}
		}
		f.Close()
	}
	if len(appended) != children*ops*6/10 {
		t.Fatalf("only %d appends logged", len(appended))
	}
	for id, rec := range appended {
		switch d := delivered[id]; {
		case len(d) != 1:
			t.Errorf("R11: %s delivered %d times", id, len(d))
		case d[0] != rec:
			t.Errorf("R4: %s delivered as %s, appended %s", id, d[0], rec)
		}
	}
	for id := range delivered {
		if _, ok := appended[id]; !ok {
			t.Errorf("delivered %s, which no append acknowledged", id)
		}
	}
	t.Logf("%d processes: %d records appended and delivered exactly once", children, len(appended))
}

// TestMultiProcessChild is one process of TestMultiProcess; it does nothing
// unless run by it.
func TestMultiProcessChild(t *testing.T) {
	t.Parallel()
	spec := os.Getenv("CAPQ_MODEL_CHILD")
	if spec == "" {
		t.Skip("run by TestMultiProcess")
	}
	parts := strings.Split(spec, "|")
	dir, logs := parts[0], parts[1]
	n, _ := strconv.Atoi(parts[2])
	ops, _ := strconv.Atoi(parts[3])
	q, err := queue.Open(dir, queue.Options{MaxSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	log, err := os.OpenFile(filepath.Join(logs, strconv.Itoa(n)), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	for i := range ops {
		if i%10 < 6 {
			rec := fmt.Sprintf(`{"child":%d,"n":%d,"s":"é 🧠"}`, n, i)
			id, err := q.Append([]byte(rec))
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(log, "A %s %s\n", id, rec)
			continue
		}
		if _, err := q.Ingest(context.Background(), func(_ context.Context, d queue.Delivery) error {
			_, err := fmt.Fprintf(log, "D %s %s\n", d.ULID, d.Record)
			return err
		}, queue.IngestOptions{MaxRecords: 1 + i%3}); err != nil {
			t.Fatal(err)
		}
	}
}
