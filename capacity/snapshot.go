package capacity

import (
	"math"
	"time"
)

// snapshot is the immutable state the bid path reads. A rebuild makes a new
// one and swaps the pointer; nothing in it changes after Store.
type snapshot struct {
	stale      bool
	premiumMin int32
	skills     map[string]*skillView
}

// skillView is one skill's precomputed answers, per proficiency threshold
// bucket i (agents with proficiency ≥ i/2).
type skillView struct {
	factor         [numBuckets]float64 // ramp(headroom), premium not applied
	headroom       [numBuckets]float64 // calls per minute; may be negative
	lambdaMax      [numBuckets]float64 // calls per minute
	staffedAtLeast [numBuckets]int32
	availAtLeast   [numBuckets]int32
	waitingTooLong bool

	// For metrics and logs (all proficiencies).
	staffed, available, reserved, busy, acw int32
	staffedWeighted, availableWeighted      float64 // Σ proficiency
	waiting                                 int32
	oldestWait                              time.Duration
	ahtSec, arrivalPerMin, committedPerMin  float64
	capacityAgents, abandonPerMin           float64
	loadPerMin                              float64 // λ_load: arrivals over one handle time (the gate's)
	owedPerMin                              float64 // waiting/waiting_horizon + abandoning (Load.Backlog)
}

// skillCopy is what the rebuild copies out of the tables under mu, so the
// Erlang arithmetic runs without the lock.
type skillCopy struct {
	name                                string
	staffed, avail, reserved, busy, acw [numBuckets]int32
	capAgents                           [numBuckets]float64
	staffedMilli, availMilli            int64
	ahtSec, arrivalPerMin, loadPerMin   float64
	abandonPerMin                       float64
	waiting                             int32
	oldestSince                         int64 // unix ns; 0 when none waits
}

// lmKey memoises λ_max: it depends only on N and AHT (the service-level
// parameters are fixed per model). AHT is rounded to whole seconds, an error
// of at most 0.2% at 300 s, so a moving average that drifts by fractions of
// a second does not force a fresh bisection on every rebuild.
type lmKey struct {
	n   int32
	aht int32
}

func (m *Model) lambdaMaxCached(n int32, aht float64) float64 {
	k := lmKey{n: n, aht: int32(math.Round(min(max(aht, 1), 1<<30)))}
	if v, ok := m.lmCache[k]; ok {
		return v
	}
	if len(m.lmCache) >= 1<<14 {
		clear(m.lmCache) // bounded; refills with the few keys in use
	}
	v := lambdaMax(int(n), float64(k.aht), m.sl)
	m.lmCache[k] = v
	return v
}

// bucketAtLeast maps a required proficiency to the first threshold bucket at
// or above it (rounding up, so 3.2 is answered by agents ≥ 3.5: never
// counting an agent below the requirement). NaN and ≤ 0 mean bucket 0.
func bucketAtLeast(p float64) int {
	if !(p > 0) {
		return 0
	}
	if p >= 5 {
		return numBuckets - 1
	}
	return int(math.Ceil(p*2 - 1e-9))
}

// ramp is the capacity factor curve (see doc.go):
// 0 at headroom ≤ min, 1 at ≥ full, linear between.
func ramp(headroom float64, f FactorConfig) float64 {
	switch {
	case !(headroom > f.MinHeadroom):
		return 0
	case headroom >= f.FullHeadroom:
		return 1
	}
	return (headroom - f.MinHeadroom) / (f.FullHeadroom - f.MinHeadroom)
}

// rebuild computes a fresh snapshot and publishes it.
func (m *Model) rebuild() {
	m.buildMu.Lock()
	defer m.buildMu.Unlock()
	start := time.Now()
	now := m.now().UnixNano()
	m.dirty.Store(false) // before reading: a change after this re-marks it

	m.mu.Lock()
	if now-m.lastSweep >= m.cfg.RefreshInterval.Nanoseconds() {
		m.sweep(now)
	}
	tau := m.cfg.ArrivalWindow.Seconds()
	sc := m.scratch[:0]
	for _, sk := range m.skills {
		aht := m.handleTime(sk, now)
		sc = append(sc, skillCopy{
			name: sk.name, staffed: sk.staffed, avail: sk.avail, reserved: sk.reserved, busy: sk.busy, acw: sk.acw,
			capAgents: sk.capAgents, staffedMilli: sk.staffedMilli, availMilli: sk.availMilli,
			ahtSec: aht, arrivalPerMin: sk.ratePerMin(now, tau), waiting: sk.waiting,
			loadPerMin:    decayedPerMin(sk.load, sk.loadAt, now, sk.loadTau),
			abandonPerMin: decayedPerMin(sk.abandon, sk.abandonAt, now, tau),
		})
		// The gate's window follows the handle time (doc.go, Headroom); it
		// is read above with the τ its value was built with, and arrivals
		// from now on use the new one.
		if aht > 0 {
			sk.loadTau = min(aht, tau)
		}
	}
	for _, c := range m.calls {
		if !c.done && c.skill >= 0 {
			if o := &sc[c.skill].oldestSince; *o == 0 || c.since < *o {
				*o = c.since
			}
		}
	}
	m.mu.Unlock()
	m.scratch = sc

	stale, _ := m.stale(now)
	commit := m.commit.Load().c
	snap := &snapshot{
		stale:      stale,
		premiumMin: int32(m.cfg.Premium.MinAvailable),
		skills:     make(map[string]*skillView, len(sc)),
	}
	horizonMin := m.cfg.WaitingHorizon.Minutes()
	answerNs := m.cfg.ServiceLevel.AnswerTime.Nanoseconds()
	for i := range sc {
		c := &sc[i]
		v := &skillView{
			staffedWeighted:   float64(c.staffedMilli) / 1000,
			availableWeighted: float64(c.availMilli) / 1000,
			waiting:           c.waiting,
			ahtSec:            c.ahtSec,
			arrivalPerMin:     c.arrivalPerMin,
			loadPerMin:        c.loadPerMin,
		}
		if commit != nil {
			if x := commit.CommittedCalls(c.name); x > 0 && !math.IsInf(x, 1) {
				v.committedPerMin = x
			}
		}
		if c.oldestSince > 0 && now > c.oldestSince {
			v.oldestWait = time.Duration(now - c.oldestSince)
		}
		v.waitingTooLong = c.waiting > 0 && v.oldestWait.Nanoseconds() > answerNs
		var staffed, avail int32
		var capAt [numBuckets]float64
		capSum := 0.0
		for b := numBuckets - 1; b >= 0; b-- { // suffix sums: agents ≥ b/2
			staffed += c.staffed[b]
			avail += c.avail[b]
			capSum += c.capAgents[b]
			capAt[b] = math.Max(capSum, 0) // float drift must not read as negative agents
			v.staffedAtLeast[b], v.availAtLeast[b] = staffed, avail
			v.reserved += c.reserved[b]
			v.busy += c.busy[b]
			v.acw += c.acw[b]
		}
		v.staffed, v.available = staffed, avail
		v.capacityAgents, v.abandonPerMin = capAt[0], c.abandonPerMin
		// Callers who abandon are service already lost: they lower the
		// headroom on top of having been counted as arrivals.
		v.owedPerMin = float64(max(c.waiting, 0))/horizonMin + c.abandonPerMin
		backlog := v.committedPerMin + v.owedPerMin
		demand := c.arrivalPerMin + backlog
		// The gate (factor) takes the arrivals behind the load the agents
		// carry now when they are lower than arrival_window's memory, so
		// it opens within about a handle time of a fall (doc.go, Headroom).
		gate := min(c.loadPerMin, c.arrivalPerMin) + backlog
		for b := range numBuckets {
			if b > 0 && capAt[b] == capAt[b-1] {
				v.lambdaMax[b], v.headroom[b], v.factor[b] = v.lambdaMax[b-1], v.headroom[b-1], v.factor[b-1]
				continue
			}
			// Capacity counts agents not leaving after their contact, an
			// agent with k skills as 1/k to each (package doc).
			v.lambdaMax[b] = m.lambdaMaxFrac(capAt[b], c.ahtSec)
			v.headroom[b] = v.lambdaMax[b] - demand
			if v.waitingTooLong && !m.cfg.BidWhileQueueLate {
				continue // factor stays 0: the queue is already late
			}
			v.factor[b] = ramp(v.lambdaMax[b]-gate, m.cfg.Factor)
		}
		snap.skills[c.name] = v
	}
	m.snap.Store(snap)
	m.lastBuild = now
	m.builtWith = stale
	m.rebuildNanos.Store(int64(time.Since(start)))
	m.rebuilds.Add(1)
}

// View is the bid-path read: ≤ 50 ns, 0 allocations, never waits for Kafka.
// minProficiency rounds up to the next 0.5; premiumProficiency ≤ 0 means the
// campaign has no premium.
func (m *Model) View(skill string, minProficiency, premiumProficiency float64) View {
	s := m.snap.Load()
	if s.stale {
		return View{State: Stale}
	}
	sv := s.skills[skill]
	if sv == nil {
		return View{State: NoHeadroom}
	}
	b := bucketAtLeast(minProficiency)
	f := sv.factor[b]
	if f <= 0 {
		return View{State: NoHeadroom}
	}
	v := View{Factor: f}
	if premiumProficiency > 0 {
		if pb := max(bucketAtLeast(premiumProficiency), b); sv.availAtLeast[pb] >= s.premiumMin {
			v.PremiumFree = true
		}
	}
	return v
}

// Load is a skill's facts for whoever combines them with calls of its own
// (package pacing, which owns the calls bought and not yet arrived), all
// in calls per minute and for agents of any proficiency: capacity does not
// know which arrivals were bought, so it hands over the parts, not a
// difference someone must undo.
type Load struct {
	// LambdaMax is what the staffed agents can answer at the service
	// level and occupancy cap (Headroom's λ_max).
	LambdaMax float64
	// Arrivals is λ_now, every call arriving (arrival_window average).
	Arrivals float64
	// Backlog is the service owed on top: calls waiting over
	// waiting_horizon, plus callers abandoning in queue.
	Backlog float64
	// WaitingTooLong: the oldest waiting call is past the answer time.
	WaitingTooLong bool
}

// Load returns skill's facts; false when the feed is stale or the skill
// unknown. Safe for any goroutine (one atomic load).
func (m *Model) Load(skill string) (Load, bool) {
	s := m.snap.Load()
	if s.stale {
		return Load{}, false
	}
	sv := s.skills[skill]
	if sv == nil {
		return Load{}, false
	}
	return Load{LambdaMax: sv.lambdaMax[0], Arrivals: sv.arrivalPerMin, Backlog: sv.owedPerMin, WaitingTooLong: sv.waitingTooLong}, true
}

// Headroom is the extra calls per minute the skill can take at the service
// level target with all its staffed agents (any proficiency), after the
// calls arriving now, the committed calls and the queue; negative when over.
// waitingTooLong: the oldest waiting call has waited longer than
// service_level.answer_time. A stale feed or an unknown skill reads
// (0, false): View already stops those bids. Pacing reads Load instead.
func (m *Model) Headroom(skill string) (callsPerMin float64, waitingTooLong bool) {
	s := m.snap.Load()
	if s.stale {
		return 0, false
	}
	sv := s.skills[skill]
	if sv == nil {
		return 0, false
	}
	return sv.headroom[0], sv.waitingTooLong
}
