//go:build !race

package capacity

import "testing"

// The bid path must not allocate: View and Headroom read the snapshot only.
func TestViewAllocs(t *testing.T) {
	m, clk := newTestModel(t, Config{}, "mortgage")
	staff(t, m, clk, 0, 30, "mortgage", 4, "AVAILABLE")
	m.rebuild()
	var sink View
	if n := testing.AllocsPerRun(1000, func() { sink = m.View("mortgage", 3, 4) }); n != 0 {
		t.Fatalf("View allocates %v per call", n)
	}
	if !sink.PremiumFree {
		t.Fatalf("unexpected view %+v", sink)
	}
	if n := testing.AllocsPerRun(1000, func() { sink = m.View("nope", 3, 4.5) }); n != 0 {
		t.Fatalf("View(unknown) allocates %v per call", n)
	}
	var h float64
	if n := testing.AllocsPerRun(1000, func() { h, _ = m.Headroom("mortgage") }); n != 0 {
		t.Fatalf("Headroom allocates %v per call", n)
	}
	_ = h
}
