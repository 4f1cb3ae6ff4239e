package numbers

// arena holds the attribution bytes (request, imp and bid ids, site or
// app) of one shard's entries in chunks of plain bytes, so that the entries
// slice has no pointers: with a []byte per entry, every GC cycle followed
// millions of pointers (≈ 200 ms of CPU per cycle for 2.3 million entries,
// stalling a one-core bidder's requests), and the chunks are never scanned.
// An entry keeps the slot it got (bufRef, bufCap) and gets a bigger one
// only when its ids outgrow it; the old slot is not reused, so a slot at
// least doubles when it grows (at most a few per entry: ids are clipped).
// Guarded by the shard's lock.
type arena struct {
	chunks [][]byte
	used   int // bytes taken from the last chunk
}

const (
	arenaChunkBits = 16
	arenaChunkMax  = 1 << arenaChunkBits // a slot's offset fits 16 bits
	arenaChunkMin  = 1 << 10
	maxSlot        = 4 * 1024 // four ids clipped to 1 KB each (clip)
)

// alloc returns the reference of a new slot of n ≤ maxSlot bytes.
func (a *arena) alloc(n int) uint32 {
	if len(a.chunks) == 0 || a.used+n > len(a.chunks[len(a.chunks)-1]) {
		size := arenaChunkMin
		if k := len(a.chunks); k > 0 {
			size = min(2*len(a.chunks[k-1]), arenaChunkMax)
		}
		a.chunks = append(a.chunks, make([]byte, size))
		a.used = 0
	}
	ref := uint32(len(a.chunks)-1)<<arenaChunkBits | uint32(a.used)
	a.used += n
	return ref
}

// slot returns the n bytes of slot ref.
func (a *arena) slot(ref uint32, n int) []byte {
	c := a.chunks[ref>>arenaChunkBits]
	off := int(ref & (arenaChunkMax - 1))
	return c[off : off+n : off+n]
}

// setBuf stores e's attribution ids in s's arena; the caller holds s.mu.
// Each id is at most 1024 bytes.
func setBuf[T ~string | ~[]byte](s *shard, e *entry, req, imp, bid, site T) {
	need := len(req) + len(imp) + len(bid) + len(site)
	e.reqLen, e.impLen, e.bidLen, e.siteLen = uint16(len(req)), uint16(len(imp)), uint16(len(bid)), uint16(len(site))
	if need == 0 {
		return // no slot needed (an entry without ids may have none)
	}
	if need > int(e.bufCap) {
		c := need
		if e.bufCap > 0 {
			c = max(c, 2*int(e.bufCap))
		}
		c = min((c+15)&^15, maxSlot)
		e.bufRef, e.bufCap = s.arena.alloc(c), uint16(c)
	}
	b := s.arena.slot(e.bufRef, need)[:0]
	b = append(b, req...)
	b = append(b, imp...)
	b = append(b, bid...)
	_ = append(b, site...)
}

// buf returns e's attribution ids, request | imp | bid | site; the caller
// holds s.mu.
func (s *shard) buf(e *entry) []byte {
	if e.bufCap == 0 {
		return nil
	}
	return s.arena.slot(e.bufRef, int(e.reqLen)+int(e.impLen)+int(e.bidLen)+int(e.siteLen))
}
