package bidder

import (
	"math"
	"math/rand/v2"
	"testing"
)

// BenchmarkShadeNotice is what the shader costs per bid when every bid gets
// a notice (a win or a loss with the winner's price, as exchanges send
// them): the bid's count on the bid path, then the notice's evidence and
// the curve's upkeep, on a cell that has seen its memory's worth of
// evidence. Measure CPU time on a loaded machine.
func BenchmarkShadeNotice(b *testing.B) {
	cfg := &ShadingConfig{}
	cfg.setDefaults()
	s := newShader()
	rng := rand.New(rand.NewPCG(1, 2))
	competitor := func() float64 { return 4 * math.Exp(0.5*rng.NormFloat64()) }
	notice := func() {
		p := 2 + 4*rng.Float64()
		s.recordBid("fpx", "pub-1", p)
		m := competitor()
		s.observe(cfg, "fpx", "pub-1", p > m, p, m)
	}
	for range 2 * cfg.Memory {
		notice()
	}
	b.ReportAllocs()
	for b.Loop() {
		notice()
	}
}
