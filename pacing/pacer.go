package pacing

import (
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callbid/callbid/capacity"
	"github.com/callbid/callbid/hitrate"
)

// Capacity is the contact center's facts that pacing steers by
// (*capacity.Model): pacing combines them with its own calls, once.
type Capacity interface {
	Load(skill string) (capacity.Load, bool)
}

// Rates is what pacing needs of the hit-rate model (*hitrate.HitRates):
// the calls a won impression brings, read on the bid path, and the time
// from a win to its call.
type Rates interface {
	CallsPerWin(campaignID, publisherID string) float64
	Arrival(skill string) *hitrate.Delay
}

// Share is this instance's share of the work when several instances share
// the number pools (*numbers.Pools): 1 alone. Each instance buys only its
// share of the agents' capacity, so N instances together buy what one
// would (issue 13).
type Share interface {
	Share() float64
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

// Pacer owns the calls bought and not yet arrived, per skill, and steers
// buying by them: the participation bucket (volume) and the price
// multiplier (see doc.go).
type Pacer struct {
	cfg      Config
	capacity Capacity
	lm       lambdaMaxer // capacity's λ_max per skill, when it has one
	rates    Rates
	share    Share

	pacer     atomic.Pointer[paceSnap]
	part      atomic.Pointer[partSnap]
	hardStops atomic.Int64

	mu        sync.Mutex
	skills    []string
	skillPend map[string]map[int64]float64 // skill → 2 s bucket → expected calls
	mu2       map[string]float64           // per-skill dual price μ
	arrivals  map[string]*ewmaRate         // per-skill attributed call arrivals
	gateMap   map[string]*gate             // per-skill participation buckets
	exch      map[string]*exStat           // per-exchange win evidence
	lastPace  time.Time
	others    bool // other instances' bids are counted (others.go): their wins settle them
}

// New builds the pacer; cfg gets its defaults and must pass Validate.
// capacity may be nil (no capacity view: no pacing, no volume control).
func New(cfg Config, skills []string, capacity Capacity, rates Rates) (*Pacer, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Pacer{cfg: cfg, capacity: capacity, rates: rates,
		skillPend: map[string]map[int64]float64{}, mu2: map[string]float64{},
		arrivals: map[string]*ewmaRate{}, exch: map[string]*exStat{}}
	p.lm, _ = capacity.(lambdaMaxer)
	p.pacer.Store(&paceSnap{skills: map[string]pace{}, committed: map[string]float64{}})
	p.SetSkills(skills)
	return p, nil
}

// ShareWith makes the pacer buy only s.Share() of the agents' capacity
// (kafka.shared_pools). Call it before Run starts ticking.
func (p *Pacer) ShareWith(s Share) { p.share = s }

// SetSkills replaces the paced skills (on config reload).
func (p *Pacer) SetSkills(skills []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	set := map[string]bool{}
	p.skills = p.skills[:0]
	for _, s := range skills {
		if s != "" && !set[s] {
			set[s] = true
			p.skills = append(p.skills, s)
		}
	}
	sort.Strings(p.skills)
	p.setGatesLocked()
}

// Pacing is the bid-path pacing multiplier for a skill (1/(1+μ)); stop is the
// hard stop when calls wait longer than the service-level target.
func (p *Pacer) Pacing(skill string) (multiplier float64, stop bool) {
	if x, ok := p.pacer.Load().skills[skill]; ok {
		return x.mult, x.stop
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
func (p *Pacer) CommittedCalls(skill string) float64 {
	return p.pacer.Load().extra[skill]
}

// Committed returns the full committed arrival rate (calls/min) and the
// bought calls arriving now, per skill, for reports and tests.
func (p *Pacer) Committed(skill string) (committed, arriving float64) {
	ps := p.pacer.Load()
	return ps.committed[skill], ps.arriving[skill]
}

// Tick is one controller step at now: the price multiplier and the
// participation buckets of every skill. The feed's Run loop calls it every
// pacing.interval (tests with a simulated clock).
func (p *Pacer) Tick(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.paceLocked(now)
}

// paceLocked runs the dual update for every skill and publishes a snapshot.
func (p *Pacer) paceLocked(now time.Time) {
	dt := p.cfg.Pacing.Interval.Seconds()
	if !p.lastPace.IsZero() {
		dt = now.Sub(p.lastPace).Seconds()
		if dt <= 0 {
			return
		}
		if dt > 10*p.cfg.Pacing.Interval.Seconds() {
			dt = 10 * p.cfg.Pacing.Interval.Seconds() // a long pause is not a long error
		}
	}
	p.lastPace = now
	n := len(p.skills)
	ps := &paceSnap{skills: make(map[string]pace, n), committed: make(map[string]float64, n),
		extra: make(map[string]float64, n), arriving: make(map[string]float64, n)}
	budget := make(map[string]float64, n)
	for _, s := range p.skills {
		committed, buying := p.committedLocked(s, now)
		arriving := p.arrivals[s].perMin(unixS(now), p.cfg.Pacing.ArrivalWindow.Seconds())
		ps.committed[s], ps.arriving[s] = committed, arriving
		ps.extra[s] = math.Max(0, committed-arriving)
		if p.capacity == nil {
			budget[s] = math.NaN()
		}
		if p.cfg.Pacing.Disabled || p.capacity == nil {
			ps.skills[s] = pace{mult: 1}
			continue
		}
		// The budget for bought calls: what the agents can answer, less the
		// calls arriving that we did not buy (λ_now holds ours too) and the
		// service owed. Calls bought and not yet arrived are pacing's alone:
		// the participation bucket charges them.
		ld, _ := p.capacity.Load(s) // stale or unknown: all zero, no budget
		head, waiting := ld.LambdaMax-(ld.Arrivals-arriving)-ld.Backlog, ld.WaitingTooLong
		budget[s] = head
		target := p.cfg.Pacing.Target * math.Max(head, 0)
		scale := math.Max(target, p.cfg.Pacing.MinScale)
		// Committed calls are a stock that fills over the time-to-call, so a
		// jump in wins shows in it only slowly; the rate at which calls are
		// being bought right now shows it at once. Steer by the larger.
		// Bounded so a deep but brief overload (a shift change with calls
		// already bought) does not wind μ up for many minutes after it.
		e := math.Min((math.Max(committed, buying)-target)/scale, maxErr)
		// Integral part: the Balseiro–Gur dual update. Proportional part:
		// committed calls lag wins by the time-to-call, and a pure integral
		// controller on a lagged signal overshoots; the P term damps it.
		muI := p.mu2[s] + p.cfg.Pacing.Gain*dt*e
		muI = math.Min(math.Max(muI, 0), p.cfg.Pacing.MaxMu)
		p.mu2[s] = muI
		mu := math.Min(math.Max(muI+*p.cfg.Pacing.Proportional*e, 0), p.cfg.Pacing.MaxMu)
		ps.skills[s] = pace{mult: 1 / (1 + mu), stop: waiting}
		if waiting {
			p.hardStops.Add(1)
		}
	}
	p.pacer.Store(ps)
	p.participateLocked(now, dt, budget)
}

// committedLocked sums the expected calls not yet arrived for skill, as a
// rate (calls/min), and the rate at which calls were bought over the last
// minute; it drops buckets past the horizon.
func (p *Pacer) committedLocked(skill string, now time.Time) (committed, buying float64) {
	pend := p.skillPend[skill]
	arrive := p.rates.Arrival(skill)
	if len(pend) == 0 || arrive.Mean() <= 0 {
		return 0, 0
	}
	nowS := unixS(now)
	maxAge := p.cfg.TimeToCallMax.Seconds()
	var sum, recent float64
	oldest := nowS
	for b, v := range pend {
		start := float64(b * pendBucket)
		age := nowS - start - pendBucket/2
		if age > maxAge {
			delete(pend, b)
			continue
		}
		sum += v * (1 - arrive.At(age))
		if start >= nowS-buyWindow && start <= nowS {
			recent += v
			oldest = math.Min(oldest, start)
		}
	}
	committed = sum / arrive.Mean() * 60
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
