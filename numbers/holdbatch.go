package numbers

import (
	"math"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/kafkaio"
)

// Hold batches: LogHolds writes the holds of one pass as one lease-log
// record per lease-topic partition (events.HoldBatch describes the record)
// instead of one record per hold, when the lease log says how many
// partitions the topic has. One Kafka record per hold cost more CPU than
// the rest of the bid (encoding it, the producer, and reading it back on
// the lease consumer); a batch costs one record per partition per pass,
// and a hold in it is the entry's fields copied (binary), not a keyed JSON
// lease: a pass costs ≈ 0.15 µs a hold instead of ≈ 0.4 (BenchmarkHoldPass)
// and writes ≈ 100 bytes a hold instead of ≈ 400.
//
// Order: a batch holds only numbers of its partition, so it keeps its
// place among those numbers' own records. While a pass fills the batches,
// an entry whose hold is in one has leaseSeq holdBatched; publishLease
// writes the pending batches before any later record of such an entry (a
// win during the pass), so no record of a number overtakes its hold.
//
// Deletion: the topic is compacted and every batch has a key of its own, so
// each batch is followed by a tombstone of its key once every hold in it has
// ended and then some (tombstoneAfter): the log keeps only live batches. A
// process that stops first leaves its batches; whoever replays them later
// writes their tombstones.
//
// Locks: durableState.batchMu guards the batches and tombstones; it is
// taken under a shard lock (LogHolds, publishLease), never the other way.

// holdBatched is the leaseSeq of an entry whose hold is in a batch of the
// current pass; the batch's sequence is then lastBatchSeq or earlier.
const holdBatched = math.MaxUint64 - 1

// maxBatchBytes: a batch this large is written at once and a new one
// begun, well under Kafka's default 1 MB record limit.
const maxBatchBytes = 256 << 10

// holdBatch is the batch of one partition being filled.
type holdBatch struct{ events.HoldBatch }

// tomb is a batch to delete at unix nanos at: this process's batch n with
// salt (its key is made again then: 24 bytes a batch while it waits), or,
// when key is set, a replayed batch of another process.
type tomb struct {
	n    uint64
	at   int64
	salt uint32
	key  []byte
}

// partitionCounter is what a lease log offers when it can tell the lease
// topic's partition count (*kafkaio.Durable); without it every hold is its
// own record.
type partitionCounter interface{ Partitions() int }

// beginHoldBatches readies the per-partition batches for a LogHolds pass;
// false when holds go one record each. The caller holds holdMu.
func (p *Pools) beginHoldBatches() bool {
	pc, ok := p.leases.(partitionCounter)
	if !ok || p.leases == nil {
		return false
	}
	n := pc.Partitions()
	if n <= 0 {
		return false
	}
	d := &p.durable
	d.batchMu.Lock()
	defer d.batchMu.Unlock()
	if n != len(d.batches) {
		p.flushHoldBatches0()
		d.batches = make([]holdBatch, n)
		d.partOf = kafkaio.Partitioner(n)
	}
	return true
}

// batchHold adds entry i's hold (pool pl, shard s) to its partition's
// batch; the caller holds s's lock and batchMu.
func (p *Pools) batchHold(pl *pool, s *shard, i int32) {
	d := &p.durable
	e164, ext := p.numberOf(i)
	s.key = appendLeaseKey(s.key[:0], e164, ext)
	part := d.partOf(s.key) // cheap: murmur2 of the key
	b := &d.batches[part]
	if b.Len() == 0 {
		b.Begin(p.instance)
	}
	e := &p.entries[i]
	h := events.Hold{Pool: pl.id, Gen: e.gen, Flags: e.flags, ReservedAt: e.reservedAt,
		Campaign: p.ids.name(e.campaign), Publisher: p.ids.name(e.publisher),
		Exchange: p.small.name(uint32(e.exchange)), Skill: p.small.name(uint32(e.skill)),
		PriceMicros: e.price, IPHash: e.ipHash, IFAHash: e.ifaHash,
		IDs: s.buf(e), ReqLen: e.reqLen, ImpLen: e.impLen, BidLen: e.bidLen}
	p.holdExtra(&h, e)
	b.Add(s.key, &h)
	p.leaseSeq[i] = holdBatched
	if len(b.Bytes()) >= maxBatchBytes {
		p.writeHoldBatch(part)
	}
}

// flushHoldBatches writes every batch that has holds. The caller may hold
// a shard lock, not batchMu.
func (p *Pools) flushHoldBatches() {
	d := &p.durable
	d.batchMu.Lock()
	p.flushHoldBatches0()
	d.batchMu.Unlock()
}

func (p *Pools) flushHoldBatches0() {
	d := &p.durable
	for k := range d.batches {
		if d.batches[k].Len() > 0 {
			p.writeHoldBatch(k)
		}
	}
}

// writeHoldBatch appends partition part's batch to the lease log under a
// key of that partition and queues its tombstone; the caller holds batchMu.
func (p *Pools) writeHoldBatch(part int) {
	d := &p.durable
	b := &d.batches[part]
	d.batchNum++
	key, salt := p.batchKeyOf(d.batchNum, part)
	seq := p.leases.Append(key, b.Bytes())
	if seq == 0 {
		seq = unwritten
		p.leaseDrops.Add(1)
	}
	d.lastBatchSeq.Store(seq)
	d.holdBatches.Add(1)
	d.tombs = append(d.tombs, tomb{n: d.batchNum, salt: salt, at: p.clockNow().UnixNano() + p.tombstoneAfter()})
	b.Begin(p.instance)
}

// batchKeyOf is the key of this process's batch n on partition part and
// its salt: the first salt whose key murmur2 puts there (about one try in
// len(batches)). The caller holds batchMu.
func (p *Pools) batchKeyOf(n uint64, part int) ([]byte, uint32) {
	d := &p.durable
	for salt := uint32(0); ; salt++ {
		d.batchKey = events.AppendHoldBatchKey(d.batchKey[:0], p.instance, n, salt)
		if d.partOf(d.batchKey) == part {
			return d.batchKey, salt
		}
	}
}

// tombstoneAfter is how long a batch stays in the log after it is
// written or replayed: twice the longest hold, so a restart soon after
// its holds ended still sees them (ReplayDone quarantines replayed holds
// that ended).
func (p *Pools) tombstoneAfter() int64 {
	var h int64
	for k := range p.pools {
		h = max(h, p.pools[k].hold)
	}
	return 2*h + int64(time.Second)
}

// writeTombstones deletes the batches whose holds have all ended (t: unix
// nanos). LogHolds calls it.
func (p *Pools) writeTombstones(t int64) {
	d := &p.durable
	d.batchMu.Lock()
	defer d.batchMu.Unlock()
	n := 0
	for n < len(d.tombs) && d.tombs[n].at <= t {
		tb := &d.tombs[n]
		key := tb.key
		if key == nil {
			key = events.AppendHoldBatchKey(d.batchKey[:0], p.instance, tb.n, tb.salt)
			d.batchKey = key
		}
		if p.leases.Append(key, nil) == 0 {
			p.leaseDrops.Add(1)
		}
		n++
	}
	if n > 0 {
		clear(d.tombs[:n])
		d.tombs = d.tombs[n:]
		if len(d.tombs) == 0 {
			d.tombs = nil
		}
	}
}

// applyHoldBatch replays a hold batch record (either version): each item
// as a record of its number. A tombstone (the batch deleted) and this
// process's own batches change nothing. A batch replayed at start gets a
// tombstone once its holds have ended, in case its writer stopped before
// writing that itself.
func (p *Pools) applyHoldBatch(key, val []byte, now time.Time) error {
	if owner, ok := events.HoldBatchOwner(val); len(val) == 0 || ok && string(owner) == p.instance {
		p.leaseIgnored.Add(1)
		return nil
	}
	bad := 0
	var err error
	if events.HoldBatchVersion(val) == 1 {
		err = events.SplitHoldBatch(val, func(k, v []byte) {
			if events.IsHoldBatchKey(k) || p.applyLease(k, v, now) != nil {
				bad++
			}
		})
	} else {
		bad, err = events.ReadHoldBatch(val, func(k []byte, l *events.Lease) {
			if events.IsHoldBatchKey(k) || p.applyLeaseRecord(k, l, now) != nil {
				bad++
			}
		})
	}
	if p.Replaying() && p.leases != nil {
		d := &p.durable
		d.batchMu.Lock()
		d.tombs = append(d.tombs, tomb{key: append([]byte(nil), key...), at: now.UnixNano() + p.tombstoneAfter()})
		d.batchMu.Unlock()
	}
	if bad > 0 {
		p.badLeaseEvent.Add(uint64(bad))
	}
	return err
}
