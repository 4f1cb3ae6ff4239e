package feedback

import (
	"context"
	"hash/maphash"
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/rs/zerolog"
)

// Publisher sends an event to a Kafka topic without blocking (*kafkaio.Producer).
type Publisher interface {
	Publish(topic string, key, value []byte) bool
}

// Headroom is the capacity model's view that pacing steers by (*capacity.Model).
type Headroom interface {
	Headroom(skill string) (callsPerMin float64, waitingTooLong bool)
}

// Campaign is what feedback needs to know of a campaign (built from the
// campaign config by the root wiring).
type Campaign struct {
	ID            string
	Skill         string
	PriorCallRate float64 // expected qualified calls per won impression
	PriorClose    float64 // expected sales per qualified call
	ValuePerCall  int64   // micro-units; 0 for base-CPM campaigns
}

// pairKey keys the hit-rate snapshot; a struct of two strings hashes without
// allocating, so the bid path needs no key building.
type pairKey struct{ campaign, publisher string }

// rateSnap is the immutable hit-rate snapshot read by HitRate.
type rateSnap struct {
	factor map[pairKey]float64
}

// pace is one skill's pacing state as the bid path sees it.
type pace struct {
	mult float64
	stop bool
}

// paceSnap is the immutable pacing snapshot read by Pacing and CommittedCalls.
type paceSnap struct {
	skills    map[string]pace
	committed map[string]float64 // arrival rate still to come from won impressions
	extra     map[string]float64 // the part of it above the bought calls arriving now
	arriving  map[string]float64 // bought (attributed) calls arriving now
}

// Feedback learns hit rates, paces to capacity and serves reports.
//
// Bid-path reads (HitRate, Pacing, Allowed, AllowedIP, RecordSeen,
// RecordBid) touch only atomics, immutable snapshots, a ristretto cache and
// a bounded channel. Everything else is guarded by mu.
type Feedback struct {
	cfg      Config
	headroom Headroom
	pub      Publisher
	log      zerolog.Logger
	clock    func() time.Time

	rates atomic.Pointer[rateSnap]
	pacer atomic.Pointer[paceSnap]
	part  atomic.Pointer[partSnap]

	records chan record
	traffic *traffic
	st      stats

	mu        sync.Mutex
	campaigns map[string]Campaign
	skills    []string
	cells     map[pairKey]*cell
	skillPend map[string]map[int64]float64 // skill → 10 s bucket → expected calls
	mu2       map[string]float64           // per-skill dual price μ
	arrivals  map[string]*ewmaRate         // per-skill attributed call arrivals
	gateMap   map[string]*gate             // per-skill participation buckets
	exch      map[string]*exStat           // per-exchange win evidence
	pooled    map[string]float64           // per-campaign any-call rate over all publishers
	partRate  map[pairKey]float64          // any-call rates as bids are priced (immutable once built)
	lastPace  time.Time
	arrive    delayDist             // won_at → call start, all skills
	arriveBy  map[string]*delayDist // the same per skill, all skills' as its prior
	resolve   delayDist             // won_at → call end (when it can be qualified)
	landmark  float64               // forward-decay landmark, unix seconds
	landSet   bool
	seed      maphash.Seed
	seenBids  map[uint64]struct{}        // bid id hashes within the dedupe window
	seenByMin map[int]map[int64][]uint64 // partition → event minute → hashes, for expiry
	impMark   map[int]time.Time          // latest impression event time per partition
	calls     map[string]*callRec
	callMark  time.Time // latest call-side event time
	rows      map[reportKey]*counts
	intern    map[string]string
	demand    demandState
	tally     tallyState
	lastRates time.Time
	lastSweep time.Time
	currency  string
	started   time.Time

	// feed freshness, unix nanoseconds (processing time)
	lastImpEvent  atomic.Int64
	lastCallEvent atomic.Int64
	lastBidAt     atomic.Int64
	bidsSinceImp  atomic.Int64
	expectedSince atomic.Uint64 // float64 bits: calls expected since the last call-feed event
}

// New builds feedback state. cfg should have passed Validate; bad blocked
// ranges are skipped (and logged).
func New(cfg Config, campaigns []Campaign, headroom Headroom, pub Publisher, log zerolog.Logger) *Feedback {
	cfg = cfg.withDefaults()
	f := &Feedback{
		cfg:       cfg,
		headroom:  headroom,
		pub:       pub,
		log:       log,
		clock:     time.Now,
		records:   make(chan record, cfg.RecordQueue),
		cells:     make(map[pairKey]*cell),
		skillPend: make(map[string]map[int64]float64),
		mu2:       make(map[string]float64),
		arrivals:  make(map[string]*ewmaRate),
		exch:      make(map[string]*exStat),
		arriveBy:  make(map[string]*delayDist),
		seed:      maphash.MakeSeed(),
		seenBids:  make(map[uint64]struct{}),
		seenByMin: make(map[int]map[int64][]uint64),
		impMark:   make(map[int]time.Time),
		calls:     make(map[string]*callRec),
		rows:      make(map[reportKey]*counts),
		intern:    make(map[string]string),
		tally:     newTallyState(),
		started:   time.Now(),
	}
	f.arrive.init(cfg.TimeToCall.Max)
	f.resolve.init(cfg.TimeToCall.Max)
	f.traffic = newTraffic(cfg.Traffic, log)
	f.rates.Store(&rateSnap{factor: map[pairKey]float64{}})
	f.pacer.Store(&paceSnap{skills: map[string]pace{}, committed: map[string]float64{}})
	f.SetCampaigns(campaigns)
	f.mu.Lock()
	f.rebuildRatesLocked(f.clock())
	f.mu.Unlock()
	return f
}

// SetCampaigns replaces the campaign set on config reload. Learned evidence
// of removed campaigns is kept (they may come back).
func (f *Feedback) SetCampaigns(c []Campaign) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.campaigns = make(map[string]Campaign, len(c))
	set := map[string]bool{}
	f.skills = f.skills[:0]
	for _, x := range c {
		f.campaigns[x.ID] = x
		if x.Skill != "" && !set[x.Skill] {
			set[x.Skill] = true
			f.skills = append(f.skills, x.Skill)
		}
	}
	sort.Strings(f.skills)
	f.setGatesLocked()
	for k, cl := range f.cells {
		if x, ok := f.campaigns[k.campaign]; ok {
			cl.skill = x.Skill
		}
	}
}

// HitRate is the bid-path factor for a publisher: its smoothed call rate over
// the campaign's prior (1 for a new publisher). ≤ 50 ns, 0 allocations.
func (f *Feedback) HitRate(campaignID, publisherID string) float64 {
	if v, ok := f.rates.Load().factor[pairKey{campaignID, publisherID}]; ok {
		return v
	}
	return 1
}

// Pacing is the bid-path pacing multiplier for a skill (1/(1+μ)); stop is the
// hard stop when calls wait longer than the service-level target.
func (f *Feedback) Pacing(skill string) (multiplier float64, stop bool) {
	if p, ok := f.pacer.Load().skills[skill]; ok {
		return p.mult, p.stop
	}
	return 1, false
}

// CommittedCalls implements capacity.Commitments, in calls per minute.
//
// Let committed be the calls bought by won impressions that have not arrived
// yet, as a rate (pending expected calls over the mean time-to-call: the
// arrival rate they will produce, Little's law), and arriving the bought
// calls arriving now (moving average of attributed calls, time constant
// pacing.arrival_window). capacity.Model subtracts CommittedCalls from
// λ_max − λ_now, and λ_now already contains arriving; subtracting all of
// committed would count the bought calls twice in steady state (where
// committed = arriving) and pace to half the capacity. So CommittedCalls is
// max(0, committed − arriving): the bought load still to come on top of
// what arrives now. Updated every pacing tick.
func (f *Feedback) CommittedCalls(skill string) float64 {
	return f.pacer.Load().extra[skill]
}

// Committed returns the full committed arrival rate (calls/min) and the
// bought calls arriving now, per skill, for reports and tests.
func (f *Feedback) Committed(skill string) (committed, arriving float64) {
	ps := f.pacer.Load()
	return ps.committed[skill], ps.arriving[skill]
}

// Run drives pacing, hit-rate snapshots, the demand feed, expiry and the
// bid-counter aggregator until ctx is done.
func (f *Feedback) Run(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.aggregate(ctx)
	}()
	t := time.NewTicker(f.cfg.Pacing.Interval)
	defer t.Stop()
	flush := time.NewTicker(tallyEvery)
	defer flush.Stop()
	for {
		select {
		case <-ctx.Done():
			<-done
			f.flushTally(f.clock()) // the producer flushes it on shutdown
			f.traffic.close()
			return
		case <-t.C:
			f.tick(f.clock())
		case <-flush.C:
			f.flushTally(f.clock())
		}
	}
}

// tick is one controller step at now; the simulation test calls it directly.
func (f *Feedback) tick(now time.Time) {
	f.mu.Lock()
	// A clock that went backwards (tests, a corrected host clock) also rebuilds.
	if d := now.Sub(f.lastRates); d >= f.cfg.RateInterval || d < 0 {
		f.rebuildRatesLocked(now)
	}
	if d := now.Sub(f.lastSweep); d >= time.Minute || d < 0 {
		f.sweepLocked(now)
		f.lastSweep = now
	}
	f.paceLocked(now)
	msgs := f.demandLocked(now)
	f.mu.Unlock()
	for _, m := range msgs {
		if f.pub != nil && !f.pub.Publish(events.TopicDemand, m.key, m.value) {
			f.st.publishDropped.Add(1)
		}
	}
}

// paceLocked runs the dual update for every skill and publishes a snapshot.
func (f *Feedback) paceLocked(now time.Time) {
	dt := f.cfg.Pacing.Interval.Seconds()
	if !f.lastPace.IsZero() {
		dt = now.Sub(f.lastPace).Seconds()
		if dt <= 0 {
			return
		}
		if dt > 10*f.cfg.Pacing.Interval.Seconds() {
			dt = 10 * f.cfg.Pacing.Interval.Seconds() // a long pause is not a long error
		}
	}
	f.lastPace = now
	n := len(f.skills)
	ps := &paceSnap{skills: make(map[string]pace, n), committed: make(map[string]float64, n),
		extra: make(map[string]float64, n), arriving: make(map[string]float64, n)}
	budget := make(map[string]float64, n)
	for _, s := range f.skills {
		committed, buying := f.committedLocked(s, now)
		arriving := f.arrivals[s].perMin(unixS(now), f.cfg.Pacing.ArrivalWindow.Seconds())
		ps.committed[s], ps.arriving[s] = committed, arriving
		ps.extra[s] = math.Max(0, committed-arriving)
		if f.headroom == nil {
			budget[s] = math.NaN()
		}
		if f.cfg.Pacing.Disabled || f.headroom == nil {
			ps.skills[s] = pace{mult: 1}
			continue
		}
		head, waiting := f.headroom.Headroom(s)
		if !f.cfg.Pacing.HeadroomGross {
			// capacity's λ_now contains our calls arriving now. Calls bought
			// and not yet arrived are pacing's alone (capacity is not given
			// CommittedCalls): the participation bucket charges them.
			head += arriving
		}
		budget[s] = head
		target := f.cfg.Pacing.Target * math.Max(head, 0)
		scale := math.Max(target, f.cfg.Pacing.MinScale)
		// Committed calls are a stock that fills over the time-to-call, so a
		// jump in wins shows in it only slowly; the rate at which calls are
		// being bought right now shows it at once. Steer by the larger.
		// Bounded so a deep but brief overload (a shift change with calls
		// already bought) does not wind μ up for many minutes after it.
		e := math.Min((math.Max(committed, buying)-target)/scale, maxErr)
		// Integral part: the Balseiro–Gur dual update. Proportional part:
		// committed calls lag wins by the time-to-call, and a pure integral
		// controller on a lagged signal overshoots; the P term damps it.
		muI := f.mu2[s] + f.cfg.Pacing.Gain*dt*e
		muI = math.Min(math.Max(muI, 0), f.cfg.Pacing.MaxMu)
		f.mu2[s] = muI
		mu := math.Min(math.Max(muI+*f.cfg.Pacing.Proportional*e, 0), f.cfg.Pacing.MaxMu)
		ps.skills[s] = pace{mult: 1 / (1 + mu), stop: waiting}
		if waiting {
			f.st.hardStops.Add(1)
		}
	}
	f.pacer.Store(ps)
	f.participateLocked(now, dt, budget)
}

// committedLocked sums the expected calls not yet arrived for skill, as a
// rate (calls/min), and the rate at which calls were bought over the last
// minute; it drops buckets past the horizon.
func (f *Feedback) committedLocked(skill string, now time.Time) (committed, buying float64) {
	pend := f.skillPend[skill]
	arrive := f.arriveFor(skill)
	if len(pend) == 0 || arrive.mean <= 0 {
		return 0, 0
	}
	nowS := unixS(now)
	maxAge := f.cfg.TimeToCall.Max.Seconds()
	var sum, recent float64
	oldest := nowS
	for b, v := range pend {
		start := float64(b * pendBucket)
		age := nowS - start - pendBucket/2
		if age > maxAge {
			delete(pend, b)
			continue
		}
		sum += v * (1 - arrive.at(age))
		if start >= nowS-buyWindow && start <= nowS {
			recent += v
			oldest = math.Min(oldest, start)
		}
	}
	committed = sum / arrive.mean * 60
	if span := nowS - oldest; span >= pendBucket {
		buying = recent / span * 60
	}
	return committed, buying
}

// ewmaRate is a continuous-time moving average of event arrivals: each
// event adds 1/τ and the rate decays by exp(−Δt/τ), so a steady λ reads λ
// (the same estimator as capacity's λ_now).
type ewmaRate struct {
	rate float64 // per second, at last
	last float64 // unix seconds
}

func (e *ewmaRate) add(t, tau float64) {
	if t >= e.last {
		e.rate = e.rate*math.Exp(-(t-e.last)/tau) + 1/tau
		e.last = t
		return
	}
	e.rate += math.Exp(-(e.last-t)/tau) / tau // late event
}

func (e *ewmaRate) perMin(now, tau float64) float64 {
	if e == nil {
		return 0
	}
	return e.rate * math.Exp(-math.Max(now-e.last, 0)/tau) * 60
}

// maxErr bounds the controller's relative error (anti-windup).
const maxErr = 2

// buyWindow is the look-back, in seconds, of the buying rate.
const buyWindow = 60

// pendBucket is the resolution, in seconds, of committed-call buckets.
const pendBucket = 2
