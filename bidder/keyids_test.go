package bidder

import (
	"strconv"
	"testing"
)

// TestKeyIDs: sets and multipliers by id answer as the maps they were
// compiled from, past the linear-scan size too; unknown and "" keys miss.
func TestKeyIDs(t *testing.T) {
	for _, n := range []int{0, 1, 8, 9, 40} {
		d := keyDict{"other": 1}
		set := map[string]struct{}{}
		mult := map[string]float64{}
		for i := range n {
			k := "pub-" + strconv.Itoa(i*7)
			set[k] = struct{}{}
			mult[k] = float64(i) / 4
		}
		if n == 0 {
			set = nil
		}
		s, m := newIDSet(d, set), newIDMults(d, mult)
		if s.on != (set != nil) || m.on != (n > 0) {
			t.Fatalf("n=%d: on %v %v", n, s.on, m.on)
		}
		for k := range d {
			_, inSet := set[k]
			if got := s.has(d.id(k)); got != inSet {
				t.Errorf("n=%d: has(%q) = %v, want %v", n, k, got, inSet)
			}
			want, inMult := mult[k]
			if got, ok := m.get(d.id(k)); ok != inMult || got != want {
				t.Errorf("n=%d: get(%q) = %v %v, want %v %v", n, k, got, ok, want, inMult)
			}
		}
		if s.has(d.id("")) || s.has(d.id("pub-nope")) {
			t.Errorf("n=%d: an unknown key hit", n)
		}
		if _, ok := m.get(d.id("pub-nope")); ok {
			t.Errorf("n=%d: an unknown key has a multiplier", n)
		}
	}
}
