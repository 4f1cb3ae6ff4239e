package bidder

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestShadeBinAgreesWithLog: the table lookup gives the log formula's bin
// at every bin's first price and its neighbours, at bucket edges, outside
// the grid, and at random prices across it.
func TestShadeBinAgreesWithLog(t *testing.T) {
	check := func(p float64) {
		t.Helper()
		if got, want := shadeBin(p), shadeBinLog(p); got != want {
			t.Fatalf("shadeBin(%v) = %d, shadeBinLog = %d", p, got, want)
		}
	}
	for _, p := range []float64{math.NaN(), math.Inf(-1), -1, 0, shadeMin, math.Nextafter(shadeMin, 1), 1, shadeMax,
		math.Nextafter(shadeMax, 0), shadeMax * 2, shadeMax * 4, 1e300, math.Inf(1)} {
		check(p)
	}
	for i := 1; i < shadeBins; i++ {
		p := shadeFrom[i]
		for _, q := range []float64{p, math.Nextafter(p, 0), math.Nextafter(math.Nextafter(p, 0), 0), math.Nextafter(p, math.Inf(1)), shadeEdges[i]} {
			check(q)
		}
	}
	for j := range shadeStart {
		b := (shadeTop0 + uint64(j)) << 48
		check(math.Float64frombits(b))
		check(math.Float64frombits(b - 1))
	}
	r := rand.New(rand.NewPCG(11, 12))
	for range 1000000 {
		check(math.Exp(math.Log(shadeMin/2) + r.Float64()*math.Log(shadeMax*4/(shadeMin/2))))
	}
}
