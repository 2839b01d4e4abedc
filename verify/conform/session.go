package conform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Event is one line of a transcript: what the checker did or saw.
type Event struct {
	// Kind is start, request, reply, plant, symlink, mkdir, lock, kill,
	// exit or note.
	Kind string `json:"event"`
	// Request and Reply are the lines as sent and received.
	Request json.RawMessage `json:"request,omitempty"`
	Reply   json.RawMessage `json:"reply,omitempty"`
	// Name is a planted file's name in the queue directory; Data its bytes
	// (as a JSON string: valid UTF-8 or not, see DataB64); Target a
	// symlink's target.
	Name    string `json:"name,omitempty"`
	Data    string `json:"data,omitempty"`
	DataB64 []byte `json:"data_b64,omitempty"`
	Target  string `json:"target,omitempty"`
	Text    string `json:"text,omitempty"`
}

// Session is one run of one probe: a fresh queue directory, the
// implementation's process (restarted as the probe says), and the transcript
// of everything sent, received and planted.
type Session struct {
	ctx      context.Context
	cfg      *Config
	Dir      string // the queue directory
	root     string // the probe's scratch directory (Dir is inside it)
	proc     *Proc
	Name     string
	Features map[string]bool
	Level    Level
	maxSize  *int
	wrap     []string
	Events   []Event
	stderr   []string // stderr tails of processes that ended
	escaped  []int    // processes that had left the group, killed at its end

	hung     bool // a call got no reply: Close kills without asking
	seed     uint64
	keep     []int // the campaign's steps to run (nil: all)
	ranSteps []int // the campaign's steps that ran
}

// rng returns the session's PRNG: the same seed, the same choices.
func (s *Session) rng() *rand.Rand { return rand.New(rand.NewPCG(s.seed, 0x636170712d636b)) }

func newSession(ctx context.Context, cfg *Config, root string) (*Session, error) {
	s := &Session{ctx: ctx, cfg: cfg, root: root, Dir: filepath.Join(root, "queue")}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Session) note(format string, a ...any) {
	s.Events = append(s.Events, Event{Kind: "note", Text: fmt.Sprintf(format, a...)})
}

// Start starts the implementation and says hello; maxSize, when not nil, is
// hello's max_size (and must be honoured: the probe needs the max_size
// feature).
func (s *Session) Start(maxSize *int) error {
	s.maxSize = maxSize
	return s.start()
}

func (s *Session) start() error {
	p, err := startProc(s.ctx, s.cfg.Impl, s.Dir, nil, s.wrap, s.cfg.Timeout)
	if err != nil {
		return err
	}
	s.proc, s.hung = p, false
	s.Events = append(s.Events, Event{Kind: "start"})
	rep, err := s.Call(Request{Op: "hello", MaxSize: s.maxSize})
	if err != nil {
		return err
	}
	if !rep.OK || rep.Protocol != ProtocolVersion {
		return fmt.Errorf("hello: want ok and protocol %d (spec/PROTOCOL.md), got %s", ProtocolVersion, jsonOf(rep))
	}
	s.Name = rep.Name
	s.Features = map[string]bool{}
	for _, f := range rep.Features {
		s.Features[f] = true
	}
	s.Level, _ = ParseLevel(rep.Level)
	if s.maxSize != nil && !s.Features[FeatureMaxSize] {
		return errUnsupported("max_size not announced: the overflow bound cannot be set")
	}
	return nil
}

// Call sends one request and returns its reply; the exchange goes into the
// transcript. An error means no reply (timeout, exit, garbage).
func (s *Session) Call(req Request) (Reply, error) {
	if s.proc == nil {
		return Reply{}, errors.New("no running implementation")
	}
	line, _ := json.Marshal(req)
	s.Events = append(s.Events, Event{Kind: "request", Request: line})
	rep, raw, err := s.proc.Call(req)
	if raw == nil && err != nil {
		s.hung = true
	}
	if raw != nil {
		if json.Valid(raw) {
			s.Events = append(s.Events, Event{Kind: "reply", Reply: raw})
		} else {
			s.Events = append(s.Events, Event{Kind: "reply", Text: string(raw)})
		}
	}
	if err != nil {
		if st := s.proc.Stderr(); st != "" {
			return rep, fmt.Errorf("%w\n  stderr: %s", err, st)
		}
		return rep, err
	}
	return rep, nil
}

// must is Call for a request that must succeed.
func (s *Session) must(req Request) (Reply, error) {
	rep, err := s.Call(req)
	if err != nil {
		return rep, err
	}
	if !rep.OK {
		return rep, fmt.Errorf("%s failed: %s", req.Op, jsonOf(rep))
	}
	return rep, nil
}

// Append appends rec and returns its ULID; a refusal is an error.
func (s *Session) Append(rec string) (string, error) {
	rep, err := s.must(Request{Op: "append", Record: str(rec)})
	if err != nil {
		return "", err
	}
	return rep.ULID, nil
}

// Kill SIGKILLs the implementation (between requests, or with a request in
// flight).
func (s *Session) Kill() {
	if s.proc != nil {
		s.Events = append(s.Events, Event{Kind: "kill"})
		s.stderr = append(s.stderr, s.proc.Stderr())
		s.proc.Kill()
		s.escaped = append(s.escaped, s.proc.Escaped()...)
		s.proc = nil
	}
}

// Restart kills the implementation and starts it again on the same
// directory.
func (s *Session) Restart() error {
	s.Kill()
	return s.start()
}

// Close ends the session: quit, then kill the process group.
func (s *Session) Close() {
	if s.proc != nil {
		s.stderr = append(s.stderr, s.proc.Stderr())
		s.Events = append(s.Events, Event{Kind: "exit"})
		if s.hung {
			s.proc.Kill()
		} else {
			s.proc.Quit(2 * time.Second)
		}
		s.escaped = append(s.escaped, s.proc.Escaped()...)
		s.proc = nil
	}
}

// StderrTail returns what the implementation's processes wrote on stderr
// (the last of each).
func (s *Session) StderrTail() string {
	var all []string
	for _, e := range s.stderr {
		if e != "" {
			all = append(all, e)
		}
	}
	if s.proc != nil {
		if e := s.proc.Stderr(); e != "" {
			all = append(all, e)
		}
	}
	out := strings.Join(all, "\n--\n")
	if len(out) > 4000 {
		out = "..." + out[len(out)-4000:]
	}
	return out
}

// Plant writes a file into the queue directory, as another program would.
func (s *Session) Plant(name string, data []byte) error {
	ev := Event{Kind: "plant", Name: name}
	if isUTF8(data) {
		ev.Data = string(data)
	} else {
		ev.DataB64 = data
	}
	s.Events = append(s.Events, ev)
	return os.WriteFile(filepath.Join(s.Dir, name), data, 0o600)
}

// Symlink plants a symbolic link named name in the queue directory.
func (s *Session) Symlink(target, name string) error {
	s.Events = append(s.Events, Event{Kind: "symlink", Name: name, Target: target})
	return os.Symlink(target, filepath.Join(s.Dir, name))
}

// Mkdir plants a directory named name in the queue directory.
func (s *Session) Mkdir(name string) error {
	s.Events = append(s.Events, Event{Kind: "mkdir", Name: name})
	return os.Mkdir(filepath.Join(s.Dir, name), 0o700)
}

func jsonOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return string(b)
}

func isUTF8(b []byte) bool { return strings.ToValidUTF8(string(b), "\uFFFD") == string(b) }

// verdictErr carries a verdict other than fail out of a probe.
type verdictErr struct {
	v   Verdict
	msg string
}

func (e *verdictErr) Error() string { return e.msg }

func errUnsupported(format string, a ...any) error {
	return &verdictErr{Unsupported, fmt.Sprintf(format, a...)}
}

func errInconclusive(format string, a ...any) error {
	return &verdictErr{Inconclusive, fmt.Sprintf(format, a...)}
}

func errNA(format string, a ...any) error { return &verdictErr{NA, fmt.Sprintf(format, a...)} }

// passNote lets a passing probe give its evidence (a measurement).
type passNote struct{ msg string }

func (e *passNote) Error() string { return e.msg }

func passWith(format string, a ...any) error { return &passNote{fmt.Sprintf(format, a...)} }
