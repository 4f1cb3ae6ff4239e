package pacing

import (
	"strings"
	"time"
)

// Other instances' bids (kafka.shared_pools). Every instance reads every
// instance's wins (Win), but its own bids only reach Bid. Two things went
// wrong with only those: p_win = wins / bids counted N instances' wins over
// one instance's bids (N times too high, so every bid was charged up to N
// times its expected calls), and the held bids in flight were this
// instance's alone while B and the won impressions are the whole
// center's. Each bid reserves a number, and every instance reads the hold
// records the others write to the lease log (numbers.Pools.OnOtherHold),
// so OtherBid folds them in as bids: one more bid of the exchange and, at
// this instance's price for it (p_win × calls per win), a held bid of the
// skill, settled like the instance's own by the other instances' wins
// (Win) or the notice window. expected_calls_bought stays this instance's.

// OtherBid counts a bid another instance made at at: a hold record of
// campaign × publisher on exchange for skill, read at now. Bids older
// than the notice window (a replayed lease log) are settled already and
// change nothing. Called on the lease consumer's goroutine; copies the
// strings it keeps.
func (p *Pacer) OtherBid(campaignID, skill, publisherID, exchange string, at, now time.Time) {
	win := p.cfg.Participation.NoticeWindow
	if d := now.Sub(at); d >= win || d < -win {
		return
	}
	cost := 0.0
	if ps := p.part.Load(); ps.gates[skill] != nil {
		pw, ok := ps.pwin[exchange]
		if !ok {
			pw = ps.pwinDef
		}
		cost = pw * p.rates.CallsPerWin(campaignID, publisherID)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.others = true
	if _, ok := p.exch[exchange]; !ok {
		exchange = strings.Clone(exchange) // kept as the map key
	}
	if e := p.exchangeLocked(exchange, unixS(at)); e != nil {
		e.recent[at.Unix()]++
	}
	if g := p.gateMap[skill]; g != nil && cost > 0 {
		g.heldByS[at.Unix()] += cost
	}
}
