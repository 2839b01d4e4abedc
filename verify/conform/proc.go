package conform

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// ErrTimeout is returned (wrapped) when the implementation does not reply
// within the configured time.
var ErrTimeout = errors.New("no reply in time")

// ErrExited is returned (wrapped) when the implementation exits, or closes
// its stdout, instead of replying.
var ErrExited = errors.New("the implementation exited without replying")

// MaxReplyLine bounds one reply line (16 MiB, four times the largest
// record): a longer one is a protocol error, and the judge stops reading.
const MaxReplyLine = 16 << 20

// ErrReplyTooLong is a reply line longer than MaxReplyLine: a protocol
// error (spec/PROTOCOL.md).
var ErrReplyTooLong = fmt.Errorf("a reply line longer than %d bytes: protocol error (spec/PROTOCOL.md)", MaxReplyLine)

// Proc is one running process of the implementation under check, in its own
// process group. Every Proc is killed, with its whole group, by Kill, by the
// cancellation of the context it was started with, or by KillAll: no exit
// path of the checker leaves one behind.
type Proc struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	replies chan []byte
	stderr  *tailBuffer
	timeout time.Duration
	pgid    int
	// inPipe and outPipe identify the request and reply pipes as strace
	// -y names them (pipe:[inode]), "" where unknown.
	inPipe, outPipe string
	// token marks every process started for this one in its environment
	// (CAPQ_CHECK_TOKEN), so that those that left its process group
	// (setsid) can be found and killed; escaped lists them.
	token   string
	escaped []int
	// tooLong is set (before replies is closed) when a reply line was
	// longer than MaxReplyLine.
	tooLong bool
	exited  chan struct{} // closed once the process is reaped
	once    sync.Once
}

// live holds every Proc not yet killed, so that KillAll (capq's SIGINT and
// SIGTERM path) can reach them.
var live = struct {
	sync.Mutex
	m map[*Proc]bool
}{m: map[*Proc]bool{}}

// KillAll kills every running implementation process group.
func KillAll() {
	live.Lock()
	ps := make([]*Proc, 0, len(live.m))
	for p := range live.m {
		ps = append(ps, p)
	}
	live.Unlock()
	for _, p := range ps {
		p.Kill()
	}
}

// Running returns the process group ids of the implementation processes not
// yet killed (for tests of the checker's hygiene).
func Running() []int {
	live.Lock()
	defer live.Unlock()
	var out []int
	for p := range live.m {
		out = append(out, p.pgid)
	}
	return out
}

// tailBuffer keeps the last 8 KiB written to it: the implementation's
// stderr, which comes with every failure.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 8192 {
		t.buf = t.buf[len(t.buf)-8192:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}

// Guard, when set, is a command that every implementation process is
// started under, before wrap: it runs the rest of its arguments in its
// own process group and kills that whole group if the checker dies.
// Pdeathsig alone reaches only the direct child (/bin/sh), not what the
// shell started, so a SIGKILLed checker would leave those running. The
// command must pass its exit status through. tools/capq sets it to
// itself (capq's hidden impl-guard entry point) where it can.
var Guard []string

// startProc starts command with /bin/sh -c, CAPQ_DIR=dir and the extra
// environment, prefixed by wrap (e.g. strace) when given, and by Guard.
func startProc(ctx context.Context, command, dir string, env []string, wrap []string, timeout time.Duration) (*Proc, error) {
	args := append(append(append([]string{}, Guard...), wrap...), "/bin/sh", "-c", command)
	cmd := exec.Command(args[0], args[1:]...)
	var tok [8]byte
	rand.Read(tok[:])
	token := hex.EncodeToString(tok[:])
	cmd.Env = append(append(os.Environ(), "CAPQ_DIR="+dir, "CAPQ_CHECK_TOKEN="+token), env...)
	// Wait must not wait for the end of the output pipes once the process
	// has exited: a descendant that escaped the process group (setsid)
	// may hold them open for ever, and the judge must still end within
	// its timeout.
	cmd.WaitDelay = time.Second
	// Its own process group, so that one kill reaches everything it
	// started; and SIGKILL if the checker itself dies.
	cmd.SysProcAttr = procAttr()
	p := &Proc{cmd: cmd, replies: make(chan []byte, 16), stderr: &tailBuffer{}, timeout: timeout, exited: make(chan struct{}), token: token}
	cmd.Stderr = p.stderr
	var err error
	// Pipes of our own, whose identities the durability trace needs.
	in, iw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdin, p.stdin = in, iw
	p.inPipe = pipeID(in)
	// A pipe of our own rather than StdoutPipe: Wait must not close the
	// read end before the last reply of a process that exits is read.
	out, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = w
	p.outPipe = pipeID(out)
	if err := cmd.Start(); err != nil {
		out.Close()
		w.Close()
		in.Close()
		iw.Close()
		return nil, fmt.Errorf("start %q: %w", command, err)
	}
	w.Close()
	in.Close()
	p.pgid = cmd.Process.Pid
	live.Lock()
	live.m[p] = true
	live.Unlock()
	go func() {
		cmd.Wait()
		close(p.exited)
	}()
	go func() {
		defer close(p.replies)
		defer out.Close()
		r := bufio.NewReaderSize(out, 64<<10)
		for {
			// A line at a time, never more than MaxReplyLine: an
			// implementation must not make the judge buffer without
			// bound.
			var line []byte
			for {
				chunk, err := r.ReadSlice('\n')
				if len(line)+len(chunk) > MaxReplyLine {
					p.tooLong = true
					return
				}
				line = append(line, chunk...)
				if err == bufio.ErrBufferFull {
					continue
				}
				if err != nil {
					return
				}
				break
			}
			p.replies <- line
		}
	}()
	go func() {
		select {
		case <-ctx.Done():
			p.Kill()
		case <-p.exited:
			// Gone by itself; its group may live on: kill it too.
			p.Kill()
		}
	}()
	return p, nil
}

// Escaped returns the ids of the processes that had left the
// implementation's process group and were still running when it was
// killed (killed then too); nil where this cannot be known (not Linux).
func (p *Proc) Escaped() []int { return p.escaped }

// Stderr returns the tail of what the implementation wrote on stderr.
func (p *Proc) Stderr() string { return p.stderr.String() }

// Send writes one request without waiting for its reply.
func (p *Proc) Send(req Request) error {
	line, err := json.Marshal(req)
	if err != nil {
		return err
	}
	_, err = p.stdin.Write(append(line, '\n'))
	return err
}

// Call sends one request and decodes its reply. The raw reply line is
// returned too, for transcripts.
func (p *Proc) Call(req Request) (Reply, []byte, error) {
	var rep Reply
	if err := p.Send(req); err != nil {
		select { // a closed pipe: the process may be exiting
		case <-p.exited:
			return rep, nil, fmt.Errorf("%s: %w", req.Op, ErrExited)
		case <-time.After(time.Second):
		}
		return rep, nil, fmt.Errorf("%s: write request: %w", req.Op, err)
	}
	t := time.NewTimer(p.timeout)
	defer t.Stop()
	select {
	case line, ok := <-p.replies:
		if !ok {
			if p.tooLong {
				return rep, []byte(`"(a reply line over the limit)"`), fmt.Errorf("%s: %w", req.Op, ErrReplyTooLong)
			}
			return rep, nil, fmt.Errorf("%s: %w", req.Op, ErrExited)
		}
		line = []byte(strings.TrimRight(string(line), "\r\n"))
		if err := json.Unmarshal(line, &rep); err != nil {
			return rep, line, fmt.Errorf("%s: the reply %s is not a protocol reply (spec/PROTOCOL.md): %v", req.Op, line, err)
		}
		return rep, line, nil
	case <-t.C:
		return rep, nil, fmt.Errorf("%s: %w within %s", req.Op, ErrTimeout, p.timeout)
	}
}

// Kill SIGKILLs the process group and reaps the process. It is safe to
// call more than once and from several goroutines.
func (p *Proc) Kill() {
	p.once.Do(func() {
		killGroup(p.pgid)
		p.stdin.Close()
		<-p.exited
		// What left the group is still the implementation's: it could
		// go on writing into the queue directory while the next probe is
		// judged. Kill it too, and say so (Escaped).
		p.escaped = killEscaped(p.token, p.pgid)
		live.Lock()
		delete(live.m, p)
		live.Unlock()
	})
}

// Quit asks the process to exit (the quit op), waits up to wait for it to
// exit by itself (a tracer must flush its output), and kills its group in
// any case.
func (p *Proc) Quit(wait time.Duration) {
	p.Call(Request{Op: "quit"})
	p.stdin.Close()
	select {
	case <-p.exited:
	case <-time.After(wait):
	}
	p.Kill()
}
