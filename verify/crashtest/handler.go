package crashtest

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// roleExecConsumer names, in reports, a consumer that is `capq drain
// --follow --exec` with a RoleHandler handler.
const roleExecConsumer = "exec-consumer"

// markerDir is where handlers keep their markers: beside the queue, not
// in it, so that nothing in the queue changes.
func markerDir(queueDir string) string { return strings.TrimRight(queueDir, "/") + ".markers" }

// execConsumerCmd is capq draining cfg.Dir with --follow, each record
// handed to this executable re-executed as RoleHandler.
func execConsumerCmd(cfg *Config) (*exec.Cmd, error) {
	cmd, err := cfg.DrainCommand()
	if err != nil {
		return nil, err
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	handler := EnvChild + "=" + RoleHandler + " exec " + shellQuote(exe)
	cmd.Args = append(cmd.Args, "--dir", cfg.Dir, "drain", "--follow",
		"--max-attempts", strconv.Itoa(cfg.MaxAttempts), "--exec", handler)
	return cmd, nil
}

// shellQuote quotes s for /bin/sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// errTwoHandlers is how a handler that found another live handler of its
// record fails.
var errTwoHandlers = errors.New("another handler of this record is running")

// runHandler is one delivery to a handler process. It takes the record's
// marker with O_EXCL, holding its pid; a marker whose process still runs
// means two handlers hold one record at once, which it reports as
// "X <ULID> <pid>". A marker whose process is gone was left by a handler
// that died with its capq (spec R39): it is taken over, reported as
// "S <ULID> <pid>". The handler then
// works a random while (so that kills land mid-handler), prints "D" or
// "F" as a consumer does, removes its marker and exits 0 or 1.
func runHandler(cfg ChildConfig, in io.Reader, out io.Writer) error {
	id, attempt := os.Getenv("CAPQ_ULID"), os.Getenv("CAPQ_ATTEMPT")
	if id == "" || attempt == "" {
		return errors.New("no CAPQ_ULID or CAPQ_ATTEMPT: not run by capq drain --exec")
	}
	if _, err := io.Copy(io.Discard, in); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, uint64(os.Getpid())))
	marker := markerDir(cfg.Dir) + "/" + id
	for try := 0; ; try++ {
		f, err := os.OpenFile(marker, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			_, err = f.WriteString(strconv.Itoa(os.Getpid()))
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			break
		}
		if !errors.Is(err, fs.ErrExist) || try > 100 {
			return err
		}
		b, err := os.ReadFile(marker)
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed meanwhile
		}
		other, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		if err == nil && other > 0 && processAlive(other) {
			io.WriteString(out, "X "+id+" "+strconv.Itoa(other)+"\n")
			return errTwoHandlers
		}
		// Stale (or being written: the next try sees it whole).
		if other > 0 || try > 10 {
			// Its handler died with its capq, mid-work: say so, so the
			// report shows kills landed inside handlers.
			io.WriteString(out, "S "+id+" "+strconv.Itoa(other)+"\n")
			os.Remove(marker)
		} else {
			time.Sleep(time.Millisecond)
		}
	}
	time.Sleep(time.Duration(rng.Int64N(int64(cfg.MaxHandle) + 1)))
	tag, ret := "D ", error(nil)
	if rng.Float64() < cfg.FailRate {
		tag, ret = "F ", errInjected
	}
	if _, err := io.WriteString(out, tag+id+" "+attempt+"\n"); err != nil {
		return err
	}
	if err := os.Remove(marker); err != nil {
		return fmt.Errorf("remove marker: %w", err)
	}
	return ret
}

// processAlive reports whether pid runs: it exists and is not a zombie (a
// dead handler's orphan waiting to be reaped holds no descriptor).
func processAlive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false
		}
		return signalZero(pid) // no /proc: a zombie counts as alive
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
