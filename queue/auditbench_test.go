//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package queue

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkAuditEntries streams an audit log of 100,000 overflow lines
// (spec R29): the figure is lines per second (b.N logs read; see
// lines/s), with no assertion on time.
func BenchmarkAuditEntries(b *testing.B) {
	q, dir := openTest(b, Options{NoSync: true})
	line := `{"ts":"2026-01-01T00:00:00.000000+00:00","dropped_ulid":"01ARZ3NDEKTSV4RRFFQ69G5FAV","appended_at":"2026-01-01T00:00:00.000000+00:00","reason":"queue_overflow","queue_size_before_prune":10000}` + "\n"
	const lines = 100_000
	if err := os.WriteFile(filepath.Join(dir, auditLogName), []byte(strings.Repeat(line, lines)), 0o600); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		n := 0
		for _, err := range q.AuditEntries(context.Background()) {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != lines {
			b.Fatalf("%d lines read, want %d", n, lines)
		}
	}
	b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
