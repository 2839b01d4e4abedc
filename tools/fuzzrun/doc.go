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
// While a target runs, fuzzrun prints its status every few seconds; the full
// output of each run is kept in the -out directory as <package>.<target>.log.
// At the end it writes summary.txt and summary.json there (per target: the
// package, status, executions, executions per second, new interesting
// inputs, corpus size, time, and for a failure the failing input, the go
// test report and the command that reproduces it), prints the text summary,
// and exits with status 1 if any target failed, hung, or did not build.
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
// loop forever would otherwise stall the campaign.
package main
