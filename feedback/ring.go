package feedback

import "sync/atomic"

// recordRing is the bounded queue of bid records from the bid path to the
// aggregator: many producers, one consumer, no lock (Vyukov's bounded
// queue: a slot's sequence number says whose turn it is). It replaced a
// buffered channel, whose send takes the channel's lock on every bid (the
// bid path takes no mutex) and which costs more than the claim and copy
// here. A full ring drops the record; the caller counts it.
type recordRing struct {
	slots []ringSlot
	mask  uint64
	_     [56]byte // head on its own cache line, away from the slice header
	head  atomic.Uint64
	_     [56]byte
	tail  uint64 // the aggregator's next slot; only it touches tail
}

type ringSlot struct {
	seq atomic.Uint64 // pos: free for the producer of pos; pos+1: holds pos's record
	r   record
}

// newRecordRing holds at least n records (a power of two, at least 2).
func newRecordRing(n int) *recordRing {
	size := uint64(2)
	for size < uint64(n) {
		size <<= 1
	}
	q := &recordRing{slots: make([]ringSlot, size), mask: size - 1}
	for i := range q.slots {
		q.slots[i].seq.Store(uint64(i))
	}
	return q
}

// put copies *r into the ring; false when it is full. Safe for any number
// of goroutines.
func (q *recordRing) put(r *record) bool {
	for {
		pos := q.head.Load()
		s := &q.slots[pos&q.mask]
		switch seq := s.seq.Load(); {
		case seq == pos:
			if q.head.CompareAndSwap(pos, pos+1) {
				s.r = *r
				s.seq.Store(pos + 1)
				return true
			}
		case seq < pos:
			return false // the slot still holds the record of pos − size: full
		}
		// Another producer claimed pos first; try the next one.
	}
}

// get moves the oldest record into *r; false when none is ready. Only the
// aggregator calls it.
func (q *recordRing) get(r *record) bool {
	s := &q.slots[q.tail&q.mask]
	if s.seq.Load() != q.tail+1 {
		return false
	}
	*r = s.r
	s.r = record{} // drop the campaign and skill strings' references
	s.seq.Store(q.tail + q.mask + 1)
	q.tail++
	return true
}
