// Package conform is capq's conformance judge: it checks a queue
// implementation in any language, through the line protocol of
// spec/PROTOCOL.md, against spec/SPEC.md, and returns a report card: one
// row per requirement observable from outside, each with a verdict (pass,
// fail, unsupported, n/a, inconclusive), one line of evidence and, for a
// failure, a transcript that replays it; and the conformance level the
// implementation reaches (reference, durable, hardened).
//
// Every probe runs in a fresh directory with a fresh process of the
// implementation, so that one failure does not hide another. The probes
// plant files (corrupt, symlinked, look-alike, of a future schema), set
// the overflow bound, compare ULIDs with the checker's clock, time appends
// against a pre-filled directory, drain one directory together with a capq
// consumer, and judge durability from a system-call trace (strace -f) in
// the manner of ALICE (OSDI 2014). The random campaign is judged by package
// model, the one model of the spec; its steps come from the seed, so that a
// failure replays exactly and shrinks to a minimal list of steps.
//
// Every process the checker starts runs in its own process group, which is
// killed on every exit path: Kill, the cancellation of the Run's context
// (capq's SIGINT and SIGTERM), or KillAll.
//
// The command-line front end is `capq check --impl` and `capq replay`
// (tools/capq), which only parse flags and print.
package conform
