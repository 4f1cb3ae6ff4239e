package bidder

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/kafkaio"
)

// budget is one campaign's spend for the current budget day, in CPM
// micro-units (micro-units × 1000), so billing at any CPM adds exactly.
// Spend only grows on billing notices (far rarer than bids), so one counter
// per campaign does not contend; the bid path only does atomic loads.
type budget struct {
	mu    sync.Mutex   // serialises add (notices) so a rollover loses nothing
	day   atomic.Int64 // days since the Unix epoch in the campaign's time zone
	spent atomic.Int64
	// total is the spend over the campaign's life (total_budget): this
	// process's bills plus those replayed from callbid.impressions.v1.
	total atomic.Int64
	// Expected spend of bids in flight (price × P(win)), by the second the
	// bid was made; a slot older than the reserve window counts nothing.
	resTag [reserveSlots]atomic.Int64 // unix second + 1 of the slot's bids (0 = never used)
	resVal [reserveSlots]atomic.Int64
}

// reserveSlots bounds the reserve window (seconds).
const reserveSlots = 64

// reserve adds v (CPM micros, campaign currency) for a bid made in sec.
// Two bids racing over a slot's rollover can lose one reservation; that
// is one bid of slack, inside the bound the README states.
func (b *budget) reserve(sec, v int64) {
	i := sec % reserveSlots
	if b.resTag[i].Load() != sec+1 {
		b.resTag[i].Store(sec + 1)
		b.resVal[i].Store(0)
	}
	b.resVal[i].Add(v)
}

// reserved is the expected spend of bids made in the last window seconds
// up to sec (0 < window <= reserveSlots).
func (b *budget) reserved(sec, window int64) int64 {
	// Only the window's seconds are visited (15 of the 64 slots by
	// default): second t lives in slot t % reserveSlots when its tag says t.
	var sum int64
	for t := max(sec-window+1, 0); t <= sec; t++ {
		i := t % reserveSlots
		if b.resTag[i].Load() == t+1 {
			sum += b.resVal[i].Load()
		}
	}
	return sum
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
	b.total.Add(cpmMicros)
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

// SharedSpend makes ReplaySpend count every instance's bills into the
// budgets as they arrive on callbid.impressions.v1, not only those before
// this process started (kafka.shared_pools). Each instance still decides
// alone, against the bills it has read plus its own reserve: a bill
// another instance takes is seen here after the impression record's delay
// (producer batch plus fetch wait, under a second), so a budget may be
// overspent by the bids decided at once plus the other instances' bids
// whose bills the last bidder had not read (README "Running several
// instances" states the bound; cmd/callbid/shared_capacity_test.go checks
// it).
func (b *Bidder) SharedSpend(on bool) { b.sharedSpend.Store(on) }

// dayIndex is the budget day of t in loc.
func dayIndex(t time.Time) int64 {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// ReplaySpend applies one callbid.impressions.v1 record at start. Every
// win, bill and loss still inside server.notice_ttl goes into the notice
// dedupe set, so a notice an exchange retries after a restart is a duplicate
// (a bill is not counted twice, a win after a replayed loss is a conflict).
// A bill that an earlier callbid process handled today (it happened before
// this one started) is added to today's budget, once per bid id: the same
// bill logged twice, or a retry this process already counted, adds nothing.
// Bills of earlier days count in total_budget only; bills older than
// notice_ttl are not deduplicated (each is logged once; a duplicate record
// would count twice, which stops the campaign early, never late).
// Bills of this process were counted when they happened. Wire it to a
// consumer that replays the topic from the beginning.
//
// With SharedSpend (several instances), every bill on the topic counts, at
// any time, once per bid id: this instance's own bills come back as
// duplicates of the live notice, a bill another instance handled is new.
func (b *Bidder) ReplaySpend(msg kafkaio.Message) {
	var im events.Impression
	if err := events.DecodeImpression(msg.Value, &im); err != nil {
		return
	}
	b.ReplaySpendImpression(&im)
}

// ReplaySpendImpression is ReplaySpend for a record already decoded (and
// counted when bad) by another reader of the topic.
func (b *Bidder) ReplaySpendImpression(im *events.Impression) {
	var kind noticeKind
	switch im.Kind {
	case events.ImpressionWin:
		kind = noticeWin
	case events.ImpressionBill:
		kind = noticeBill
	case events.ImpressionLoss:
		kind = noticeLoss
	default:
		return
	}
	s := b.snap.Load()
	now := b.now()
	if now.Sub(im.At) > s.cfg.Server.NoticeTTL+time.Minute {
		// Its token has expired, so a retry would be refused: no dedupe
		// entry is needed, but an old bill still counts in total_budget.
		if kind == noticeBill && im.At.Before(b.started) {
			b.spend(s, im.CampaignID, im.Currency, im.PriceMicros, im.At, now, true)
			b.m.replayedSpend.Inc()
		}
		return
	}
	key := bidKey(im.BidID)
	if kind != noticeBill || (!im.At.Before(b.started) && !b.sharedSpend.Load()) {
		b.dedupe.mark(key, kind, now)
		return
	}
	r := b.dedupe.apply(key, noticeBill, now)
	if r == dedupeConflict {
		// A bill logged after the bid's loss: the process that logged it
		// counted it (refusing it is newer than the record), so count it.
		b.dedupe.mark(key, noticeBill, now)
	}
	if r == dedupeDuplicate {
		return // counted already
	}
	b.spend(s, im.CampaignID, im.Currency, im.PriceMicros, im.At, now, true)
	b.m.replayedSpend.Inc()
}
