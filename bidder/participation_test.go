package bidder

import (
	"testing"
)

// fakeParticipation admits the skills not listed in deny.
type fakeParticipation struct {
	deny  map[string]bool
	asked int
}

func (p *fakeParticipation) Admit(skill string) bool {
	p.asked++
	return !p.deny[skill]
}

func TestParticipationSkipsWhateverThePrice(t *testing.T) {
	// A spent bucket on the best-paying skill: the next campaign bids.
	e := newEnv(t, baseConfig(), 0)
	p := &fakeParticipation{deny: map[string]bool{"mortgage": true}}
	e.b.deps.Participation = p
	res := e.b.Decide(banner300(), "x", e.now)
	if len(res.Bids) != 1 || res.Bids[0].CID != "auto" {
		t.Fatalf("bids %+v cause %v, want the auto campaign", res.Bids, res.Cause)
	}
	if p.asked == 0 {
		t.Fatal("participation was not asked")
	}
	// Every skill spent: no bid with nbr 500, even with price room.
	p.deny = map[string]bool{"mortgage": true, "auto": true, "legal": true}
	res = e.b.Decide(banner300(), "x", e.now)
	if len(res.Bids) != 0 || res.Cause != CauseNoHeadroom || res.NBR() != 500 {
		t.Fatalf("bids %d cause %v nbr %d, want no bid 500", len(res.Bids), res.Cause, res.NBR())
	}
}
