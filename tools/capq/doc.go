// Command capq operates capq queue directories and checks queue
// implementations against the capq specification (spec/SPEC.md).
//
// Usage:
//
//	capq [--dir DIR] SUBCOMMAND [flags] [args]
//
// The queue directory is --dir (accepted before or after the subcommand),
// else $CAPQ_DIR, else the reference's ~/.iai-mcp/pending. Data goes to
// stdout, messages to stderr; --json selects machine output where a
// subcommand has one (JSON Lines for lists, one object otherwise). Exit
// status: 0 success, 1 a check found violations or an operation failed,
// 2 usage error or bad input (a bad record, a bad ULID, a missing queue
// directory, a directory that is a file). Every subcommand has --help.
//
// Operating a queue:
//
//	append [--record JSON] [--max-size N]
//	                 append JSON objects, one per line of stdin; print each
//	                 ULID as soon as its record is durable; a bad line stops
//	                 with its line number (exit 2), earlier lines stay
//	ls [--json]      pending records oldest first: ulid, appended_at, size,
//	                 state (pending, in_doubt, delivering, blocked, corrupt)
//	count [--json]   number of pending records
//	show [--record] ULID
//	                 a record's envelope (pending or dead-lettered)
//	stats [--json]   pending, oldest age, bytes, in-doubt, stray tmp,
//	                 quarantined, dead letters, audit drops
//	drain [--exec CMD] [--max N] [--budget D] [--max-attempts N] [--follow]
//	                 deliver records oldest first: to stdout as JSON lines, or
//	                 to CMD (by /bin/sh -c; the record on stdin, CAPQ_ULID and
//	                 CAPQ_ATTEMPT in the environment; exit 0 acknowledges);
//	                 --follow waits for new records (inotify or kqueue, and a
//	                 rescan every 2s)
//	                 until SIGINT/SIGTERM, finishing the record in hand
//	verify [--json]  read-only check of the directory; exit 1 on violations
//	recover [--json] remove stray tmp files and orphan locks; list in-doubt
//	requeue ULID...|--all
//	                 move dead letters back into the queue
//	audit [--json]   the audit log: overflow drops, prunes, quarantines,
//	                 dead letters, requeues
//	prune --to N     drop the oldest records until N remain, with audit lines
//
// Checking:
//
//	check [--duration D] [--seed N] [--phase LIST] [--json] [--keep]
//	                 the conformance campaign against capq's own queue in a
//	                 temporary directory: model (package model's state
//	                 machines), killcrash (this binary re-executed as appender
//	                 and consumer processes, SIGKILLed at random; package
//	                 verify/crashtest), powercut (the real queue on the
//	                 in-memory file system, the power cut mid-operation) and
//	                 fuzz (random inputs through the decoder and round trips).
//	                 About 60s by default; prints a summary table, and on a
//	                 failure the seed and the command that reproduces it.
//	                 For CI: --junit FILE (JUnit XML, a test case per phase
//	                 and model sub-phase), --summary FILE (Markdown,
//	                 appended; not the --junit file), --quiet (no
//	                 progress; otherwise a live line per phase on a terminal,
//	                 a plain line every 10s, CAPQ_PROGRESS_INTERVAL, if not).
//	                 SIGINT, SIGTERM and SIGHUP stop it with the reports
//	                 written, the verdict INTERRUPTED, exit status 1
//	check --impl CMD checks another implementation that speaks the line
//	                 protocol of spec/PROTOCOL.md (capq's own: "capq adapter";
//	                 deliberately broken: "capq adapter --broken=reverse-list",
//	                 "lose-append", "no-delete")
//	bench [--quick] [--filter RE] [--in DIR]
//	                 the benchmark suite (bench/suite) as one table
//
// The hidden subcommand adapter serves the check protocol for the queue in
// --dir; setting CAPQ_CRASHTEST_CHILD makes the binary a kill-crash child
// (see verify/crashtest) instead of a command.
//
// Examples:
//
//	echo '{"surface":"hi"}' | capq append
//	capq drain --follow --max-attempts 5 --exec 'curl -fsS -d @- http://localhost:8080/ingest'
//	go run ./tools/capq check
//	go run ./tools/capq check --impl 'python3 adapter.py'
package main
