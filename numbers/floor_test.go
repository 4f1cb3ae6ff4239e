package numbers

import (
	"testing"
	"time"

	"github.com/callbid/callbid/events"
)

// TestReplayFloorIsTheHighestGeneration: one number's lease records come
// from several writers, so the log can hold a record of an older
// reservation after a newer one's. A token between the two generations is
// older than what the log knows of the number and must not be restored; a
// floor that kept the latest record's generation, not the highest,
// restored it over the newer reservation.
func TestReplayFloorIsTheHighestGeneration(t *testing.T) {
	clock := t0
	cfg := onePool(1)
	num := plainNumbers(1)[0]
	g := clockGen(clock.UnixNano())
	rec := func(gen uint32, st string) pubMsg {
		l := events.Lease{Owner: "other", Pool: "p", Gen: gen, State: st, ReservedAt: clock.Add(-time.Second).UnixNano()}
		if st != events.LeaseFree {
			l.Campaign, l.Skill, l.BidID = "camp-mortgage", "mortgage", []byte("bid-other")
		}
		return pubMsg{events.TopicLeases, []byte(num), events.AppendLease(nil, &l)}
	}
	// The newer reservation's hold, then an older reservation's end.
	recs := []pubMsg{rec(g-10, events.LeaseHeld), rec(g-20, events.LeaseFree)}
	clock = clock.Add(2 * time.Second)
	p, _ := replay(t, cfg, recs, &clock)
	if f := p.floor[0]; f != g-10 {
		t.Errorf("floor %d, want the highest replayed generation %d (latest was %d)", f, g-10, g-20)
	}
	between := makeRef(0, g-15)
	if got, _ := p.Restore(between, testClaim(1), t0, false, clock); got != WinCollision {
		t.Errorf("restoring generation %d when the log knows %d: %v, want collision", g-15, g-10, got)
	}
	// A token newer than anything logged is still restored.
	newer := makeRef(0, g-5)
	if got, _ := p.Restore(newer, testClaim(2), t0, false, clock); got != WinRestored {
		t.Errorf("restoring generation %d above the floor %d: %v, want restored", g-5, g-10, got)
	}
}
