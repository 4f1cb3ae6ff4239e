package pacing

import (
	"math"
	"sync/atomic"
	"time"
)

// Participation control: pacing's actuator on volume, per skill.
//
// Lowering the price does not lower the calls bought where winning does not
// depend on price, so each skill has a token bucket of expected calls. The
// controller tick refills it at
//
//	refill = L · target · B − excess                      (calls/min, ≥ 0)
//
// where B is the budget for bought calls (λ_max − organic calls − backlog,
// from capacity), L the slow-start participation level, and excess the part
// of the calls already in flight that is due within the horizon above what
// target·B allows. Every bid spends its expected calls,
//
//	cost = p_win(exchange) · rate(campaign, publisher)
//
// with p_win the exchange's wins per bid and rate the publisher's attributed
// calls per won impression, both from cautious (high) priors so a new
// exchange or publisher cannot flood the center. The bid path bids while
// the bucket is above zero (Admit) and spends in RecordBid: a bucket may go
// below zero by the bids in flight at once, never by more.
//
// In flight, per skill: held bids (no win or loss known yet, for
// participation.notice_window) × p_win × rate, plus won impressions × rate ×
// the share of their calls still to come (1 − F(age)). Bids reach it from
// the bid path (RecordBid) and wins from the notice handler in-process
// (Tee); Kafka only replays them after a restart or brings other instances'.
//
// Slow start. L starts at participation.slow_start after start-up and when a
// skill comes back from no capacity; a drop of the budget by more than
// participation.drop scales L down with it (not below slow_start) and
// empties the bucket as soon as the bid path sees it (Admit). L doubles every ramp period (the median time to
// call, within 1–60 s: a center whose calls come seconds after the win sees
// within seconds whether they come as predicted) while the calls seen since then do not exceed those
// predicted by more than a quarter (plus three calls for Poisson noise).

// lambdaMaxer is the optional capacity fact slow start watches for drops
// (*capacity.Model).
type lambdaMaxer interface {
	LambdaMax(skill string) float64
}

// gate is one skill's bucket. tokens, admitted and skipped are touched by
// the bid path with atomics; the rest belongs to the controller (under mu).
type gate struct {
	tokens   atomic.Int64 // micro-calls that may still be bought; bids while > 0
	admitted atomic.Uint64
	skipped  atomic.Uint64
	// voidBelow holds the float64 bits of the λ_max (calls/min) under which
	// the tokens in the bucket were earned under another staffing: a drop
	// by more than participation.drop since the last tick. Admit then
	// empties the bucket at once instead of spending it until the next
	// tick (0: no capacity fact to compare with).
	voidBelow atomic.Uint64

	level      float64 // slow-start participation L in (0,1]
	share      float64 // this instance's share of the buying (Share)
	refill     float64 // calls/min at the last tick
	budget     float64 // B at the last tick, calls/min
	budgetAvg  float64 // reference capacity (λ_max, else B) for drop detection
	excess     float64 // calls/min in flight beyond the budget within the horizon
	inflight   float64 // expected calls bought and not yet arrived (held + won)
	held       float64 // the held-bid part of it
	bought     float64 // expected calls of every bid recorded (cumulative)
	dueH       float64 // of which due within the horizon
	predicted  float64 // calls predicted to arrive since the last reset
	observed   float64 // attributed calls seen since the last reset
	lastReset  time.Time
	resets     uint64
	heldByS    map[int64]float64 // unix second → expected calls of held bids
	wonByS     map[int64]float64 // unix second → expected calls of wins in the notice window
	hadBudget  bool
	calledOnce bool
}

// partSnap is what RecordBid reads to price a bid in expected calls.
type partSnap struct {
	gates   map[string]*gate   // by skill
	pwin    map[string]float64 // by exchange
	pwinDef float64            // an exchange not seen yet
}

// exStat is one exchange's win evidence: bids older than the notice window
// (by then a win would be known) and wins, both decaying with half-life
// participation.win_half_life so the estimate follows the market.
type exStat struct {
	bids, wins  float64
	at          float64           // unix seconds the sums were decayed to
	recent      map[int64]float64 // unix second → bids not yet matured
	recentWins  map[int64]float64 // unix second → wins within the notice window
	recentWinsN float64           // their sum at the last tick
}

// Admit reports whether a bid of skill may be made now: false when buying
// would exceed the calls the skill's agents can take (no bid, nbr 500). One
// atomic load and one map lookup, no allocation.
//
// Tokens earned under one staffing are not spent under a smaller one: when
// the skill's λ_max has dropped (by more than participation.drop) since the
// last tick, the bucket is emptied and the bid skipped; the next tick
// refills it at the new capacity. Without this the bucket's burst (up to
// participation.burst of the old refill) and the bids until the tick were
// bought on the old capacity: in the closed loop's 30 → 12 agent drop that
// was about a tenth of the calls bought in the 30 s after it.
func (p *Pacer) Admit(skill string) bool {
	g := p.part.Load().gates[skill]
	if g == nil {
		return true
	}
	if g.tokens.Load() > 0 {
		if v := math.Float64frombits(g.voidBelow.Load()); v > 0 && p.lm != nil && p.lm.LambdaMax(skill) < v {
			g.tokens.Store(0)
			g.skipped.Add(1)
			return false
		}
		g.admitted.Add(1)
		return true
	}
	g.skipped.Add(1)
	return false
}

// Charge charges a bid's expected calls to its skill's bucket and returns
// them (0 when the skill is not controlled): p_win(exchange) × the
// publisher's calls per win. The bid path calls it (through the feed's
// RecordBid) for every bid; 0 allocations, no lock.
func (p *Pacer) Charge(campaignID, skill, publisherID, exchange string) float64 {
	ps := p.part.Load()
	g := ps.gates[skill]
	if g == nil {
		return 0
	}
	pw, ok := ps.pwin[exchange]
	if !ok {
		pw = ps.pwinDef
	}
	c := pw * p.rates.CallsPerWin(campaignID, publisherID)
	g.tokens.Add(-int64(c * 1e6))
	return c
}

// pwinLocked is the exchange's win probability from the cautious prior.
func (p *Pacer) pwinLocked(e *exStat) float64 {
	pc := p.cfg.Participation
	if e == nil {
		return pc.WinPrior
	}
	// A win settles its bid before the notice window has passed: the bids
	// of recent wins count as resolved too, or a growing bid rate would
	// read as a high win rate.
	return math.Min(1, (e.wins+pc.WinPrior*pc.WinPriorStrength)/(e.bids+e.recentWinsN+pc.WinPriorStrength))
}

// exchangeLocked returns the exchange's evidence, decayed to t.
func (p *Pacer) exchangeLocked(name string, t float64) *exStat {
	e := p.exch[name]
	if e == nil {
		if len(p.exch) >= maxExchanges {
			return nil
		}
		e = &exStat{at: t, recent: map[int64]float64{}, recentWins: map[int64]float64{}}
		p.exch[name] = e
	}
	if t > e.at {
		k := math.Exp2(-(t - e.at) / p.cfg.Participation.WinHalfLife.Seconds())
		e.bids *= k
		e.wins *= k
		e.at = t
	}
	return e
}

// maxExchanges bounds the exchanges tracked (the bidder already folds
// unknown names into "other" beyond 64).
const maxExchanges = 256

// bidFoldLocked is the aggregator's part of n bids within one second, the
// latest at at, whose positive costs sum to cost: exchange evidence and the
// skill's held bids.
func (p *Pacer) bidFoldLocked(exchange, skill string, at, n int64, cost float64) {
	t := float64(at) / 1e9
	if e := p.exchangeLocked(exchange, t); e != nil {
		e.recent[at/1e9] += float64(n)
	}
	if g := p.gateMap[skill]; g != nil && cost > 0 {
		g.heldByS[at/1e9] += cost
		g.bought += cost
	}
}

// winFoldLocked counts a win for its exchange.
func (p *Pacer) winFoldLocked(exchange string, at time.Time) {
	if e := p.exchangeLocked(exchange, unixS(at)); e != nil {
		e.wins++
		e.recentWins[at.Unix()]++
	}
}

// participateLocked updates every gate at now: matures exchange evidence,
// refills buckets and publishes the snapshot RecordBid prices bids with.
// budget maps skill → B (calls/min; NaN when pacing has no capacity view).
func (p *Pacer) participateLocked(now time.Time, dt float64, budget map[string]float64) {
	pc := p.cfg.Participation
	nowS := unixS(now)
	win := pc.NoticeWindow.Seconds()
	ps := &partSnap{gates: p.gateMap, pwin: make(map[string]float64, len(p.exch)), pwinDef: pc.WinPrior}
	for name, e := range p.exch {
		e = p.exchangeLocked(name, nowS)
		for s, n := range e.recent {
			if float64(s)+1 <= nowS-win {
				e.bids += n * math.Exp2(-(nowS-float64(s))/pc.WinHalfLife.Seconds())
				delete(e.recent, s)
			}
		}
		e.recentWinsN = 0
		for s, n := range e.recentWins {
			if float64(s)+1 <= nowS-win {
				delete(e.recentWins, s)
				continue
			}
			e.recentWinsN += n
		}
		ps.pwin[name] = p.pwinLocked(e)
	}
	share := 1.0
	if p.share != nil {
		share = min(max(p.share.Share(), 0), 1)
	}
	horizon := pc.Horizon.Seconds()
	for skill, g := range p.gateMap {
		arrive := p.rates.Arrival(skill)
		ramp := math.Min(math.Max(arrive.Median(), 1), 60)
		// Held bids: a win or a loss is known within the notice window. The
		// wins among them are already counted as won impressions, so their
		// expected calls come off the held total (in expectation the held
		// bids of settled auctions then add nothing).
		g.held = 0
		for s, v := range g.heldByS {
			if float64(s)+1 <= nowS-win {
				delete(g.heldByS, s)
				continue
			}
			g.held += v
		}
		for s, v := range g.wonByS {
			if float64(s)+1 <= nowS-win {
				delete(g.wonByS, s)
				continue
			}
			g.held -= v
		}
		g.held = math.Max(g.held, 0)
		won, due, pred := p.inflightLocked(skill, now, horizon, dt)
		g.inflight = g.held + won
		g.dueH = g.held*arrive.At(horizon) + due
		g.predicted += pred
		B, ok := budget[skill]
		if !ok || math.IsNaN(B) || pc.Disabled {
			g.refill = math.Inf(1)
			g.tokens.Store(math.MaxInt64 / 2)
			continue
		}
		B = math.Max(B, 0)
		target := p.cfg.Pacing.Target * B
		// Capacity (λ_max) drops are staffing facts; the budget also moves
		// with organic calls, which is noise here. Without the fact, the
		// budget stands in for it.
		capNow := B
		if p.lm != nil {
			capNow = p.lm.LambdaMax(skill)
		}
		// Restart slow start on the first tick, on a return from no
		// capacity, and on a drop of capacity.
		switch {
		case !g.calledOnce:
			p.resetGateLocked(g, now)
			g.budgetAvg = capNow
		case capNow <= 0:
			g.hadBudget = false
		case !g.hadBudget:
			p.resetGateLocked(g, now)
			g.budgetAvg = capNow
		case capNow < (1-pc.Drop)*g.budgetAvg:
			// A drop scales participation down with it (at least to the
			// slow-start level) and restarts the check against arrivals.
			l := g.level * capNow / g.budgetAvg
			p.resetGateLocked(g, now)
			g.level = math.Max(l, pc.SlowStart)
			g.budgetAvg = capNow
		}
		g.calledOnce = true
		if capNow > 0 {
			g.hadBudget = true
		}
		// The reference follows rises quickly and falls slowly, so a drop
		// is measured against the level before it.
		k := math.Min(1, dt/60)
		if capNow > g.budgetAvg {
			k = math.Min(1, dt/10)
		}
		g.budgetAvg += k * (capNow - g.budgetAvg)
		if p.lm != nil {
			g.voidBelow.Store(math.Float64bits((1 - pc.Drop) * g.budgetAvg))
		}
		if g.observed <= 1.25*g.predicted+3 {
			g.level = math.Min(1, g.level*math.Exp2(dt/ramp))
		}
		g.budget = B
		g.excess = math.Max(0, g.dueH/horizon*60-target)
		// With shared pools every instance sees every win and call, so the
		// budget and the calls in flight are the whole center's; each buys
		// its share of what may be bought.
		g.share = share
		g.refill = share * math.Max(0, g.level*target-g.excess)
		add := int64(g.refill / 60 * dt * 1e6)
		ceil := int64(g.refill / 60 * math.Max(pc.Burst.Seconds(), dt) * 1e6)
		if v := g.tokens.Add(add); v > ceil {
			// Racing bids may spend in between; losing one CAS only leaves
			// the bucket a little fuller than the ceiling until next tick.
			g.tokens.CompareAndSwap(v, ceil)
		}
		if B <= 0 {
			if v := g.tokens.Load(); v > 0 {
				g.tokens.CompareAndSwap(v, 0)
			}
		}
	}
	p.part.Store(ps)
}

func (p *Pacer) resetGateLocked(g *gate, now time.Time) {
	g.level = p.cfg.Participation.SlowStart
	g.predicted, g.observed = 0, 0
	g.lastReset = now
	g.resets++
}

// inflightLocked returns, for skill at now, the expected calls of won
// impressions not yet arrived, those due within horizon seconds, and those
// predicted to have arrived during the last dt seconds.
func (p *Pacer) inflightLocked(skill string, now time.Time, horizon, dt float64) (won, due, pred float64) {
	nowS := unixS(now)
	arrive := p.rates.Arrival(skill)
	for b, v := range p.skillPend[skill] {
		age := nowS - (float64(b)+0.5)*pendBucket
		if age < 0 {
			age = 0
		}
		fa := arrive.At(age)
		won += v * (1 - fa)
		due += v * (arrive.At(age+horizon) - fa)
		pred += v * (fa - arrive.At(age-dt))
	}
	return won, due, pred
}

// setGatesLocked keeps one gate per campaign skill (on SetCampaigns).
func (p *Pacer) setGatesLocked() {
	m := make(map[string]*gate, len(p.skills))
	for _, s := range p.skills {
		g := p.gateMap[s]
		if g == nil {
			g = &gate{level: p.cfg.Participation.SlowStart, heldByS: map[int64]float64{}, wonByS: map[int64]float64{}}
		}
		m[s] = g
	}
	p.gateMap = m
	old := p.part.Load()
	ps := &partSnap{gates: m, pwinDef: p.cfg.Participation.WinPrior}
	if old != nil {
		ps.pwin = old.pwin
	}
	p.part.Store(ps)
}

// observeArrivalLocked counts an attributed call of skill for slow start.
func (p *Pacer) observeArrivalLocked(skill string, started time.Time) {
	if g := p.gateMap[skill]; g != nil && !started.Before(g.lastReset) {
		g.observed++
	}
}
