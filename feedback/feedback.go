package feedback

import (
	"context"
	"hash/maphash"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callbid/callbid/callrecords"
	"github.com/callbid/callbid/hitrate"
	"github.com/callbid/callbid/pacing"
	"github.com/callbid/callbid/reports"
	"github.com/rs/zerolog"
)

// Publisher sends an event to a Kafka topic without blocking (*kafkaio.Producer).
type Publisher interface {
	Publish(topic string, key, value []byte) bool
}

// Devices is the invalid-traffic state feedback reports won impressions
// and SPAM outcomes to (*traffic.Filter).
type Devices interface {
	Won(ipHash, ifaHash uint64, at time.Time)
	Spam(ipHash, ifaHash uint64)
}

// Campaign is what feedback needs to know of a campaign (built from the
// campaign config by the root wiring).
type Campaign struct {
	ID            string
	Skill         string
	PriorCallRate float64 // expected qualified calls per won impression
	PriorClose    float64 // expected sales per qualified call
	ValuePerCall  int64   // micro-units; 0 for base-CPM campaigns
	// RepeatWindow overrides the feed's repeat_window for this campaign
	// (its call_caps.repeat_window); 0 keeps the feed's.
	RepeatWindow time.Duration
}

// Feedback is the feed of the closed loop: it takes the records of what
// happened after the bid, deduplicates and joins them, and hands each to
// the packages that learn from it or report it — hit rates, pacing,
// traffic, reports (see doc.go).
//
// The bid path calls RecordSeen and RecordBid (per-skill counters, a
// bounded lock-free ring and pacing's atomics). Everything else is guarded by mu, which covers only
// the feed's own state (deduplication, the call join); each package it
// feeds has its own lock, always taken after mu.
type Feedback struct {
	cfg     Config
	pub     Publisher
	log     zerolog.Logger
	clock   func() time.Time
	hit     *hitrate.HitRates
	pace    *pacing.Pacer
	reports *reports.Reports
	devices Devices
	records *recordRing  // bid records for the aggregator (ring.go)
	seen    seenCounters // requests seen per skill (seen.go)
	st      stats
	started time.Time

	mu        sync.Mutex
	campaigns map[string]Campaign
	seed      maphash.Seed
	seenBids  map[uint64]struct{}        // bid id hashes within the dedupe window
	seenByMin map[int]map[int64][]uint64 // partition → event minute → hashes, for expiry
	impMark   map[int]time.Time          // latest impression event time per partition
	recs      callRecords                // shared with numbers when UseCallRecords was called
	repeats   repeatCallers              // callers' last unique call per campaign (repeat.go)
	callMark  time.Time                  // latest call-side event time
	intern    map[string]string
	lastSweep time.Time
	foldNanos int64 // bids this close (reports.FoldNanos) may fold as one run (records.go)

	// feed freshness, unix nanoseconds (processing time)
	lastImpEvent  atomic.Int64
	lastCallEvent atomic.Int64
	lastBidAt     atomic.Int64
	bidsSinceImp  atomic.Int64
	expectedSince atomic.Uint64 // float64 bits: calls expected since the last call-feed event
}

// New builds the feed and the hit-rate, pacing and report state it feeds.
// cfg gets its defaults (SetDefaults) and must pass Validate. capacity is
// the contact center's facts pacing steers by (nil: no pacing).
func New(cfg Config, campaigns []Campaign, capacity pacing.Capacity, pub Publisher, log zerolog.Logger) (*Feedback, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	f := &Feedback{
		cfg:       cfg,
		pub:       pub,
		log:       log,
		clock:     time.Now,
		records:   newRecordRing(cfg.RecordQueue),
		seed:      maphash.MakeSeed(),
		seenBids:  make(map[uint64]struct{}),
		seenByMin: make(map[int]map[int64][]uint64),
		impMark:   make(map[int]time.Time),
		intern:    make(map[string]string),
		started:   time.Now(),
	}
	// Alone (tests, tools), feedback keeps its own call records, bounded by
	// call_retention and max_calls; the service shares one store
	// (UseCallRecords).
	recs, err := callrecords.New(callrecords.Config{Retention: cfg.CallRetention, MaxRecords: cfg.MaxCalls})
	if err != nil {
		return nil, err
	}
	f.recs = recs
	if f.hit, err = hitrate.New(cfg.HitRate, hitCampaigns(campaigns)); err != nil {
		return nil, err
	}
	if f.pace, err = pacing.New(cfg.Pacing, skillsOf(campaigns), capacity, f.hit); err != nil {
		return nil, err
	}
	if f.reports, err = reports.New(cfg.Reports, pub, f.pace, log); err != nil {
		return nil, err
	}
	f.reports.SetClock(func() time.Time { return f.clock() })
	f.foldNanos = f.reports.FoldNanos()
	f.reports.CountDropped(f.st.recordsDropped.Load)
	f.reports.SetDelays(reports.HitRateDelays(f.hit))
	f.reports.SetSkills(skillsOf(campaigns))
	f.setCampaigns(campaigns)
	return f, nil
}

// HitRates is the hit-rate model the feed teaches.
func (f *Feedback) HitRates() *hitrate.HitRates { return f.hit }

// Pacer is the pacing controller the feed teaches.
func (f *Feedback) Pacer() *pacing.Pacer { return f.pace }

// Reports is the report rows, bid tally and demand feed the feed fills.
func (f *Feedback) Reports() *reports.Reports { return f.reports }

// CountDevicesIn makes feedback report won impressions and SPAM outcomes to
// d (the bid path's traffic filter). Call it before the feeds start.
func (f *Feedback) CountDevicesIn(d Devices) { f.devices = d }

// SetCampaigns replaces the campaign set on config reload. Learned evidence
// of removed campaigns is kept (they may come back).
func (f *Feedback) SetCampaigns(c []Campaign) {
	f.hit.SetCampaigns(hitCampaigns(c))
	f.pace.SetSkills(skillsOf(c))
	f.reports.SetSkills(skillsOf(c))
	f.setCampaigns(c)
}

func (f *Feedback) setCampaigns(c []Campaign) {
	m := make(map[string]Campaign, len(c))
	for _, x := range c {
		m[x.ID] = x
	}
	f.mu.Lock()
	f.campaigns = m
	f.mu.Unlock()
}

func hitCampaigns(c []Campaign) []hitrate.Campaign {
	out := make([]hitrate.Campaign, 0, len(c))
	for _, x := range c {
		out = append(out, hitrate.Campaign{ID: x.ID, Skill: x.Skill, PriorCallRate: x.PriorCallRate, PriorClose: x.PriorClose})
	}
	return out
}

func skillsOf(c []Campaign) []string {
	set := map[string]bool{}
	var out []string
	for _, x := range c {
		if x.Skill != "" && !set[x.Skill] {
			set[x.Skill] = true
			out = append(out, x.Skill)
		}
	}
	sort.Strings(out)
	return out
}

// Run drives hit-rate rebuilds, pacing, the demand feed, expiry, the bid
// tally and the bid-counter aggregator until ctx is done.
func (f *Feedback) Run(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.aggregate(ctx)
	}()
	t := time.NewTicker(f.cfg.Pacing.Pacing.Interval)
	defer t.Stop()
	flush := time.NewTicker(tallyEvery)
	defer flush.Stop()
	for {
		select {
		case <-ctx.Done():
			<-done
			f.reports.Flush(f.clock()) // the producer flushes it on shutdown
			return
		case <-t.C:
			f.tick(f.clock())
		case <-flush.C:
			f.reports.Flush(f.clock())
		}
	}
}

// tallyEvery bounds what a crash loses of the bid counters published to
// callbid.bids.v1 (see reports.Reports.Flush).
const tallyEvery = 5 * time.Second

// tick is one step at now, in the order the parts depend on each other:
// rates (when rate_interval has passed), pacing (reads them), reports (read
// pacing). The simulation tests call it directly.
func (f *Feedback) tick(now time.Time) {
	f.mu.Lock()
	if d := now.Sub(f.lastSweep); d >= time.Minute || d < 0 {
		f.sweepLocked(now)
		f.lastSweep = now
	}
	f.mu.Unlock()
	f.hit.Rebuild(now)
	f.pace.Tick(now)
	f.reports.Tick(now)
}
