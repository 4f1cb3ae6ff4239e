package capacity

import (
	"math"
	"time"

	"github.com/callbid/callbid/events"
)

// handleWindow is a windowed Bayesian mean: the last `size` samples plus a
// seed worth seedWeight samples, so the estimate starts at the seed (the
// config) and follows the feed completely within `size` calls, with no
// long memory of an old regime (an EWMA with weight 0.05 needs ~60 calls to
// forget 95% of it).
type handleWindow struct {
	buf  [maxHandleWindow]float64
	n, i int
	sum  float64
}

// maxHandleWindow bounds capacity.handle_time_window.
const maxHandleWindow = 256

// seedWeight is the seed's weight in samples.
const seedWeight = 2

func (w *handleWindow) add(x float64, size int) {
	size = min(max(size, 1), maxHandleWindow)
	if w.n == size {
		w.sum -= w.buf[w.i]
	} else {
		w.n++
	}
	w.buf[w.i] = x
	w.sum += x
	w.i = (w.i + 1) % size
	if w.i == 0 && w.n == size {
		// Re-add from scratch once per lap so float drift cannot build up.
		w.sum = 0
		for _, v := range w.buf[:size] {
			w.sum += v
		}
	}
}

func (w *handleWindow) mean(seed float64) float64 {
	return (seed*seedWeight + w.sum) / (seedWeight + float64(w.n))
}

// cautious is the mean plus half its standard error. Handle times are
// skewed (talk is often near-exponential), so the mean of 20 calls is off by
// ±20%; erring high by half a standard error makes a short window's noise
// understate capacity more often than overstate it.
func (w *handleWindow) cautious(seed float64, size int) float64 {
	mu := w.mean(seed)
	if w.n < 2 {
		return mu
	}
	size = min(max(size, 1), maxHandleWindow)
	var ss float64
	for _, v := range w.buf[:min(w.n, size)] {
		ss += (v - mu) * (v - mu)
	}
	sd := math.Sqrt(ss / float64(w.n-1))
	return mu + 0.5*sd/math.Sqrt(seedWeight+float64(w.n))
}

// minOwnSamples is how many ring or ACW periods of a skill's own agents
// its estimate needs before it replaces the all-skills one.
const minOwnSamples = 3

// handleSample is the part of one call's handle time known when it ends:
// its talk time plus the learned ring (RESERVED) time that preceded it, the
// skill's own when its single-skill agents have shown enough, else all
// agents'. The after-call work (ACW) that follows is not known yet; it is
// added when the handle time is read (handleTime), so the first calls'
// samples do not keep the ACW default for the whole window. Caller holds mu.
func (m *Model) handleSample(sk *skillState, talkSec float64) float64 {
	ring := m.ringWin.mean(0)
	if sk.ringWin.n >= minOwnSamples {
		ring = sk.ringWin.mean(0)
	}
	return talkSec + ring
}

// handleTime is a skill's handle time in seconds as capacity uses it: the
// cautious mean of the talk + ring samples plus the ACW estimate of now,
// each a windowed Bayesian mean seeded by its share of the skill's
// configured handle time. Caller holds mu.
//
// In a cold center (agents who just logged in) the first calls to end are
// the short ones, so the mean of the calls that ended reads low: 208 s
// against 665 s five minutes after 500 agents with 10-minute talks logged
// in. The calls still in progress say their talk lasts at least as long as
// it has so far; talkRing.censored turns the last calls answered into an
// estimate that counts them, used instead of the window while calls are in
// progress. (The larger of the two, tried first, read the short closed-loop
// runs' capacity low: the larger of two noisy means is biased high.)
func (m *Model) handleTime(sk *skillState, now int64) float64 {
	acwSeed := sk.ahtSeed * m.acwShare()
	acw := m.acwWin.mean(acwSeed)
	if sk.acwWin.n >= minOwnSamples {
		acw = sk.acwWin.mean(acwSeed)
	}
	talk := sk.ht.cautious(sk.ahtSeed-acwSeed, m.cfg.HandleTimeWindow)
	if c, _, ok := sk.talks.censored(sk.ahtSeed-acwSeed, now); ok {
		// Bounded: the censored estimate assumes talk ends at a constant
		// rate, which a talk of fixed length does not.
		talk = math.Min(c, 2*math.Max(talk, sk.ahtSeed-acwSeed))
	}
	return talk + acw
}

// talkRing holds the last calls answered of a skill: when each was
// answered and, once it ended, its talk time.
type talkRing struct {
	at  [talkRingSize]int64   // unix ns answered
	dur [talkRingSize]float32 // talk seconds; -1 while in progress
	seq [talkRingSize]uint64  // which answer holds the slot
	n   uint64                // answers so far
}

// talkRingSize is how many answered calls the censored estimate looks at.
const talkRingSize = 256

// talkRef finds a call's slot in its skill's talkRing (seq 0: none).
type talkRef struct {
	seq   uint64
	skill int32
}

// noTalk marks a call that ended with no (or a broken) talk time.
const noTalk = -2

// talkSeedWeight is the seed's weight, in calls, in the censored estimate:
// a cold center's first calls are few, and its early completions noisy.
const talkSeedWeight = 20

// maxTalkSec bounds a talk in progress (as a talk record's 4 h).
const maxTalkSec = 4 * 3600

func (r *talkRing) answer(skill int32, at int64) talkRef {
	r.n++
	i := r.n % talkRingSize
	r.at[i], r.dur[i], r.seq[i] = at, -1, r.n
	return talkRef{seq: r.n, skill: skill}
}

func (r *talkRing) end(ref talkRef, talkSec float64) {
	i := ref.seq % talkRingSize
	if r.seq[i] != ref.seq {
		return
	}
	r.dur[i] = float32(talkSec)
	if !(talkSec > 0 && talkSec <= maxTalkSec) {
		r.dur[i] = noTalk
	}
}

// censored is the mean talk of the last calls answered, counting those in
// progress for the time they have lasted (the exponential's estimate:
// talk time seen ÷ talks ended), with seed worth talkSeedWeight calls.
// ok is false while no call is in progress: then the calls that ended say
// all there is.
func (r *talkRing) censored(seed float64, now int64) (talk, ended float64, ok bool) {
	var seen float64
	inProgress := false
	for k := range min(r.n, talkRingSize) {
		i := (r.n - k) % talkRingSize
		if d := r.dur[i]; d >= 0 {
			seen += float64(d)
			ended++
			continue
		} else if d == noTalk {
			continue
		}
		seen += min(max(float64(now-r.at[i])/1e9, 0), maxTalkSec)
		inProgress = true
	}
	if !inProgress {
		return 0, ended, false
	}
	return (seen + talkSeedWeight*seed) / (ended + talkSeedWeight), ended, true
}

// acwShare is the share of a handle time that is after-call work before
// any is observed: default_after_call_work over default_handle_time (the
// config validates it below 1). A skill configured with a 24 s handle time
// then starts with 2.4 s of ACW rather than the 30 s default, which would
// be more than its whole handle time.
func (m *Model) acwShare() float64 {
	ht := m.cfg.DefaultHandleTime.Seconds()
	if ht <= 0 {
		return 0
	}
	return min(max(m.cfg.DefaultAfterCallWork.Seconds()/ht, 0), 0.9)
}

// addPeriod records an agent's ring or ACW period of d seconds: for all
// agents, and for the skill of a single-skill agent. Caller holds mu.
func (m *Model) addPeriod(a *agent, acw bool, d float64) {
	size := m.cfg.HandleTimeWindow
	if acw {
		m.acwWin.add(d, size)
	} else {
		m.ringWin.add(d, size)
	}
	if len(a.skills) != 1 {
		return
	}
	sk := m.skills[a.skills[0].idx]
	if acw {
		sk.acwWin.add(d, size)
	} else {
		sk.ringWin.add(d, size)
	}
}

// seedHandleTime is a skill's starting handle time: its
// capacity.skill_handle_times entry or default_handle_time.
func (m *Model) seedHandleTime(skill string) float64 {
	if d, ok := m.cfg.SkillHandleTimes[skill]; ok && d > 0 {
		return d.Seconds()
	}
	return m.cfg.DefaultHandleTime.Seconds()
}

// leavingAfterContact reports whether an agent event announces that the
// agent takes no further call: next_routing_state OFFLINE or NOT_ROUTABLE.
func leavingAfterContact(ev *events.AgentState) bool {
	return ev.NextRoutingState == events.StateOffline || ev.NextRoutingState == events.StateNotRoutable
}

// capacityShare is what one agent adds to each of its skills' capacity (see
// the package doc, "Agents with several skills"): nothing when it is not
// staffed or is leaving after its contact, otherwise an equal share of one
// agent over its skills.
func capacityShare(a *agent) float64 {
	if !a.state.staffed() || a.leaving || len(a.skills) == 0 {
		return 0
	}
	return 1 / float64(len(a.skills))
}

// lambdaMaxFrac is λ_max for a fractional number of agents, linear between
// the whole numbers around it (Erlang C is defined for whole servers).
func (m *Model) lambdaMaxFrac(n, aht float64) float64 {
	if !(n > 0) {
		return 0
	}
	n = math.Min(n, 1e6)
	lo := math.Floor(n + 1e-9)
	frac := n - lo
	v := m.lambdaMaxCached(int32(lo), aht)
	if frac < 1e-9 {
		return v
	}
	return v + frac*(m.lambdaMaxCached(int32(lo)+1, aht)-v)
}

// decayedAdd adds one event at t to a rate kept as an exponentially
// decaying sum (per second, time constant tau seconds), as arrive does.
func decayedAdd(rate float64, at, t int64, tau float64) (float64, int64) {
	if t >= at {
		return rate*math.Exp(-float64(t-at)/1e9/tau) + 1/tau, t
	}
	return rate + math.Exp(-float64(at-t)/1e9/tau)/tau, at
}

// decayedPerMin reads such a rate at now, per minute.
func decayedPerMin(rate float64, at, now int64, tau float64) float64 {
	if now <= at {
		return rate * 60
	}
	return rate * math.Exp(-float64(now-at)/1e9/tau) * 60
}

// SetClock replaces the model's clock (time.Now), for simulations that run
// the model on simulated time; call it before feeding events.
func (m *Model) SetClock(now func() time.Time) { m.now = now }

// Rebuild computes and publishes a fresh snapshot now, for simulations that
// drive the model without Run.
func (m *Model) Rebuild() { m.rebuild() }

// LambdaMax is the skill's capacity fact: the calls per minute its capacity
// agents (any proficiency) can take at the service-level target, before any
// demand is subtracted; 0 for a stale feed or an unknown skill.
func (m *Model) LambdaMax(skill string) float64 {
	s := m.snap.Load()
	if s.stale {
		return 0
	}
	if sv := s.skills[skill]; sv != nil {
		return sv.lambdaMax[0]
	}
	return 0
}
