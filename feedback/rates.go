package feedback

import (
	"math"
	"time"
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

	pending map[int64]float64 // unix minute → wins younger than the horizon

	// published estimates, refreshed by rebuildRatesLocked
	callRate  float64 // qualified calls per won impression
	anyRate   float64 // attributed calls (any) per won impression, for pacing
	closeRate float64
	effImp    float64 // decayed, delay-weighted impressions at the last rebuild
}

// weight is the forward-decay weight of an event at unix seconds t.
func (f *Feedback) weight(t float64) float64 {
	if !f.landSet {
		f.landmark, f.landSet = t, true
	}
	x := (t - f.landmark) / f.cfg.HalfLife.Seconds()
	if x > 400 {
		// Move the landmark forward before the weights overflow.
		f.renormLocked(t)
		x = 0
	}
	return math.Exp2(x)
}

func (f *Feedback) renormLocked(t float64) {
	s := math.Exp2(-(t - f.landmark) / f.cfg.HalfLife.Seconds())
	f.landmark = t
	for _, c := range f.cells {
		c.imp *= s
		c.calls *= s
		c.qual *= s
		c.sales *= s
		for h := range c.hImp {
			c.hImp[h] *= s
			c.hQual[h] *= s
		}
	}
}

func unixS(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func (f *Feedback) cellLocked(campaign, publisher string) *cell {
	k := pairKey{campaign, publisher}
	c := f.cells[k]
	if c == nil {
		c = &cell{campaign: campaign, publisher: publisher, pending: map[int64]float64{}}
		c.skill = f.campaigns[campaign].Skill
		p := f.priorLocked(campaign)
		c.callRate, c.anyRate, c.closeRate = p, p, f.priorCloseLocked(campaign)
		f.cells[k] = c
	}
	return c
}

func (f *Feedback) priorLocked(campaign string) float64 {
	if c, ok := f.campaigns[campaign]; ok && c.PriorCallRate > 0 {
		return c.PriorCallRate
	}
	return f.cfg.DefaultPriorCallRate
}

func (f *Feedback) priorCloseLocked(campaign string) float64 {
	if c, ok := f.campaigns[campaign]; ok && c.PriorClose > 0 {
		return c.PriorClose
	}
	return f.cfg.DefaultPriorClose
}

// addWinLocked adds one won impression at time at to the cell and to the
// skill's committed calls.
func (f *Feedback) addWinLocked(c *cell, at, now time.Time) {
	age := now.Sub(at)
	if age > f.cfg.TimeToCall.Max {
		w := f.weight(unixS(at))
		c.imp += w
		c.hImp[at.UTC().Hour()] += w
		return
	}
	c.pending[at.Unix()/60]++
	if c.skill == "" {
		return
	}
	p := f.skillPend[c.skill]
	if p == nil {
		p = map[int64]float64{}
		f.skillPend[c.skill] = p
	}
	p[at.Unix()/pendBucket] += c.anyRate
	f.addExpected(c.anyRate)
}

// rebuildRatesLocked refreshes the time-to-call distribution, matures old
// pending wins, recomputes every cell's posterior and publishes the
// hit-rate snapshot.
func (f *Feedback) rebuildRatesLocked(now time.Time) {
	f.lastRates = now
	f.arrive.build(f.cfg.TimeToCall.DefaultMean, f.cfg.TimeToCall.MinSamples)
	f.resolve.build(f.cfg.TimeToCall.DefaultResolveMean, f.cfg.TimeToCall.MinSamples)
	nowS := unixS(now)
	maxAge := f.cfg.TimeToCall.Max.Seconds()
	inv := 1 / f.weight(nowS) // may move the landmark, so before any other weight
	hour := now.UTC().Hour()
	s := f.cfg.PriorStrength
	snap := &rateSnap{factor: make(map[pairKey]float64, len(f.cells))}
	for k, c := range f.cells {
		var youngQ, youngA float64
		var youngH [24]float64
		for m, n := range c.pending {
			t := float64(m*60) + 30
			age := nowS - t
			if age > maxAge {
				w := f.weight(t)
				c.imp += n * w
				c.hImp[time.Unix(m*60, 0).UTC().Hour()] += n * w
				delete(c.pending, m)
				continue
			}
			w := n * f.weight(t)
			y := w * f.resolve.at(age)
			youngQ += y
			youngA += w * f.arrive.at(age)
			youngH[time.Unix(m*60, 0).UTC().Hour()] += y
		}
		// Qualification is known when the talk ends, arrival when the call
		// starts: each rate's denominator waits for its own delay.
		n := (c.imp + youngQ) * inv
		na := (c.imp + youngA) * inv
		prior := f.priorLocked(c.campaign)
		c.effImp = n
		c.callRate = (prior*s + c.qual*inv) / (s + n)
		sa := f.cfg.PacingPriorStrength
		c.anyRate = (prior*sa + c.calls*inv) / (sa + na)
		pc := f.priorCloseLocked(c.campaign)
		cs := f.cfg.ClosePriorStrength
		c.closeRate = (pc*cs + c.sales*inv) / (cs + c.qual*inv)
		// The hour bucket shrinks toward the publisher's all-hours rate.
		nh := (c.hImp[hour] + youngH[hour]) * inv
		rh := (c.callRate*s + c.hQual[hour]*inv) / (s + nh)
		if c.qual == 0 && n == 0 {
			continue // no evidence: the bid path's default 1 applies
		}
		fac := rh / prior
		fac = math.Min(math.Max(fac, f.cfg.MinFactor), f.cfg.MaxFactor)
		snap.factor[k] = fac
	}
	f.rates.Store(snap)
}

// ttcBins is the resolution of the delay histograms.
const ttcBins = 240

// delayDist is a delay distribution from a won impression to an event (the
// call's arrival, or the end of its talk, when it can be qualified): observed
// delays in equal bins up to the horizon, blended with a default
// exponential (truncated at the horizon) as n : minSamples, so F moves
// smoothly from the default to the data.
type delayDist struct {
	width float64 // seconds
	bins  [ttcBins]float64
	n     float64
	cdf   [ttcBins]float64 // F at the end of each bin
	mean  float64          // ∫(1−F), seconds
}

func (d *delayDist) init(max time.Duration) { d.width = max.Seconds() / ttcBins }

func (d *delayDist) add(x time.Duration) {
	i := int(x.Seconds() / d.width)
	if i < 0 || i >= ttcBins {
		return
	}
	d.bins[i]++
	d.n++
}

func (d *delayDist) build(defMean time.Duration, minSamples int) {
	maxS := d.width * ttcBins
	mean := defMean.Seconds()
	norm := 1 - math.Exp(-maxS/mean)
	m := float64(minSamples)
	var cum, area, prev float64
	for i := range ttcBins {
		cum += d.bins[i]
		end := float64(i+1) * d.width
		def := (1 - math.Exp(-end/mean)) / norm
		emp := 0.0
		if d.n > 0 {
			emp = cum / d.n
		}
		v := (d.n*emp + m*def) / (d.n + m)
		d.cdf[i] = v
		area += (1 - (prev+v)/2) * d.width
		prev = v
	}
	d.cdf[ttcBins-1] = 1
	d.mean = area
}

// at is F(age seconds), linearly interpolated between bins.
func (d *delayDist) at(age float64) float64 {
	if age <= 0 {
		return 0
	}
	x := age / d.width
	i := int(x)
	if i >= ttcBins {
		return 1
	}
	lo := 0.0
	if i > 0 {
		lo = d.cdf[i-1]
	}
	return lo + (d.cdf[i]-lo)*(x-float64(i))
}

// Rates returns the learned qualified-call rate and close rate of a
// campaign × publisher (the campaign priors when nothing was seen).
func (f *Feedback) Rates(campaignID, publisherID string) (callRate, closeRate float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.cells[pairKey{campaignID, publisherID}]; c != nil {
		return c.callRate, c.closeRate
	}
	return f.priorLocked(campaignID), f.priorCloseLocked(campaignID)
}
