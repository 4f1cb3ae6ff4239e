//go:build !race

package privacy

import "testing"

func TestAllocs(t *testing.T) {
	tc := tcString([]int{1, 2, 7}, []int{5, 9, 10, 755}, true)
	gpp := gppHeader([]int{2, 7}, false) + "~" + tc + "~" + usSection(1, 1, 1, 1, 1, 1, 2, 2, 2)
	n := testing.AllocsPerRun(100, func() {
		var g GPP
		if g.Parse(gpp) != nil {
			t.Fatal("parse")
		}
		s, _ := g.Section(2)
		if ok, _ := TCFConsent(s, 755, 3); !ok {
			t.Fatal("consent")
		}
		s, _ = g.Section(7)
		if out, _ := USOptOut(7, s); out {
			t.Fatal("opt-out")
		}
	})
	if n != 0 {
		t.Errorf("%.1f allocations, want 0", n)
	}
}
