// Package benchsuite holds capq's performance benchmarks (issue 7) once,
// for both ways of running them:
//
//   - go test -bench, through thin wrappers in queue/bench_test.go (capq
//     against the floor) and bench/floor/bench_test.go (the floor
//     alone), which call the bodies of an [Env];
//   - Run, which executes the same bodies with testing.Benchmark outside
//     the go command and prints one table: each figure, its ratio to the
//     floor or to its baseline, the target and whether it is met, with the
//     file system the run used and whether its fsync looks real.
//
// Every target is a ratio measured within one benchmark: the bodies
// interleave capq and the floor (package bench/floor, the same
// protocols with raw system calls) operation by operation, or chunk by
// chunk, so that the noise of a shared machine hits both arms alike. They
// report each arm with b.ReportMetric ("capq-ns/op", "floor-ns/op", ...)
// and the ratio ("speed-vs-floor", higher is better, or "time-vs-floor",
// lower is better), which benchstat compares across -count runs.
//
// Deep queues (10,000 to 1,000,000 pending files) are filled with the
// floor's raw system calls and without fsync: the files must exist and
// hold valid envelopes, not survive a power cut. A fill is made once per
// Env and shared by the benchmarks that need that depth; Env.Close removes
// everything. The 1,000,000-file listing runs only with Config.Big (flag
// -capq.big under go test), because creating and removing a million files
// takes minutes on the disks capq targets. Most names of a deep fill are
// hard links to a few template files (see Env.fill): a listing, an append
// or a count sees only names, and the records a benchmark reads are always
// real ones.
package benchsuite
