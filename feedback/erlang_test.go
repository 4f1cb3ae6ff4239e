package feedback

import (
	"math"
	"testing"
)

// A tiny Erlang C for the simulation test (the capacity package owns the
// real one; the test must not import it).

// erlangC is the probability that a call waits, for n agents and offered
// load a Erlangs, via the stable Erlang-B recursion.
func erlangC(n int, a float64) float64 {
	if a >= float64(n) {
		return 1
	}
	b := 1.0
	for k := 1; k <= n; k++ {
		b = a * b / (float64(k) + a*b)
	}
	return float64(n) * b / (float64(n) - a*(1-b))
}

// serviceLevel is the share of calls answered within t seconds.
func serviceLevel(n int, lambdaPerMin, ahtSec, t float64) float64 {
	a := lambdaPerMin / 60 * ahtSec
	if a >= float64(n) {
		return 0
	}
	return 1 - erlangC(n, a)*math.Exp(-(float64(n)-a)*t/ahtSec)
}

// lambdaMax is the largest arrival rate (calls/min) that keeps the service
// level at target and occupancy at most rhoMax, by bisection.
func lambdaMax(n int, ahtSec, t, target, rhoMax float64) float64 {
	lo, hi := 0.0, float64(n)*rhoMax*60/ahtSec
	if serviceLevel(n, hi, ahtSec, t) >= target {
		return hi
	}
	for range 60 {
		mid := (lo + hi) / 2
		if serviceLevel(n, mid, ahtSec, t) >= target {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// TestErlangWorkedExample checks the helper against capacity's worked Erlang
// C example (capacity/erlang_test.go): N=20, AHT 360 s, 80% in 20 s → 2.66/min.
func TestErlangWorkedExample(t *testing.T) {
	if v := lambdaMax(20, 360, 20, 0.8, 0.85); math.Abs(v-2.66) > 0.01 {
		t.Fatalf("λ_max = %.3f calls/min, want 2.66", v)
	}
	if sl := serviceLevel(20, 2.5, 360, 20); math.Abs(sl-0.878) > 0.002 {
		t.Fatalf("SL(2.5/min) = %.3f, want 0.878", sl)
	}
}
