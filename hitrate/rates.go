package hitrate

import (
	"math"
	"time"

	"github.com/callbid/callbid/channel"
)

// cell is the evidence for one campaign × publisher. Sums are forward-decayed
// (Cormode et al.): an event at t adds x·2^((t−landmark)/half-life), and a sum
// is read at now by multiplying with 2^(−(now−landmark)/half-life). That makes
// decay independent of arrival order, so replay and out-of-order events land
// on the same numbers.
type cell struct {
	campaign, publisher, skill string

	imp   float64 // matured won impressions (past the time-to-call horizon)
	calls float64 // attributed calls (any)
	qual  float64 // qualified calls
	sales float64 // sales, provisional ones at ProvisionalSaleCredit

	hImp, hQual [24]float64 // by hour of the impression (UTC)

	pending map[int64]pendWins // unix minute → wins younger than the horizon

	// published estimates, refreshed by rebuildRatesLocked
	callRate  float64 // qualified calls per won impression
	anyRate   float64 // attributed calls (any) per won impression, for pacing
	closeRate float64
	effImp    float64 // decayed, delay-weighted impressions at the last rebuild
	effAny    float64 // the same, weighted by the delay to the call's start
	// rel is the publisher's any-call rate relative to its campaign's,
	// shrunk to 1 (exchange_factor.prior_strength): a win on an exchange
	// counts as rel expected wins, so an exchange is not credited with the
	// publishers it sells (their own factor prices those).
	rel float64
}

// pendWins is one minute's young wins in pendParts parts of the minute:
// their count and the sum of their seconds within the minute. F is concave
// where calls come seconds after the win, so F of a whole minute's mean
// age overstates the share of its calls due (Jensen): wins spread over a
// minute would count as more exposure than they are, and call rates read
// low. Ten-second parts keep that error small.
type pendWins struct{ n, secs [pendParts]float32 } // float32: exact counts to 16M, 48 B a minute

// pendParts is the number of parts of a minute of young wins.
const pendParts = 6

// weight is the forward-decay weight of an event at unix seconds t.
func (h *HitRates) weight(t float64) float64 {
	if !h.landSet {
		h.landmark, h.landSet = t, true
	}
	x := (t - h.landmark) / h.cfg.HalfLife.Seconds()
	if x > 400 {
		// Move the landmark forward before the weights overflow.
		h.renormLocked(t)
		x = 0
	}
	return math.Exp2(x)
}

func (h *HitRates) renormLocked(t float64) {
	s := math.Exp2(-(t - h.landmark) / h.cfg.HalfLife.Seconds())
	h.landmark = t
	for _, c := range h.cells {
		c.imp *= s
		c.calls *= s
		c.qual *= s
		c.sales *= s
		for h := range c.hImp {
			c.hImp[h] *= s
			c.hQual[h] *= s
		}
	}
	for _, c := range h.exCells {
		c.imp *= s
		c.calls *= s
	}
}

func unixS(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func (h *HitRates) cellLocked(campaign, publisher string, ch channel.Channel) *cell {
	k := pairKey{campaign, publisher, ch}
	c := h.cells[k]
	if c == nil {
		c = &cell{campaign: campaign, publisher: publisher, pending: map[int64]pendWins{}}
		c.skill = h.campaigns[campaign].Skill
		p := h.priorLocked(campaign)
		c.callRate, c.anyRate, c.closeRate = p, h.cautiousRateLocked(campaign), h.priorCloseLocked(campaign)
		c.rel = 1
		h.cells[k] = c
	}
	return c
}

func (h *HitRates) priorLocked(campaign string) float64 {
	if c, ok := h.campaigns[campaign]; ok && c.PriorCallRate > 0 {
		return c.PriorCallRate
	}
	return h.cfg.DefaultPriorCallRate
}

func (h *HitRates) priorCloseLocked(campaign string) float64 {
	if c, ok := h.campaigns[campaign]; ok && c.PriorClose > 0 {
		return c.PriorClose
	}
	return h.cfg.DefaultPriorClose
}

// addWinLocked adds one won impression at time at to the cell.
func (h *HitRates) addWinLocked(c *cell, at, now time.Time) {
	age := now.Sub(at)
	if age > h.cfg.TimeToCall.Max {
		w := h.weight(unixS(at))
		c.imp += w
		c.hImp[at.UTC().Hour()] += w
		return
	}
	pw := c.pending[at.Unix()/60]
	sec := at.Unix() % 60
	part := sec * pendParts / 60
	pw.n[part]++
	pw.secs[part] += float32(sec)
	c.pending[at.Unix()/60] = pw
}

// rebuildRatesLocked refreshes the time-to-call distribution, matures old
// pending wins, recomputes every cell's posterior and publishes the
// hit-rate snapshot.
func (h *HitRates) rebuildRatesLocked(now time.Time) {
	h.lastRates = now
	h.buildArrivalsLocked(now)
	h.resolve.build(h.cfg.TimeToCall.DefaultResolveMean, h.cfg.TimeToCall.MinSamples)
	nowS := unixS(now)
	maxAge := h.cfg.TimeToCall.Max.Seconds()
	inv := 1 / h.weight(nowS) // may move the landmark, so before any other weight
	hour := now.UTC().Hour()
	s := h.cfg.PriorStrength
	snap := &rateSnap{factor: make(map[pairKey]float64, len(h.cells)), any: make(map[pairKey]float64, len(h.cells))}
	pool := make(map[string]poolSum, len(h.campaigns))
	for k, c := range h.cells {
		arrive := h.arriveFor(c.skill)
		var youngQ, youngA float64
		var youngH [24]float64
		for m, pw := range c.pending {
			hour := time.Unix(m*60, 0).UTC().Hour()
			if nowS-float64(m*60+60) > maxAge {
				for i, n := range pw.n {
					if n > 0 {
						w := h.weight(float64(m*60) + float64(pw.secs[i]/n))
						c.imp += float64(n) * w
						c.hImp[hour] += float64(n) * w
					}
				}
				delete(c.pending, m)
				continue
			}
			for i, n := range pw.n {
				if n == 0 {
					continue
				}
				// The wins' mean time within their part of the minute:
				// where calls come seconds after the win, the middle of
				// the minute would be off by up to half a minute of exposure.
				t := float64(m*60) + float64(pw.secs[i]/n)
				age := nowS - t
				w := float64(n) * h.weight(t)
				y := w * h.resolve.at(age)
				youngQ += y
				youngA += w * arrive.at(age)
				youngH[hour] += y
			}
		}
		// Qualification is known when the talk ends, arrival when the call
		// starts: each rate's denominator waits for its own delay.
		n := (c.imp + youngQ) * inv
		na := (c.imp + youngA) * inv
		prior := h.priorLocked(c.campaign)
		c.effImp, c.effAny = n, na
		c.callRate = (prior*s + c.qual*inv) / (s + n)
		// Pacing must not underestimate: a publisher with little evidence
		// is assumed to call at the cautious rate.
		// The cautious prior is already an upper bound of what a publisher
		// without evidence brings; the quantile keeps a publisher whose
		// first calls came few by chance from reading below it faster
		// than its evidence warrants, and is never above the larger of
		// the prior and the posterior mean.
		cr := h.cautiousRateLocked(c.campaign)
		a0, b0 := h.pacingPriorLocked(cr)
		a, b := a0+c.calls*inv, b0+na
		c.anyRate = a / b
		if h.pacingZ > 0 {
			c.anyRate = math.Min(gammaUpper(a, b, h.pacingZ), math.Max(a/b, cr))
		}
		ps := pool[c.campaign]
		ps.calls += c.calls * inv
		ps.wins += na
		pool[c.campaign] = ps
		pc := h.priorCloseLocked(c.campaign)
		cs := h.cfg.ClosePriorStrength
		c.closeRate = (pc*cs + c.sales*inv) / (cs + c.qual*inv)
		// The hour bucket shrinks toward the publisher's rate in the other
		// hours, so the current hour's evidence is counted once.
		nh := (c.hImp[hour] + youngH[hour]) * inv
		qh := c.hQual[hour] * inv
		rest := (prior*s + c.qual*inv - qh) / (s + math.Max(n-nh, 0))
		rh := (rest*s + qh) / (s + nh)
		if c.qual == 0 && n == 0 {
			continue // no evidence: the bid path's default 1 applies
		}
		fac := rh / prior
		fac = math.Min(math.Max(fac, h.cfg.MinFactor), h.cfg.MaxFactor)
		snap.factor[k] = fac
	}
	// Bids are priced with the new any-call rates from now on (the map is
	// rebuilt here, where the rates change). The pools price new
	// publishers from this rebuild on.
	es := h.cfg.ExchangeFactor.PriorStrength
	sa := h.cfg.PacingPriorStrength
	for k, c := range h.cells {
		snap.any[k] = c.anyRate
		c.rel = 1
		if ps := pool[c.campaign]; ps.calls > 0 && ps.wins > 0 {
			c.rel = (es + c.calls*inv) / (es + ps.calls/ps.wins*c.effAny)
		}
	}
	h.pooled = make(map[string]float64, len(pool))
	for id, ps := range pool {
		h.pooled[id] = (h.cfg.CautiousCallRate*sa + ps.calls) / (sa + ps.wins)
	}
	h.rebuildExchangesLocked(snap, now, inv)
	h.publishLocked(snap)
}

// pacingPriorLocked is the Gamma prior (shape a0 in pseudo-calls, rate b0
// in pseudo-wins) of the any-call rate pacing charges, with mean cr: the
// configured cautious prior's weight in calls (cautious_call_rate ×
// pacing_prior_strength, 1 by default), whatever its mean. Weighing it in
// wins instead (pacing_prior_strength wins at cr) left it worth 0.4 of a
// call once the campaign's pooled rate brought cr down to 0.02, and a
// publisher's first wins, too few to expect a call even at the truth,
// drove its rate 5× low: the closed loop's 500-agent run (seed 49) priced
// its 1% publisher at 0.002 after 0 calls from 165 wins' worth of exposure
// (1.65 calls expected at the truth) and bought 1.53× capacity for 30 s.
func (h *HitRates) pacingPriorLocked(cr float64) (a0, b0 float64) {
	sa := h.cfg.PacingPriorStrength
	a0 = h.cfg.CautiousCallRate * sa
	if !(cr > 0) || !(a0 > 0) {
		return cr * sa, sa
	}
	return a0, a0 / cr
}

// ttcBins is the number of bins of the delay histograms.
const ttcBins = 256

// ttcFirst is the end of the first bin, seconds: delays are resolved from
// about a second up to the horizon.
const ttcFirst = 1.0

// delayDist is a delay distribution from a won impression to an event (the
// call's arrival, or the end of its talk, when it can be qualified):
// observed delays in log-spaced bins from a second up to the horizon (each
// bin ~4% wider than the last over a 2 h horizon, so 5 s and 50 min are
// resolved alike), blended with a default exponential (truncated at the
// horizon) as n : minSamples, so F moves smoothly from the default to the data.
type delayDist struct {
	max    float64 // horizon, seconds
	logR   float64 // log of the ratio between consecutive bin ends
	bins   [ttcBins]float64
	n      float64
	cdf    [ttcBins]float64 // F at the end of each bin
	mean   float64          // ∫(1−F), seconds
	median float64          // seconds
	ends   [ttcBins]float64 // upper edge of each bin, seconds
}

func (d *delayDist) init(max time.Duration) {
	d.max = math.Max(max.Seconds(), 2*ttcFirst)
	d.logR = math.Log(d.max/ttcFirst) / (ttcBins - 1)
	for i := range ttcBins - 1 {
		d.ends[i] = ttcFirst * math.Exp(float64(i)*d.logR)
	}
	d.ends[ttcBins-1] = d.max
}

// end is the upper edge of bin i, seconds.
func (d *delayDist) end(i int) float64 { return d.ends[min(i, ttcBins-1)] }

// bin is the index of the bin holding x seconds (x ≥ 0, ≤ max).
func (d *delayDist) bin(x float64) int {
	if x <= ttcFirst {
		return 0
	}
	i := int(math.Ceil(math.Log(x/ttcFirst)/d.logR - 1e-9))
	return min(max(i, 0), ttcBins-1)
}

func (d *delayDist) add(x time.Duration) {
	s := x.Seconds()
	if s < 0 || s > d.max {
		return
	}
	d.bins[d.bin(s)]++
	d.n++
}

func (d *delayDist) build(defMean time.Duration, minSamples int) {
	mean := defMean.Seconds()
	norm := 1 - math.Exp(-d.max/mean)
	m := float64(minSamples)
	var cum, area, prev, start float64
	d.median = d.max
	for i := range ttcBins {
		cum += d.bins[i]
		end := d.end(i)
		def := (1 - math.Exp(-end/mean)) / norm
		emp := 0.0
		if d.n > 0 {
			emp = cum / d.n
		}
		v := (d.n*emp + m*def) / (d.n + m)
		if i == ttcBins-1 {
			v = 1
		}
		area += d.setBin(i, prev, v, start, end)
		prev, start = v, end
	}
	d.mean = area
}

// arriveFor is the time-to-call distribution of a skill: its own once it
// has calls (skills' delays differ by orders of magnitude), else all skills'.
func (h *HitRates) arriveFor(skill string) *delayDist {
	if d := h.arriveBy[skill]; d != nil {
		return d
	}
	return &h.arrive
}

// addArrivalDelayLocked records a won→call delay for all skills and the skill's own.
func (h *HitRates) addArrivalDelayLocked(skill string, x time.Duration) {
	h.arrive.add(x)
	if d, _ := h.skillDelayLocked(skill); d != nil {
		d.add(x)
	}
}

// skillDelayLocked returns the skill's delay distribution and wins at
// risk, created on its first win or call (nil for no skill or beyond
// maxDelaySkills).
func (h *HitRates) skillDelayLocked(skill string) (*delayDist, *atRisk) {
	if skill == "" {
		return nil, nil
	}
	d := h.arriveBy[skill]
	if d == nil {
		if len(h.arriveBy) >= maxDelaySkills {
			return nil, nil
		}
		d = &delayDist{}
		d.init(h.cfg.TimeToCall.Max)
		h.arriveBy[skill] = d
		h.riskBy[skill] = newAtRisk()
	}
	return d, h.riskBy[skill]
}

// addRiskLocked counts a win of skill at time at among the wins at risk.
func (h *HitRates) addRiskLocked(skill string, at, now time.Time) {
	hz := h.cfg.TimeToCall.Max.Seconds()
	h.risk.add(at.Unix(), now.Unix(), hz)
	if _, r := h.skillDelayLocked(skill); r != nil {
		r.add(at.Unix(), now.Unix(), hz)
	}
}

// buildArrivalsLocked rebuilds the time-to-call distributions at now from
// the delays seen and the wins at risk (atrisk.go).
func (h *HitRates) buildArrivalsLocked(now time.Time) {
	hz := h.cfg.TimeToCall.Max.Seconds()
	prior, rate0 := h.cfg.TimeToCall.DefaultMean.Seconds(), h.cfg.CautiousCallRate
	t := now.Unix()
	build := func(d *delayDist, r *atRisk) {
		r.age(t, hz)
		if r.total == 0 && d.n > 0 {
			// Delays fed without their wins (a learner of delays alone,
			// as reports' projection test feeds it): the histogram,
			// blended with the default exponential.
			d.build(h.cfg.TimeToCall.DefaultMean, h.cfg.TimeToCall.MinSamples)
			return
		}
		d.buildHazard(r, t, prior, rate0)
	}
	build(&h.arrive, h.risk)
	for s, d := range h.arriveBy {
		build(d, h.riskBy[s])
	}
}

// maxDelaySkills bounds the per-skill delay models.
const maxDelaySkills = 1000

// setBin stores the distribution's value v at the end of bin i (spanning
// start..end, prev at its start), notes the median if it falls in the bin,
// and returns the bin's share of the mean (the area above the CDF).
func (d *delayDist) setBin(i int, prev, v, start, end float64) float64 {
	d.cdf[i] = v
	if prev < 0.5 && v >= 0.5 && v > prev {
		d.median = start + (end-start)*(0.5-prev)/(v-prev)
	}
	return (1 - (prev+v)/2) * (end - start)
}

// at is F(age seconds), linearly interpolated within a bin.
func (d *delayDist) at(age float64) float64 {
	if age <= 0 {
		return 0
	}
	if age >= d.max {
		return 1
	}
	i := d.bin(age)
	lo, start := 0.0, 0.0
	if i > 0 {
		lo, start = d.cdf[i-1], d.end(i-1)
	}
	end := d.end(i)
	if end <= start {
		return d.cdf[i]
	}
	return lo + (d.cdf[i]-lo)*min(max((age-start)/(end-start), 0), 1)
}

// CallRates returns the learned qualified-call rate and close rate of a
// campaign × publisher (the campaign priors when nothing was seen).
func (h *HitRates) CallRates(campaignID, publisherID string) (callRate, closeRate float64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c := h.cells[pairKey{campaignID, publisherID, channel.Voice}]; c != nil {
		return c.callRate, c.closeRate
	}
	return h.priorLocked(campaignID), h.priorCloseLocked(campaignID)
}

// gammaUpper is the upper quantile (z standard deviations of the normal it
// is mapped to) of a Gamma(shape a, rate b) posterior of a Poisson rate, by
// the Wilson–Hilferty cube-root approximation (within 2% of the exact
// quantile for shapes ≥ 1 at z ≤ 2.3; the cautious prior alone gives a
// shape of cautious_call_rate × pacing_prior_strength = 1 by default).
// With a shape of k calls the bound is about 1 + z/√k times the mean.
func gammaUpper(a, b, z float64) float64 {
	if !(a > 0) || !(b > 0) {
		return 0
	}
	x := 1 - 1/(9*a) + z/(3*math.Sqrt(a))
	return a / b * x * x * x
}
