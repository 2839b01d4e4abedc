package peers

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/capq/capq/queue"
	"github.com/joncrlsn/dque"
	bolt "go.etcd.io/bbolt"
)

// Queue is what the benchmarks need of a persistent queue.
type Queue interface {
	// Append stores one record durably before returning.
	Append(rec []byte) error
	// AppendBatch stores many records durably before returning, with the
	// peer's own batch API or one transaction.
	AppendBatch(recs [][]byte) error
	// AppendShared is Append for many goroutines at once, through the
	// peer's own API for concurrent writers where it has one.
	AppendShared(rec []byte) error
	// Consume hands up to n of the oldest records to h, deleting each
	// after h returns nil, and returns how many it consumed.
	Consume(n int, h func(rec []byte) error) (int, error)
	// Close releases the queue's resources.
	Close() error
}

// Capq is capq's queue.
type Capq struct{ Q *queue.Queue }

// OpenCapq opens a capq queue in dir, fsyncing the directory after every
// deleteSyncEvery deletes while consuming (capq's default is 64; 1 makes
// every delete durable before the next record, as the peers do).
func OpenCapq(dir string, deleteSyncEvery int) (*Capq, error) {
	q, err := queue.Open(dir, queue.Options{MaxSize: -1, DeleteSyncEvery: deleteSyncEvery})
	if err != nil {
		return nil, err
	}
	return &Capq{Q: q}, nil
}

// Append implements Queue.
func (c *Capq) Append(rec []byte) error { _, err := c.Q.Append(rec); return err }

// AppendBatch implements Queue with AppendBatch: the files made durable
// together, one directory fsync.
func (c *Capq) AppendBatch(recs [][]byte) error { _, err := c.Q.AppendBatch(recs); return err }

// AppendShared implements Queue: capq's Append already shares file
// flushes and directory fsyncs between concurrent callers.
func (c *Capq) AppendShared(rec []byte) error { return c.Append(rec) }

// Consume implements Queue with one Ingest call bounded to n records.
func (c *Capq) Consume(n int, h func([]byte) error) (int, error) {
	res, err := c.Q.Ingest(context.Background(), func(_ context.Context, d queue.Delivery) error {
		return h(d.Record)
	}, queue.IngestOptions{MaxRecords: n})
	return res.Delivered, err
}

// Close implements Queue.
func (c *Capq) Close() error { return c.Q.Close() }

// item is dque's record type (dque stores gob-encoded values).
type item struct{ Data []byte }

// Dque is github.com/joncrlsn/dque with turbo off.
type Dque struct{ Q *dque.DQue }

// dqueSegment is dque's items per segment file.
const dqueSegment = 1000

// OpenDque opens (or creates) a dque named "q" in dir, turbo off: every
// Enqueue and Dequeue is fsynced.
func OpenDque(dir string) (*Dque, error) {
	q, err := dque.NewOrOpen("q", dir, dqueSegment, func() any { return &item{} })
	if err != nil {
		return nil, err
	}
	if q.Turbo() {
		if err := q.TurboOff(); err != nil {
			q.Close()
			return nil, err
		}
	}
	return &Dque{Q: q}, nil
}

// Append implements Queue.
func (d *Dque) Append(rec []byte) error { return d.Q.Enqueue(&item{Data: rec}) }

// AppendBatch implements Queue with dque's turbo mode, its only way to
// write many records with one sync: turbo on, every Enqueue unsynced,
// turbo off, which fsyncs the first and last segment files. (A batch that
// fills a segment leaves the full one to the kernel's writeback: dque's
// own limit, which favours it here.)
func (d *Dque) AppendBatch(recs [][]byte) error {
	if err := d.Q.TurboOn(); err != nil {
		return err
	}
	for _, rec := range recs {
		if err := d.Q.Enqueue(&item{Data: rec}); err != nil {
			d.Q.TurboOff()
			return err
		}
	}
	return d.Q.TurboOff()
}

// AppendShared implements Queue: dque serialises Enqueue calls under its
// mutex, each fsynced; it has no API to share syncs between writers.
func (d *Dque) AppendShared(rec []byte) error { return d.Append(rec) }

// Consume implements Queue. dque removes a record when it hands it out
// (Dequeue), before the handler runs: at most once.
func (d *Dque) Consume(n int, h func([]byte) error) (int, error) {
	for i := range n {
		v, err := d.Q.Dequeue()
		if errors.Is(err, dque.ErrEmpty) {
			return i, nil
		}
		if err != nil {
			return i, err
		}
		if err := h(v.(*item).Data); err != nil {
			return i, err
		}
	}
	return n, nil
}

// Close implements Queue.
func (d *Dque) Close() error { return d.Q.Close() }

// Bolt is a queue on a bbolt database: records in one bucket under
// big-endian sequence numbers, one fsynced read-write transaction per
// append and per delete, as the OpenTelemetry Collector's persistent queue
// uses its bbolt-backed storage.
type Bolt struct{ DB *bolt.DB }

var bucket = []byte("queue")

// OpenBolt opens (or creates) the database queue.db in dir. NoSync is off:
// every transaction's commit fsyncs the file.
func OpenBolt(dir string) (*Bolt, error) {
	db, err := bolt.Open(filepath.Join(dir, "queue.db"), 0o600, nil)
	if err != nil {
		return nil, err
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	}); err != nil {
		db.Close()
		return nil, err
	}
	return &Bolt{DB: db}, nil
}

// Append implements Queue: one transaction, one record.
func (b *Bolt) Append(rec []byte) error {
	return b.DB.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucket)
		seq, err := bk.NextSequence()
		if err != nil {
			return err
		}
		var key [8]byte
		binary.BigEndian.PutUint64(key[:], seq)
		return bk.Put(key[:], rec)
	})
}

// AppendBatch implements Queue: one transaction for the whole batch.
func (b *Bolt) AppendBatch(recs [][]byte) error {
	return b.DB.Update(func(tx *bolt.Tx) error { return putAll(tx, recs) })
}

// AppendShared implements Queue with bbolt's DB.Batch, which combines
// concurrent writers' updates into one transaction and one commit.
func (b *Bolt) AppendShared(rec []byte) error {
	return b.DB.Batch(func(tx *bolt.Tx) error { return putAll(tx, [][]byte{rec}) })
}

func putAll(tx *bolt.Tx, recs [][]byte) error {
	bk := tx.Bucket(bucket)
	for _, rec := range recs {
		seq, err := bk.NextSequence()
		if err != nil {
			return err
		}
		var key [8]byte
		binary.BigEndian.PutUint64(key[:], seq)
		if err := bk.Put(key[:], rec); err != nil {
			return err
		}
	}
	return nil
}

// Consume implements Queue: the oldest record is read in a read-only
// transaction, handed to h, then deleted in its own fsynced transaction
// (at least once, like capq).
func (b *Bolt) Consume(n int, h func([]byte) error) (int, error) {
	for i := range n {
		var key, val []byte
		if err := b.DB.View(func(tx *bolt.Tx) error {
			k, v := tx.Bucket(bucket).Cursor().First()
			key, val = append([]byte(nil), k...), append([]byte(nil), v...)
			return nil
		}); err != nil {
			return i, err
		}
		if key == nil {
			return i, nil
		}
		if err := h(val); err != nil {
			return i, err
		}
		if err := b.DB.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Delete(key) }); err != nil {
			return i, err
		}
	}
	return n, nil
}

// Close implements Queue.
func (b *Bolt) Close() error { return b.DB.Close() }

// Peer names a queue and opens it in a directory.
type Peer struct {
	Name string
	Open func(dir string) (Queue, error)
}

// Peers are the queues compared, capq first.
var Peers = []Peer{
	{"capq", func(dir string) (Queue, error) { return OpenCapq(dir, 0) }},
	{"capq-sync1", func(dir string) (Queue, error) { return OpenCapq(dir, 1) }},
	{"dque", func(dir string) (Queue, error) { return OpenDque(dir) }},
	{"bbolt", func(dir string) (Queue, error) { return OpenBolt(dir) }},
}

// OpenAll opens every peer in its own subdirectory of root.
func OpenAll(root string) ([]Queue, error) {
	qs := make([]Queue, 0, len(Peers))
	for _, p := range Peers {
		dir := filepath.Join(root, p.Name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		q, err := p.Open(dir)
		if err != nil {
			for _, q := range qs {
				q.Close()
			}
			return nil, fmt.Errorf("peers: opening %s: %w", p.Name, err)
		}
		qs = append(qs, q)
	}
	return qs, nil
}
