// Package mutate holds the switches that turn the queue into deliberately
// broken variants ("mutants"), so that capq's own test suites can prove they
// catch each kind of bug (spec R28 and model/README.md).
//
// It is internal, test-only machinery: nothing outside this module can
// enable a mutant, and with no mutant enabled each check in the queue costs
// one atomic load. The switch is process-wide, so tests that enable a
// mutant must not run in parallel with other queue tests.
package mutate
