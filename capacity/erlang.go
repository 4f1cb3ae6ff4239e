package capacity

import "math"

// erlangB is the Erlang-B blocking probability for n servers and offered load
// a (Erlangs), by the recursion B(0)=1, B(k)=a·B(k−1)/(k+a·B(k−1)), which
// stays in [0,1] and never overflows (unlike the factorial form).
func erlangB(n int, a float64) float64 {
	b := 1.0
	for k := 1; k <= n; k++ {
		ab := a * b
		b = ab / (float64(k) + ab)
	}
	return b
}

// erlangC is the probability that a call waits: C = n·B / (n − a·(1 − B)).
// It is 1 when the load reaches the servers (a ≥ n): the queue never empties.
func erlangC(n int, a float64) float64 {
	if n <= 0 || a >= float64(n) {
		return 1
	}
	if a <= 0 {
		return 0
	}
	b := erlangB(n, a)
	return float64(n) * b / (float64(n) - a*(1-b))
}

// serviceLevel is the share of calls answered within t seconds for n agents,
// load a and average handle time aht seconds:
// SL(t) = 1 − C(n,a)·exp(−(n−a)·t/aht).
func serviceLevel(n int, a, t, aht float64) float64 {
	if n <= 0 || a >= float64(n) {
		return 0
	}
	return 1 - erlangC(n, a)*math.Exp(-(float64(n)-a)*t/aht)
}

// slParams are the service-level inputs that do not change per skill.
type slParams struct {
	target       float64 // share answered within answerTime, e.g. 0.80
	answerTime   float64 // seconds, e.g. 20
	maxOccupancy float64 // a/n cap, e.g. 0.85
}

// lambdaMax is the largest arrival rate (calls per minute) that n agents with
// average handle time aht seconds can take while SL(answerTime) ≥ target and
// occupancy a/n ≤ maxOccupancy. SL falls monotonically with the load, so the
// largest load is found by bisection on a in [0, n·maxOccupancy].
func lambdaMax(n int, aht float64, p slParams) float64 {
	if n <= 0 || !(aht > 0) {
		return 0
	}
	hi := float64(n) * p.maxOccupancy
	if serviceLevel(n, hi, p.answerTime, aht) >= p.target {
		return hi / aht * 60 // the occupancy cap binds first
	}
	lo := 0.0
	if serviceLevel(n, lo, p.answerTime, aht) < p.target {
		// Even an idle team misses the target (answer time far below AHT
		// with very few agents): no load is acceptable.
		return 0
	}
	// 1e-6 Erlang is far below anything a bid could notice; ~40 steps at most.
	for hi-lo > 1e-6*math.Max(1, hi) {
		mid := (lo + hi) / 2
		if serviceLevel(n, mid, p.answerTime, aht) >= p.target {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo / aht * 60
}
