package report

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// IntervalEnv names the environment variable that sets the interval of the
// plain progress lines (a Go duration such as "30s"): CI jobs that want a
// quieter or a busier log set it, and the tools' tests shorten it.
const IntervalEnv = "CAPQ_PROGRESS_INTERVAL"

// DefaultInterval is how often a plain progress line is printed when the
// output is not a terminal and IntervalEnv is not set: often enough that a
// CI log shows the campaign is alive, rarely enough that a one-hour
// campaign's log stays readable.
const DefaultInterval = 10 * time.Second

// MinInterval is the shortest interval IntervalEnv may set: below it a
// CI log would fill with hundreds of thousands of lines a minute.
const MinInterval = 100 * time.Millisecond

// redraw is how often the live line is redrawn on a terminal.
const redraw = 200 * time.Millisecond

// Options configure a Progress.
type Options struct {
	// Prefix starts every line, e.g. "capq check".
	Prefix string
	// Quiet suppresses everything: no live line, no periodic line, no
	// Printf. Results (summary tables, reports) are the tools' business.
	Quiet bool
	// Interval is the period of the plain lines; 0 means IntervalEnv or,
	// when that is unset or invalid, DefaultInterval.
	Interval time.Duration
	// Live forces the live line (true) or the plain lines (false) instead
	// of asking the output whether it is a terminal; nil asks.
	Live *bool
}

// Progress shows the progress of a campaign on one writer. It is safe for
// concurrent use. At most one task is current at a time: the tools run
// their phases and targets one after the other.
type Progress struct {
	w        io.Writer
	prefix   string
	quiet    bool
	live     bool
	interval time.Duration

	mu      sync.Mutex
	cur     *Task
	onLine  bool // a live line is drawn and not yet cleared
	started time.Time
}

// New returns a Progress writing to w: a live line if w is a terminal
// (IsTerminal), plain periodic lines otherwise, nothing if o.Quiet.
func New(w io.Writer, o Options) *Progress {
	p := &Progress{w: w, prefix: o.Prefix, quiet: o.Quiet, interval: o.Interval, started: time.Now()}
	if o.Live != nil {
		p.live = *o.Live
	} else {
		p.live = IsTerminal(w)
	}
	if p.interval <= 0 {
		var warn string
		p.interval, warn = envInterval(os.Getenv(IntervalEnv))
		if warn != "" && !p.quiet {
			fmt.Fprintln(w, warn)
		}
	}
	return p
}

// envInterval is the plain-line interval that the value v of IntervalEnv
// sets, with a warning to print when v is not used as it is: an invalid,
// zero or negative value gives DefaultInterval, a value under MinInterval
// gives MinInterval. A warning rather than an error: a progress setting
// must not stop a campaign, but a silent fallback hides a typo.
func envInterval(v string) (time.Duration, string) {
	if v == "" {
		return DefaultInterval, ""
	}
	d, err := time.ParseDuration(v)
	switch {
	case err != nil || d <= 0:
		return DefaultInterval, fmt.Sprintf("warning: %s=%q is not a positive duration such as 30s: using %v", IntervalEnv, v, DefaultInterval)
	case d < MinInterval:
		return MinInterval, fmt.Sprintf("warning: %s=%q is under %v: using %v", IntervalEnv, v, MinInterval, MinInterval)
	}
	return d, ""
}

// Live reports whether p draws a live line (the output is a terminal and
// p is not quiet).
func (p *Progress) Live() bool { return p.live && !p.quiet }

// Printf prints a plain line (a newline is added), first clearing a live
// line so that the two do not mix; the live line is drawn again at the
// next redraw. Nothing is printed if p is quiet.
func (p *Progress) Printf(format string, a ...any) {
	if p.quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
	fmt.Fprintf(p.w, format+"\n", a...)
}

func (p *Progress) clearLocked() {
	if p.onLine {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.onLine = false
	}
}

// Task is one phase or target in progress.
type Task struct {
	p      *Progress
	label  string
	budget time.Duration
	start  time.Time

	mu     sync.Mutex
	what   string
	left   time.Duration // < 0: derive from budget
	leftAt time.Time     // when left was given
	held   bool          // left does not run down (Hold)
	quit   chan struct{}
	done   sync.WaitGroup
	once   sync.Once
}

// Start begins a task called label (e.g. "[2/4] killcrash") that is
// expected to take budget (0: unknown). Until Done, its line is redrawn in
// place on a terminal, or printed every interval otherwise: the label,
// what Update last said, the elapsed time and the time left. Starting a
// task ends the current one.
func (p *Progress) Start(label string, budget time.Duration) *Task {
	t := &Task{p: p, label: label, budget: budget, start: time.Now(), left: -1, quit: make(chan struct{})}
	p.replace(t)
	if p.quiet {
		return t
	}
	period := p.interval
	if p.live {
		period = redraw
	}
	t.done.Add(1)
	go func() {
		defer t.done.Done()
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			select {
			case <-t.quit:
				return
			case <-tick.C:
				t.show()
			}
		}
	}()
	return t
}

// Update says what the task is doing, e.g. "12 runs, 340 steps"; the time
// left is derived from the task's budget.
func (t *Task) Update(what string) { t.UpdateLeft(what, -1) }

// UpdateLeft is Update with the time left given (a negative left derives
// it from the budget): for work whose clock starts late, such as a fuzz
// run whose -fuzztime starts after the build.
func (t *Task) UpdateLeft(what string, left time.Duration) {
	t.mu.Lock()
	t.what, t.left, t.leftAt, t.held = what, left, time.Now(), false
	t.mu.Unlock()
}

// Hold is UpdateLeft with a clock that does not run until the next
// update: for a wait before the budget starts to count, such as the build
// of a fuzz test binary (-fuzztime counts from the fuzzing, not the build).
func (t *Task) Hold(what string, left time.Duration) {
	t.mu.Lock()
	t.what, t.left, t.leftAt, t.held = what, left, time.Now(), true
	t.mu.Unlock()
}

// Line returns the task's status line as it would be shown now.
func (t *Task) Line() string {
	t.mu.Lock()
	what, left, leftAt, held := t.what, t.left, t.leftAt, t.held
	t.mu.Unlock()
	elapsed := time.Since(t.start)
	switch {
	case left >= 0 && held:
	case left >= 0:
		// The clock runs on between two updates.
		left = max(left-time.Since(leftAt), 0)
	case t.budget > 0:
		left = max(t.budget-elapsed, 0)
	}
	var b strings.Builder
	if t.p.prefix != "" {
		b.WriteString(t.p.prefix + ": ")
	}
	b.WriteString(t.label)
	if what != "" {
		b.WriteString(": " + what)
	}
	fmt.Fprintf(&b, ", %s elapsed", Round(elapsed))
	if left >= 0 {
		fmt.Fprintf(&b, ", %s left", Round(left))
	}
	return b.String()
}

func (t *Task) show() {
	p := t.p
	line := t.Line()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur != t {
		return
	}
	if !p.live {
		fmt.Fprintln(p.w, line)
		return
	}
	// Keep the live line on one terminal row: a wrapped line cannot be
	// redrawn in place with a carriage return.
	if w := termWidth(p.w); w > 1 && utf8.RuneCountInString(line) >= w {
		line = string([]rune(line)[:w-1])
	}
	fmt.Fprint(p.w, "\r\x1b[K"+line)
	p.onLine = true
}

func (t *Task) stop() {
	t.once.Do(func() {
		close(t.quit)
		t.done.Wait()
	})
}

// Done ends the task: its live line is cleared and, unless p is quiet,
// final (e.g. "killcrash: 82 runs, 2716 steps, 15.7s: ok") is printed as
// a plain line in its place.
func (t *Task) Done(final string) {
	t.stop()
	p := t.p
	p.mu.Lock()
	if p.cur == t {
		p.cur = nil
	}
	p.mu.Unlock()
	if final != "" {
		p.Printf("%s", final)
	}
	p.mu.Lock()
	p.clearLocked()
	p.mu.Unlock()
}

// Close ends the current task, if any, and clears the live line.
func (p *Progress) Close() {
	p.replace(nil)
	p.mu.Lock()
	p.clearLocked()
	p.mu.Unlock()
}

// replace makes t (nil: none) the current task and stops the one it
// replaces, outside the lock: stop waits for that task's goroutine, which
// takes the lock to print.
func (p *Progress) replace(t *Task) {
	p.mu.Lock()
	prev := p.cur
	p.cur = t
	p.mu.Unlock()
	if prev != nil {
		prev.stop()
	}
}

// Round rounds a duration for people: tenths of a second under a minute,
// whole seconds above.
func Round(d time.Duration) time.Duration {
	if d < time.Minute {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}
