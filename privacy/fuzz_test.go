package privacy

import "testing"

// The decoders read untrusted strings from bid requests: they must not
// panic, loop or allocate whatever the input.

func FuzzTCFConsent(f *testing.F) {
	f.Add(tcString([]int{1, 2}, []int{5, 755}, false), 755, uint32(3))
	f.Add(tcString([]int{1}, []int{3, 4, 5, 90}, true), 4, uint32(1))
	f.Add("CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA", 1, uint32(0))
	f.Fuzz(func(t *testing.T, s string, vendor int, purposes uint32) {
		ok, err := TCFConsent(s, vendor, purposes)
		if ok && err != nil {
			t.Fatalf("consent and an error: %v", err)
		}
	})
}

func FuzzGPP(f *testing.F) {
	f.Add("DBACNYA~CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA~1YNN")
	f.Add(gppHeader([]int{7, 8, 9, 10, 11, 12}, true) + "~" + usSection(1, 1, 1, 1, 1, 1, 1, 2, 2) + "~b")
	f.Fuzz(func(t *testing.T, s string) {
		var g GPP
		if err := g.Parse(s); err != nil {
			if g.Len() != 0 {
				t.Fatalf("error %v with %d sections", err, g.Len())
			}
			return
		}
		for i := 0; i < g.Len(); i++ {
			id := int(g.ids[i])
			sec, _ := g.Section(id)
			if IsUSSection(id) {
				_, _ = USOptOut(id, sec)
			}
			_, _ = TCFConsent(sec, 1, 1)
		}
	})
}
