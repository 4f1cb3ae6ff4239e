package capacity

import (
	"math"
	"testing"
)

// A worked Erlang C example (the capacity section of README.md uses the same
// model): N=20 agents, AHT=360 s, 80% answered in 20 s, max occupancy 0.85.
var research = slParams{target: 0.80, answerTime: 20, maxOccupancy: 0.85}

func TestErlangWorkedTable(t *testing.T) {
	f := func(lambdaPerMin, wantPWait, wantSL, wantASA float64) {
		t.Helper()
		const n, aht = 20, 360.0
		a := lambdaPerMin / 60 * aht
		c := erlangC(n, a)
		sl := serviceLevel(n, a, 20, aht)
		asa := c * aht / (n - a)
		if math.Abs(c-wantPWait) > 0.0015 {
			t.Errorf("λ=%.2f: P(wait) = %.4f, want %.3f", lambdaPerMin, c, wantPWait)
		}
		if math.Abs(sl-wantSL) > 0.0015 {
			t.Errorf("λ=%.2f: SL(20s) = %.4f, want %.3f", lambdaPerMin, sl, wantSL)
		}
		if math.Abs(asa-wantASA) > 0.6 {
			t.Errorf("λ=%.2f: ASA = %.2f s, want %.0f s", lambdaPerMin, asa, wantASA)
		}
	}
	f(2.0, 0.024, 0.985, 1)
	f(2.5, 0.160, 0.878, 12)
	f(2.8, 0.356, 0.702, 40)
	f(3.0, 0.551, 0.507, 99)
}

func TestLambdaMax(t *testing.T) {
	f := func(n int, aht, want, tol float64) {
		t.Helper()
		got := lambdaMax(n, aht, research)
		if math.Abs(got-want) > tol {
			t.Errorf("lambdaMax(N=%d, AHT=%.0f) = %.4f/min, want %.4f ± %.4f", n, aht, got, want, tol)
		}
		// The answer must meet the target, and a little more must not.
		if got > 0 && float64(n)*research.maxOccupancy > got/60*aht+1e-3 {
			if sl := serviceLevel(n, got/60*aht, 20, aht); sl < 0.8-1e-6 {
				t.Errorf("N=%d: SL at λ_max = %.5f < 0.80", n, sl)
			}
			if sl := serviceLevel(n, (got+0.01)/60*aht, 20, aht); sl >= 0.8 {
				t.Errorf("N=%d: SL at λ_max+0.01 = %.5f still ≥ 0.80", n, sl)
			}
		}
	}
	f(20, 360, 2.66, 0.005)     // the table's bold row
	f(5, 360, 0.49, 0.005)      // "λ_max is 0.49/min for N=5"
	f(10, 360, 1.18, 0.005)     // "1.18/min for N=10"
	f(50, 360, 50*0.85/6, 1e-9) // "7.1/min for N=50 (where the occupancy cap binds)"
	f(1, 360, 2.1/60, 0.001)    // "2.1 calls/h for N=1"
	f(0, 360, 0, 0)
	f(20, 0, 0, 0)
}

func TestErlangBLargeNStable(t *testing.T) {
	// 5,000 agents: the factorial form overflows; the recursion must not.
	b := erlangB(5000, 4000)
	c := erlangC(5000, 4000)
	if math.IsNaN(b) || math.IsNaN(c) || b < 0 || b > 1 || c < 0 || c > 1 {
		t.Fatalf("erlangB=%v erlangC=%v for N=5000, A=4000", b, c)
	}
	if got := lambdaMax(5000, 360, research); math.Abs(got-5000*0.85/6) > 1e-6 {
		t.Fatalf("lambdaMax(5000) = %v, want the occupancy cap %v", got, 5000*0.85/6)
	}
}
