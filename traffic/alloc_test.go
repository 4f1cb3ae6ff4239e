//go:build !race

package traffic

import "testing"

func TestAllowedAllocatesNothing(t *testing.T) {
	f := newFilter(t, Config{IPCap: 3, BlockedRanges: []string{"10.0.0.0/8", "2001:db8::/32"}})
	if n := testing.AllocsPerRun(100, func() {
		_ = f.Allowed(7, 8)
		_ = f.AllowedIP("192.0.2.1")
	}); n != 0 {
		t.Fatalf("%.0f allocations per check, want 0", n)
	}
}
