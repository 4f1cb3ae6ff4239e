package numbers

// Knows reports whether the pools have reservation ref: its entry carries
// ref's generation (held, leased, cooling down, or freed by its own loss or
// expiry). A notice the bidder has seen before (its dedupe is replayed from
// callbid.impressions.v1 at start) is applied again only when the pools do
// not know its reservation: the process that took it died before the lease
// record was acknowledged. Fallback numbers are always known.
func (p *Pools) Knows(ref Ref) bool {
	idx, gen := uint32(ref>>32), uint32(ref)
	if idx == fallbackIdx || int64(idx) >= int64(len(p.entries)) {
		return true
	}
	i := int32(idx)
	s := p.shardOf(p.poolOf(i), i)
	s.mu.Lock()
	defer s.mu.Unlock()
	return p.entries[i].gen == gen
}
