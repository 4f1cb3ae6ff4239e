package bidder

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/callbid/callbid/events"
)

// budget is one campaign's spend for the current budget day, in CPM
// micro-units (micro-units × 1000), so billing at any CPM adds exactly.
// Spend only grows on billing notices (far rarer than bids), so one counter
// per campaign does not contend; the bid path only does atomic loads.
type budget struct {
	mu    sync.Mutex   // serialises add (notices) so a rollover loses nothing
	day   atomic.Int64 // days since the Unix epoch in server.time_zone
	spent atomic.Int64
}

// spentOn returns the spend of day (0 when the counter is of another day).
func (b *budget) spentOn(day int64) int64 {
	if b.day.Load() != day {
		return 0
	}
	return b.spent.Load()
}

// add counts cpmMicros of spend on day, rolling the counter over when the
// day changed. A notice of the previous day arriving after the rollover is
// counted in the new day (conservative).
func (b *budget) add(day, cpmMicros int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.day.Load() < day {
		b.spent.Store(0)
		b.day.Store(day)
	}
	b.spent.Add(cpmMicros)
}

// budgetSet keeps budgets by campaign id so they survive config reloads.
type budgetSet struct {
	mu sync.Mutex
	m  map[string]*budget
}

func newBudgetSet() *budgetSet { return &budgetSet{m: map[string]*budget{}} }

func (s *budgetSet) get(id string) *budget {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.m[id]
	if !ok {
		b = &budget{}
		s.m[id] = b
	}
	return b
}

// dayIndex is the budget day of t in loc.
func dayIndex(t time.Time) int64 {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// ReplaySpend applies one callbid.impressions.v1 record to today's budgets
// if it is a billing notice that an earlier callbid process handled (it
// happened before this one started), so a restart does not hand a campaign
// its whole daily budget again. Bills of this process were counted when they
// happened. Wire it to a consumer that replays the topic from the beginning.
func (b *Bidder) ReplaySpend(msg events.Message) {
	var im events.Impression
	if err := events.DecodeImpression(msg.Value, &im); err != nil || im.Kind != "bill" || !im.At.Before(b.started) {
		return
	}
	s := b.snap.Load()
	day := dayIndex(im.At.In(s.loc))
	if day != dayIndex(b.now().In(s.loc)) {
		return // another budget day
	}
	b.spend(s, im.CampaignID, im.Currency, im.PriceMicros, day)
	b.m.replayedSpend.Inc()
}
