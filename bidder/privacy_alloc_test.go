//go:build !race

package bidder

import "testing"

// TestAllocsPrivacy: decoding a TC string and a GPP string on the bid path
// costs no allocation.
func TestAllocsPrivacy(t *testing.T) {
	cfg := baseConfig()
	cfg.Privacy = PrivacyConfig{TCF: TCFConfig{VendorID: 755, Purposes: []int{1, 2, 7}}}
	e := newEnv(t, cfg, 0)
	s := e.b.snap.Load()
	ex := s.exchange([]byte("default"))
	req := banner300()
	req.Regs.GDPR, req.User.Consent = 1, tcVendor755Range
	req.Regs.GPP, req.Regs.GPPSID = gppHeader2and7+"~"+tcVendor755Range+"~"+usnatNoOptOut, []int8{2, 7}
	d := e.b.getDecision()
	e.b.decide(d, s, req, ex, e.now)
	if len(d.Bids) != 1 {
		t.Fatalf("no bid: %s", d.Cause)
	}
	if n := testing.AllocsPerRun(200, func() { e.b.decide(d, s, req, ex, e.now) }); n != 0 {
		t.Errorf("%.1f allocations per decision, want 0", n)
	}
}
