// Package model is capq's model-based verification: a small in-memory model
// of the queue's specified behaviour (spec/SPEC.md), and machines that drive
// the real queue and the model with the same random operations and compare
// them after every step.
//
// The package has three layers, each in its own files:
//
//   - model.go is the model: pending records in ULID order with their bytes,
//     their attempt state, the dead-letter and quarantine folders, the audit
//     log, and the records that were acknowledged, delivered and dropped. It
//     does no I/O and reads like the spec: every rule cites its requirement.
//     Where the spec leaves a choice (what a power cut keeps, what a fault
//     half-did), the model holds the set of allowed outcomes and an
//     observation of the real queue picks one, or fails the check.
//   - machine.go is the machine: it runs the real queue over the in-memory
//     file system of internal/fsys (several views of one Mem are several
//     processes; Crash is a power cut; Fault injects errnos and kills a
//     process at the Nth file-system call), applies every action to the
//     queue and the model, and checks the invariants after every step.
//     Its random choices come from a chooser, so that pgregory.net/rapid
//     (in the tests, with shrinking) and a plain seeded PRNG (in
//     RunCampaign, for the capq check command) drive the same actions.
//   - campaign.go is RunCampaign, the long-running driver without testing.T.
//
// The tests add rapid state machines (TestMachine, FuzzMachine), a
// concurrency test with a linearizability check (porcupine) and set
// invariants, and TestMutants, which requires every deliberately broken
// variant of the queue (internal/mutate) to be caught. README.md says which
// check catches which mutant and how to run a long campaign.
package model
