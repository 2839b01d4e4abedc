// Command fuzzrun runs capq's fuzz campaign: every native fuzz target of
// the given packages in turn (go test -fuzz takes one target per run), each
// for a given duration, and reports what each did.
//
// Usage, from anywhere inside the module:
//
//	go run ./tools/fuzzrun [flags]
//	go run ./tools/fuzzrun -smoke                 # CI: a few seconds per target
//	go run ./tools/fuzzrun -duration 10m          # nightly
//	go run ./tools/fuzzrun -targets 'ULID|Diff' -duration 2m
//	go run ./tools/fuzzrun -list                  # print the targets and exit
//
// Targets are discovered with go test -list '^Fuzz' in each package of
// -pkgs (by default ./fuzz/ and ./model/; a package directory that does not
// exist is skipped with a note), so a new target needs no change here.
//
// The full output of each run is kept in the -out directory as
// <package>.<target>.log.
// At the end it writes summary.txt and summary.json there (per target: the
// package, status, executions, executions per second, new interesting
// inputs, corpus size, time, and for a failure the failing input, the go
// test report, its signature and the command that reproduces it), and
// prints the text summary.
//
// The generated corpus is kept between runs. By default it lives where go
// test keeps it, in the fuzz cache of GOCACHE
// ($(go env GOCACHE)/fuzz/<import path>/<target>/), which go clean -fuzzcache
// removes; with -cache DIR it lives in DIR/<import path>/<target>/ instead,
// which is the directory a CI job should save and restore between nightly
// runs. Failing inputs are written by go test into the package's
// testdata/fuzz/<target>/, where they become regression inputs once
// committed.
//
// A run that outlives its duration by -grace is killed and reported as hung:
// go test -fuzz has no per-input timeout, so an input that makes a target
// loop forever would otherwise stall the campaign. A run whose executions
// (or baseline inputs) stop advancing for -stall is killed and reported as
// hung too: go test alone ends such a run at -fuzztime and calls it a pass.
//
// One campaign at a time uses an -out directory (an flock on
// <out>/.lock); a second exits 2 at once.
//
// # A corpus that grows between runs
//
// With -corpus DIR (what a CI job restores and saves with its cache), the
// corpus of each target lives in DIR/<import path>/<target>/. Before a
// target runs, its entries are copied into a fresh cache directory under
// -out, which go test fuzzes from; afterwards the inputs the run found
// interesting are merged back: deduplicated by the SHA-256 of their
// contents (committed seeds of testdata/fuzz are not copied again), named
// by that hash, and at most -corpus-max per target, the smallest kept.
// Files that are not go test fuzz v1 entries of the target's types (at
// most 4 MiB each), and .tmp- leftovers of an interrupted merge, are
// removed rather than adopted. Each
// input was minimised by go test when it was found (-minimizetime is that
// budget). A second run thus starts from everything the first one found;
// summary.json says how many entries were restored, added and dropped.
//
// # Failures
//
// A failing input is copied to -out/crashers/<target>/<name> (the CI
// artifact to upload). Failures are deduplicated by their stack: the panic
// message with numbers masked and the frames of the code under test,
// without addresses, goroutine ids, arguments or directories, and without
// the target's own frames, so one bug reached from several targets is one
// failure; a failure without a panic is keyed by the file:line of its
// t.Error lines. With -corpus, each distinct failure is recorded in
// DIR/crashers/<signature>/, so a later run reports it as known.
//
// To turn a failing input into a committed regression seed:
//
//	go run ./tools/fuzzrun promote [-commit] .fuzzrun/crashers/FuzzX/1de061fa29cfbb3d
//
// promote finds the package of the target (the input's directory name,
// among -pkgs, or -pkg), copies the input into the package's
// testdata/fuzz/FuzzX/, runs it once and says whether it fails today, and
// with -commit commits that file alone. Every go test of the package runs
// it from then on. It refuses a target the package does not have, a
// package outside the module, and a seed go test cannot run (the package
// does not build, or the entry's types are not the target's), removing
// the seed it wrote; a name with spaces or shell characters is replaced by
// the hash of the contents.
//
// # Reports and progress
//
// -junit FILE writes a JUnit XML report (one test case per target, each
// failure with its report and the command that reproduces it); -summary
// FILE appends a Markdown summary (for $GITHUB_STEP_SUMMARY). The two must
// differ and are opened before anything runs (relative to the current
// directory; -out, -corpus and -cache are relative to the module root).
// SIGINT, SIGTERM and SIGHUP stop the campaign with every report written:
// the target cut short is "interrupted", those not begun "not run". On a
// terminal a live line per target shows the executions, new inputs, corpus
// size, elapsed and remaining time; otherwise the same line is printed
// every 10 seconds (CAPQ_PROGRESS_INTERVAL changes that); -quiet prints
// only the final summary.
//
// # Exit status
//
//	0  every target passed
//	1  a target failed, hung, or did not build
//	2  bad usage, a tool error (e.g. the corpus cannot be written: the
//	   campaign still runs every target and writes every report), an
//	   -out directory in use by another campaign, or an interrupted
//	   campaign
//	3  no failure, but a target only flaked (Go's fuzztime deadline race,
//	   go.dev/issue/75804, twice in a row): not a bug of the code
//
// promote exits 0 once the seed is in place (whether it fails today or
// not) and 2 on any error.
package main
