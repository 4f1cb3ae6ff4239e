package numbers

import (
	"testing"
	"time"
)

// TestKnows: the pools know their own reservations, not an earlier
// process's (another generation of the same number).
func TestKnows(t *testing.T) {
	now := time.Now()
	p := mustNew(t, onePool(4), nil)
	r, ok := p.Reserve(0, testClaim(1), now)
	if !ok {
		t.Fatal("no reservation")
	}
	if !p.Knows(r.Ref) {
		t.Fatal("the pools do not know their own reservation")
	}
	if p.Knows(r.Ref + 1) {
		t.Fatal("the pools know a generation they never handed out")
	}
}
