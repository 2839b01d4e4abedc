// Package peers compares capq with two other persistent queues written in
// Go, at equal durability (every acknowledged append survives a power cut),
// for durable append and for consume:
//
//   - github.com/joncrlsn/dque with turbo off: segment files of gob
//     records, each Enqueue and each Dequeue appended to the segment and
//     fsynced;
//   - a queue on go.etcd.io/bbolt with one fsynced transaction per record,
//     the design of the OpenTelemetry Collector's persistent queue (its
//     file_storage extension is a bbolt database).
//
// Each peer is wrapped in the small Queue interface; the benchmarks in
// bench_test.go interleave the peers operation by operation so that the
// noise of a shared machine hits them alike, and report every peer's time
// per record and its ratio to capq's. This is a separate module so that
// capq's own go.mod stays free of the peers' dependencies.
//
// The peers do not promise what capq promises; see BENCHMARKS.md at the
// repository's root for the semantic differences that the figures hide.
package peers
