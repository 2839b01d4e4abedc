// Package crashtest is a kill-crash harness for the queue: it runs appender
// and consumer processes on one queue directory, SIGKILLs them at random
// moments, restarts them, and at the end checks that the directory and the
// processes' reports agree with what the spec promises across process
// crashes (spec R9, R11, R15, R16, R25).
//
// # Children
//
// A child is the current executable re-executed with the environment
// variable CAPQ_CRASHTEST_CHILD set to "appender" or "consumer" (and
// CAPQ_CRASHTEST_CONFIG holding its settings as JSON). A program that wants
// to host children calls MaybeRunChild first thing: in main for a command
// (capq check re-executes capq), in TestMain for a test binary. It returns at
// once when the variable is unset.
//
// An appender appends records in a loop and prints "A <ULID>\n" after each
// Append has returned. A consumer drains in a loop; its handler prints
// "D <ULID> <attempt>\n" and then returns success, or prints
// "F <ULID> <attempt>\n" and returns an error. Each line is one write on an
// unbuffered pipe, so a line the parent reads whole was printed whole, and a
// kill can cut at most the last one, which the parent ignores.
//
// # Exec consumers
//
// With Config.ExecConsumers, some consumers are `capq drain --follow
// --exec` (Config.DrainCommand starts capq) whose handler is the current
// executable re-executed with EnvChild set to "handler". While it works on
// a record the handler holds an O_EXCL marker file, holding its pid, in a
// folder beside the queue; finding a marker of a process that still runs
// means the record was handed to a second handler while the first still
// held it, which it prints as "X <ULID> <pid>" (a violation of spec R39).
// It prints "D"/"F" lines as a consumer does. The driver SIGKILLs these
// capq processes, or sends them SIGHUP (Config.HangupRate), after which
// they must finish the record in hand and exit by themselves. Their output
// goes to a file, not a pipe, so a handler that outlived its capq overlaps
// the next round, as it would in real life.
//
// # What the driver checks
//
// After the rounds the driver drains the directory itself (with the same
// handler rules) and checks:
//
//   - Nothing acknowledged is lost: every ULID an appender printed was
//     delivered, dropped with an audit line (overflow), quarantined or
//     dead-lettered.
//   - Nothing is delivered twice without cause: a record may be delivered
//     again only when the process that delivered it was killed right after
//     the delivery (its "D" line is the last line that process printed),
//     before the delete; and every delivery of one record carries a distinct
//     Attempt, so a re-delivery always has Attempt > 1 (spec R16, exact
//     across process crashes).
//   - No half-written file: queue.Verify finds no corrupt file, and nothing
//     was quarantined (a process crash cannot tear a renamed file).
package crashtest
