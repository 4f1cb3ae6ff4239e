package hitrate

import "math"

// The time to call under right truncation.
//
// A call d seconds after its win can only have been seen for wins at least
// d seconds old. While the oldest wins are younger than the longest delay
// (after start-up, for a center whose calls come up to half an hour after
// the win), the delays seen are the short ones; their plain histogram says
// the calls come soon, so young wins without a call read as failures and
// call rates fall 10–100× low. The arrival distribution is therefore
// estimated as a cumulative hazard (Nelson–Aalen): for each delay bin, the
// calls seen with that delay over the wins that have reached that age (the
// wins at risk),
//
//	Λ(a) = Σ_{bins ≤ a} calls(bin) / wins at risk(bin)
//
// which is the calls per win up to age a, whatever the age of the wins. Up
// to A, the oldest age a quarter of the wins have reached (older bins rest
// on few wins: one call there would swing Λ), F(a) = Λ(a) / (Λ(A) + tail),
// where tail is the calls per win still to come after A, which no data
// shows: the smaller of
//   - the prior's: cautious_call_rate × (1 − P(A)), with P the configured
//     time-to-call guess as a log-logistic distribution (median
//     time_to_call.default_mean, or the median of the delays seen when
//     that is longer; heavy-tailed, so a guess 10× too short still leaves
//     a tail), and
//   - the data's: the calls per win of the last doubling of age before A
//     (plus 0.3 of a call for Poisson noise), continued for up to three more
//     doublings (tailDoublings): a hazard still going at A goes on a while,
//     one that stopped (calls 2–30 s after the win, A = 60 s) is done;
//     blended with the prior's as k : tailTrust, k the calls seen, so a
//     single early call does not end the tail.
//
// Both shrink as the wins age; once wins older than time_to_call.max are
// at risk the tail is 0. Beyond A the tail is spread evenly over the log
// of age up to the horizon (scale-free: a wrong guess gives old wins no
// exposure they did not have). Until a call is seen, Λ = 0 and F = 0 up to
// A: young wins count as no exposure, so call rates stay at their cautious
// prior instead of collapsing. The median is that of the delays seen.

// riskFine is the age, seconds, below which wins are kept per second;
// older ones per riskCoarse seconds (bins there are wider than that).
const (
	riskFine   = 256
	riskCoarse = 16
)

// tailDoublings is how many doublings of age beyond the oldest wins a
// hazard still seen at their age is assumed to go on. Closed loop
// (README): 2 let the 6.5-minute run buy 1.68× capacity for 30 s; 4 cost
// the short runs a tenth of their calls in their first two minutes (calls
// 1–30 min after the win span five doublings, 2–30 s four).
const tailDoublings = 3

// minRiskShare is the least share of all wins a delay bin needs at risk to
// be estimated (older bins rest on a handful of wins: noise).
const minRiskShare = 0.25

// atRisk counts won impressions by the time they were won, so the wins
// that have reached any age are known.
type atRisk struct {
	fine    map[int64]float64 // unix second → wins, younger than riskFine
	coarse  map[int64]float64 // unix second / riskCoarse → wins, up to the horizon
	matured float64           // wins older than the horizon
	total   float64
}

func newAtRisk() *atRisk {
	return &atRisk{fine: map[int64]float64{}, coarse: map[int64]float64{}}
}

// add counts a win at unix second at, seen at now (a win from the future
// counts as won now).
func (r *atRisk) add(at, now int64, horizon float64) {
	at = min(at, now)
	age := float64(now - at)
	switch {
	case age > horizon:
		r.matured++
	case age >= riskFine:
		r.coarse[at/riskCoarse]++
	default:
		r.fine[at]++
	}
	r.total++
}

// age moves wins to coarser buckets as they age; the maps stay bounded by
// riskFine + horizon/riskCoarse entries.
func (r *atRisk) age(now int64, horizon float64) {
	for s, n := range r.fine {
		if now-s >= riskFine {
			r.coarse[s/riskCoarse] += n
			delete(r.fine, s)
		}
	}
	for b, n := range r.coarse {
		if float64(now-(b*riskCoarse+riskCoarse/2)) > horizon {
			r.matured += n
			delete(r.coarse, b)
		}
	}
}

// riskByBin fills risk[i] with the wins that have reached the ages of bin
// i (averaged over the bin) and returns the last bin with at least
// minRiskShare of the wins at risk (-1 when there is none).
func (d *delayDist) riskByBin(r *atRisk, now int64, risk *[ttcBins]float64) int {
	var full, part [ttcBins]float64
	put := func(age, n float64) {
		if age >= d.max {
			full[ttcBins-1] += n
			return
		}
		i := d.bin(age)
		start := 0.0
		if i > 0 {
			start = d.end(i - 1)
		}
		// Wins of this age are at risk for the ages of bin i below theirs.
		part[i] += n * min(max((age-start)/(d.end(i)-start), 0), 1)
		if i > 0 {
			full[i-1] += n
		}
	}
	for s, n := range r.fine {
		put(float64(now-s)+0.5, n)
	}
	for b, n := range r.coarse {
		put(float64(now-b*riskCoarse)-riskCoarse/2, n)
	}
	full[ttcBins-1] += r.matured
	last := -1
	suffix := 0.0
	minRisk := math.Max(1, minRiskShare*r.total)
	for i := ttcBins - 1; i >= 0; i-- {
		suffix += full[i]
		risk[i] = suffix + part[i]
		if last < 0 && risk[i] >= minRisk {
			last = i
		}
	}
	return last
}

// buildHazard builds F from the delays seen and the wins at risk (see the
// comment at the top of this file); prior is the time-to-call guess
// (median, seconds) and rate0 the cautious calls per win.
func (d *delayDist) buildHazard(r *atRisk, now int64, prior, rate0 float64) {
	var risk [ttcBins]float64
	last := d.riskByBin(r, now, &risk)
	var lam [ttcBins]float64
	cum := 0.0
	for i := 0; i <= last; i++ {
		if d.bins[i] > 0 && risk[i] > 0 {
			cum += d.bins[i] / math.Max(risk[i], d.bins[i])
		}
		lam[i] = cum
	}
	// The prior: log-logistic (shape 1) with median prior, truncated at
	// the horizon. Delays seen with a median above the guess refute it:
	// the median is then at least theirs (which, truncated at A, is below
	// the true one), so the prior's tail is not that of a guess the data
	// already shows too short. Closed loop (README), 500-agent run, seed
	// 2: calls 1–30 min after the win against a guess of a minute left the
	// prior's tail at 0.16 of the calls per win at A ≈ 5 min (the truth
	// 0.53), read the young wins 1.4× as exposed as they were, a 5%
	// publisher at 0.031, and bought 1.43× capacity for 30 s (now 1.11).
	seen := d.max
	if last >= 0 && lam[last] > 0 {
		seen = d.lamMedian(&lam, last)
		prior = math.Max(prior, seen)
	}
	pF := func(a float64) float64 {
		if a >= d.max {
			return 1
		}
		return (a / (a + prior)) / (d.max / (d.max + prior))
	}
	var A, F0 float64 // the oldest age estimated, and F there
	if last >= 0 {
		A = d.end(last)
		tail := 0.0
		if last < ttcBins-1 {
			half := d.bin(A/2) - 1
			lamHalf, riskHalf := 0.0, risk[max(half, 0)]
			if half >= 0 {
				lamHalf = lam[half]
			}
			dbl := math.Min(math.Log2(d.max/A), tailDoublings)
			data := (lam[last] - lamHalf + tailPseudo/math.Max(riskHalf, 1)) * dbl
			// The data's tail rests on the calls seen: with a handful,
			// one early call must not end the tail, so it is blended with
			// the prior's, the calls seen against tailTrust.
			pt := rate0 * (1 - pF(A))
			var k float64
			for i := 0; i <= last; i++ {
				k += d.bins[i]
			}
			data = (k*data + tailTrust*pt) / (k + tailTrust)
			tail = math.Min(pt, data)
		}
		if tot := lam[last] + tail; tot > 0 {
			F0 = lam[last] / tot
		}
	}
	var area, prev, start float64
	d.median = d.max
	for i := range ttcBins {
		end := d.end(i)
		var v float64
		switch {
		case i == ttcBins-1:
			v = 1
		case i <= last:
			if lam[last] > 0 {
				v = lam[i] / lam[last] * F0
			}
		default:
			// Beyond A the calls still to come are spread evenly over the
			// log of age up to the horizon: scale-free, so a wrong guess
			// of the time to call does not give old wins exposure.
			a0 := math.Max(A, ttcFirst)
			v = F0 + (1-F0)*math.Max(math.Log(end/a0), 0)/math.Log(d.max/a0)
		}
		v = math.Min(math.Max(v, prev), 1)
		area += d.setBin(i, prev, v, start, end)
		prev, start = v, end
	}
	d.mean = area
	// The median is that of the delays seen (the tail is a guess): slow
	// start ramps by it, and a center whose calls come in seconds shows
	// within seconds whether they come as predicted.
	if last >= 0 && lam[last] > 0 {
		d.median = seen
	}
}

// lamMedian is the age at which the cumulative hazard reaches half its
// value at bin last (lam[last] > 0): the median of the delays seen.
func (d *delayDist) lamMedian(lam *[ttcBins]float64, last int) float64 {
	prevL, start := 0.0, 0.0
	for i := 0; i <= last; i++ {
		if lam[i] >= lam[last]/2 {
			return start + (d.end(i)-start)*(lam[last]/2-prevL)/math.Max(lam[i]-prevL, 1e-300)
		}
		prevL, start = lam[i], d.end(i)
	}
	return d.end(last)
}

// tailPseudo is the calls added to the last doubling's for Poisson noise:
// a doubling that happened to see no call does not end the tail.
const tailPseudo = 0.3

// tailTrust is the weight, in calls seen, of the prior's tail against the
// data's. Closed loop (README): without it, a 500-agent run whose first
// call came early and alone (one call in 200 s) read its young wins as
// exposed and bought 2.04× capacity for 30 s; at 3 or 10 the 6.5-minute
// run answered 53–57 and 52–56 calls against 57–60 at 1 (target 0.85).
const tailTrust = 1.0
