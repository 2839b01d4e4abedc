package jetstream

import (
	"errors"
	"testing"
	"time"

	"github.com/capq/capq/queue"
	"github.com/capq/capq/ulid"
)

func TestBackoff(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		b       Backoff
		n       int
		ceiling time.Duration
	}{
		{Backoff{}, 1, DefaultBackoffMin},
		{Backoff{}, 0, DefaultBackoffMin},
		{Backoff{}, -5, DefaultBackoffMin},
		{Backoff{}, 2, 2 * DefaultBackoffMin},
		{Backoff{}, 9, 256 * DefaultBackoffMin},
		{Backoff{}, 10, DefaultBackoffMax},
		{Backoff{}, 1 << 30, DefaultBackoffMax},
		{Backoff{Min: 10 * ms, Max: 35 * ms}, 2, 20 * ms},
		{Backoff{Min: 10 * ms, Max: 35 * ms}, 3, 35 * ms},
		{Backoff{Min: time.Second, Max: time.Millisecond}, 4, time.Second}, // Max below Min: Min wins
	}
	for _, tc := range tests {
		if got := tc.b.Ceiling(tc.n); got != tc.ceiling {
			t.Errorf("%+v.Ceiling(%d) = %v, want %v", tc.b, tc.n, got, tc.ceiling)
		}
		for _, r := range []float64{-1, 0, 0.25, 0.999999, 1, 7} {
			d := tc.b.Delay(tc.n, r)
			if d < tc.ceiling/2 || d > tc.ceiling {
				t.Errorf("%+v.Delay(%d, %v) = %v, outside [%v, %v]", tc.b, tc.n, r, d, tc.ceiling/2, tc.ceiling)
			}
		}
		if lo, hi := tc.b.Delay(tc.n, 0), tc.b.Delay(tc.n, 0.999999); lo != tc.ceiling/2 || hi <= lo && tc.ceiling > 1 {
			t.Errorf("%+v: jitter range [%v, %v] for ceiling %v", tc.b, lo, hi, tc.ceiling)
		}
	}
}

func TestNewRejects(t *testing.T) {
	_, js := connect(t, "nats://127.0.0.1:"+itoa(freePort(t)))
	q := openQueue(t, t.TempDir(), queue.Options{})
	tests := []struct {
		name string
		q    *queue.Queue
		cfg  Config
	}{
		{"nil queue", nil, Config{Subject: "a"}},
		{"empty subject", q, Config{}},
		{"wildcard", q, Config{Subject: "capture.*"}},
		{"full wildcard", q, Config{Subject: "capture.>"}},
		{"empty token", q, Config{Subject: "capture..x"}},
		{"trailing dot", q, Config{Subject: "capture."}},
		{"space", q, Config{Subject: "capture x"}},
		{"control", q, Config{Subject: "capture\x00"}},
		{"bad stream", q, Config{Subject: "a", Stream: "A.B"}},
		{"negative poll", q, Config{Subject: "a", PollInterval: -1}},
		{"negative backoff", q, Config{Subject: "a", Backoff: Backoff{Max: -1}}},
	}
	for _, tc := range tests {
		if _, err := New(tc.q, js, tc.cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: New = %v, want ErrInvalidConfig", tc.name, err)
		}
	}
	if _, err := New(q, nil, Config{Subject: "a"}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("nil js: New = %v, want ErrInvalidConfig", err)
	}
	if _, err := New(q, js, Config{Subject: "capture.host-1.x_y", Stream: "CAPTURE"}); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

func TestMessage(t *testing.T) {
	_, js := connect(t, "nats://127.0.0.1:"+itoa(freePort(t)))
	q := openQueue(t, t.TempDir(), queue.Options{})
	f, err := New(q, js, Config{Subject: "capture.h"})
	if err != nil {
		t.Fatal(err)
	}
	id := ulid.MustParse("01JTA0000000000000000000AB")
	rec := []byte(`{"a":1.0,"é":"\u00e9"}`)
	at := time.Date(2026, 5, 2, 15, 0, 0, 120000000, time.UTC)
	m := f.Message(queue.Delivery{Envelope: queue.Envelope{ULID: id, AppendedAt: at, Record: rec}, Attempt: 3})
	want := map[string]string{
		"Nats-Msg-Id":         "01JTA0000000000000000000AB",
		"Capq-Ulid":           "01JTA0000000000000000000AB",
		"Capq-Appended-At":    "2026-05-02T15:00:00.120000+00:00",
		"Capq-Schema-Version": "1",
		"Capq-Attempt":        "3",
	}
	if len(m.Header) != len(want) {
		t.Errorf("headers %v, want %v", m.Header, want)
	}
	for k, v := range want {
		if got := m.Header.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	if m.Subject != "capture.h" || string(m.Data) != string(rec) {
		t.Errorf("subject %q data %q", m.Subject, m.Data)
	}
}
