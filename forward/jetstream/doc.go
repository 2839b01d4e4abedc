// Package jetstream forwards the records of a capq queue into a NATS
// JetStream stream, so that the local spools of many machines end up in one
// durable, replicated stream.
//
// A Forwarder drains its queue oldest first. For each record it publishes
// one message to Config.Subject and waits for the stream's acknowledgement;
// only then does the handler return nil and capq delete the record. The
// message is built as follows (see the Header constants):
//
//   - payload: the record's JSON bytes, verbatim (spec R4);
//   - Nats-Msg-Id: the record's ULID;
//   - Capq-Ulid, Capq-Appended-At, Capq-Schema-Version, Capq-Attempt: the
//     envelope's metadata and the delivery's attempt number.
//
// # Delivery guarantees
//
// capq delivers at least once: a forwarder that dies between the stream's
// acknowledgement and the local delete (or a power cut that undoes the
// delete) delivers the record again, with a higher attempt number. Because
// the ULID is the Nats-Msg-Id, JetStream recognises the second publish as a
// duplicate, stores nothing and acknowledges it with Duplicate set, and the
// forwarder deletes the record. The effect in the stream is exactly once,
// provided the redelivery reaches the stream within the stream's duplicate
// window (StreamConfig.Duplicates, two minutes by default) of the first
// publish that the stream stored. A forwarder that is down longer than the
// window after such a crash appends the record a second time; choose the
// window longer than the longest outage you want to ride out.
//
// Records are published one at a time, oldest ULID first, and a failure
// stops the pass, so a record is never published before the one ahead of it
// has been acknowledged: the stream receives each queue's records in ULID
// order, which is append order for one appending goroutine. (A record
// appended concurrently that becomes visible after a younger one was listed
// follows in the next pass.)
//
// # Back-pressure
//
// When a publish fails (server unreachable, no stream leader, stream full
// with DiscardNew, permission denied, timeout) the record is not deleted,
// the pass stops, and the forwarder waits with exponential backoff and jitter
// (Config.Backoff) before it tries again. Producers keep appending to the
// local queue meanwhile, and the queue's own overflow rule (Options.MaxSize)
// still bounds it. The forwarder's State says what it is doing; it logs
// every transition to Config.Logger.
//
// Import this package under another name (for example capqjs) when the same
// file also imports github.com/nats-io/nats.go/jetstream.
package jetstream
