package numbers

// OnLease makes every lease a win or billing notice makes (a fresh win,
// late or restored from a notice token — not a lease record replayed from
// the log, nor a repeated notice) call fn with the number and extension
// ("" for none; for a key pool the key), the bid's skill, the pool's
// channel ("" for numbers, else the pool's channel, e.g. "chat") and the
// publisher. The demo's simulated audience (ccsim.Sim.Won) uses it to call
// the numbers it won. fn runs on the notice's goroutine under the number's
// shard lock: it must not block or call back into Pools. Leases happen on
// notices, never on bids, so the bid path does not pay for it. Call OnLease
// before serving notices.
func (p *Pools) OnLease(fn func(number, ext, skill, channel, publisher string)) {
	p.onLease = fn
}

// leased passes entry i's new lease to OnLease's fn; the caller holds the
// entry's shard lock.
func (p *Pools) leased(i int32) {
	if p.onLease == nil {
		return
	}
	e := &p.entries[i]
	num, ext := p.numberOf(i)
	ch := ""
	if cfg := &p.poolOf(i).cfg; cfg.keyPool() {
		ch = cfg.Channel
	}
	p.onLease(num, ext, p.small.name(uint32(e.skill)), ch, p.ids.name(e.publisher))
}
