package capacity

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/callbid/callbid/channel"
	"github.com/callbid/callbid/events"
)

// Schedules (cc.schedule.v1) tell the model how staffing will change: a
// shift starting in 10 minutes, one ending. Live state says who is there
// now; the schedule says what changes, so the agents expected at time t on
// a skill × channel are
//
//	planned(t) ≥ planned(now):  max(live, planned(t))          (a shift starts)
//	planned(t) < planned(now):  max(0, live − (planned(now) − planned(t)))   (one ends)
//
// (agents who log in early are not counted twice, agents who leave are
// subtracted from those there). A call bought now arrives after a delay d
// and then needs an agent for a handle time: ViewAhead(skill, ch, d) uses
// the fewest agents expected over [now+d, now+d+AHT], so buying starts
// about d before a shift and stops about d + AHT before it ends.
//
// The schedule consumer keeps the plans per key under Channels.mu; Rebuild
// indexes them into step functions per skill × channel when they changed
// (an immutable table it reads without the lock).

// aheadStep and aheadSteps are the offsets ViewAhead is precomputed for:
// every minute up to an hour.
const (
	aheadStep  = time.Minute
	aheadSteps = 61
)

// scheduleTable is the plans indexed for Rebuild: per skill × channel a
// step function of the agents planned. Immutable once built.
type scheduleTable struct {
	steps map[stepKey][]step
}

type stepKey struct {
	skill string
	ch    channel.Channel
}

// step: from at on (unix ns), agents are planned, until the next step.
type step struct {
	at     int64
	agents float64
}

type plan struct {
	start, end int64 // unix ns, [start, end)
	skill      string
	ch         channel.Channel
	agents     float64
}

// HandleSchedule applies one checked cc.schedule.v1 record: it replaces
// the plan of its key (an agent or a skill). Skills no campaign uses are
// dropped; intervals already over are dropped. The indexed table is built
// at the next Rebuild, once for however many records came.
func (c *Channels) HandleSchedule(ev *events.Schedule) error {
	now := c.voice.now().UnixNano()
	key := ev.Key()
	c.mu.Lock()
	defer c.mu.Unlock()
	var ps []plan
	for _, iv := range ev.Intervals {
		end := iv.End.UnixNano()
		if end <= now {
			continue
		}
		for _, s := range iv.Staffing {
			name := s.Skill
			if name == "" {
				name = ev.Skill
			}
			ch, ok := channel.Parse(s.Channel)
			if s.Channel == "" {
				ch, ok = channel.Voice, true
			}
			k, tracked := c.skills[name]
			if !ok || !tracked || !(s.Agents > 0) {
				continue
			}
			ps = append(ps, plan{start: iv.Start.UnixNano(), end: end, skill: k, ch: ch, agents: s.Agents})
		}
	}
	if c.plans == nil {
		c.plans = map[string][]plan{}
	}
	if len(ps) == 0 {
		delete(c.plans, key)
	} else if _, ok := c.plans[key]; ok || len(c.plans) < c.voice.cfg.MaxAgents {
		c.plans[key] = ps
	}
	c.schedDirty = true
	c.changed()
	return nil
}

// indexSchedule builds the step functions from the plans (caller holds
// mu); plans already over are forgotten.
func (c *Channels) indexSchedule(now int64) *scheduleTable {
	if len(c.plans) == 0 {
		return nil
	}
	type edge struct {
		at    int64
		delta float64
	}
	edges := map[stepKey][]edge{}
	for key, ps := range c.plans {
		ps = slices.DeleteFunc(ps, func(p plan) bool { return p.end <= now })
		if len(ps) == 0 {
			delete(c.plans, key)
			continue
		}
		c.plans[key] = ps
		for _, p := range ps {
			k := stepKey{p.skill, p.ch}
			edges[k] = append(edges[k], edge{p.start, p.agents}, edge{p.end, -p.agents})
		}
	}
	t := &scheduleTable{steps: make(map[stepKey][]step, len(edges))}
	for k, es := range edges {
		slices.SortFunc(es, func(a, b edge) int { return cmp.Compare(a.at, b.at) })
		var st []step
		sum := 0.0
		for i, e := range es {
			sum += e.delta
			if i+1 < len(es) && es[i+1].at == e.at {
				continue // one step per instant
			}
			st = append(st, step{at: e.at, agents: math.Max(sum, 0)}) // float drift must not read as negative agents
		}
		t.steps[k] = st
	}
	return t
}

// planned is the agents planned on skill × ch at t. A nil table plans
// nothing.
func (t *scheduleTable) planned(skill string, ch channel.Channel, at int64) float64 {
	if t == nil {
		return 0
	}
	st := t.steps[stepKey{skill, ch}]
	i, found := slices.BinarySearchFunc(st, at, func(s step, at int64) int { return cmp.Compare(s.at, at) })
	if found {
		return st[i].agents
	}
	if i == 0 {
		return 0
	}
	return st[i-1].agents
}

// minPlanned is the fewest agents planned over [from, to]: the value at
// from and at every step inside.
func (t *scheduleTable) minPlanned(skill string, ch channel.Channel, from, to int64) float64 {
	m := t.planned(skill, ch, from)
	if t == nil {
		return m
	}
	st := t.steps[stepKey{skill, ch}]
	i, _ := slices.BinarySearchFunc(st, from+1, func(s step, at int64) int { return cmp.Compare(s.at, at) })
	for ; i < len(st) && st[i].at <= to; i++ {
		m = math.Min(m, st[i].agents)
	}
	return m
}

// has reports whether any plan names skill × ch.
func (t *scheduleTable) has(skill string, ch channel.Channel) bool {
	return t != nil && len(t.steps[stepKey{skill, ch}]) > 0
}

// expected is the agents expected at a time whose plan is plannedT, with
// live agents now and plannedNow planned now (the package rule above).
func expected(live, plannedNow, plannedT float64) float64 {
	if plannedT >= plannedNow {
		return math.Max(live, plannedT)
	}
	return math.Max(0, live-(plannedNow-plannedT))
}

// plannedCallbackSlots is the callbacks the schedule adds within window:
// voice agents planned beyond those expected from live state, and agents
// planned on the callback channel itself, each taking occ·60/aht calls a
// minute, summed minute by minute.
func (t *scheduleTable) plannedCallbackSlots(skill string, now int64, window time.Duration, occ, aht, live float64) float64 {
	if t == nil {
		return 0
	}
	pNow := t.planned(skill, channel.Voice, now)
	slots := 0.0
	perMin := occ * 60 / math.Max(aht, 1)
	for k := int64(0); k < int64(window/time.Minute); k++ {
		at := now + k*int64(time.Minute)
		extra := math.Max(0, expected(live, pNow, t.planned(skill, channel.Voice, at))-live)
		slots += (extra + t.planned(skill, channel.Callback, at)) * perMin
	}
	return slots
}

// ViewAhead is View for a contact that arrives after delay (a call about
// 5 minutes after the win): the headroom with the agents the schedule
// expects then, over the contact's handle time. delay ≤ 0 is View; beyond
// an hour reads the hour. No lock, no allocation.
func (c *Channels) ViewAhead(skill string, ch channel.Channel, delay time.Duration) ChannelView {
	s := c.snap.Load()
	if s.stale {
		return ChannelView{State: Stale}
	}
	v := s.skills[skill]
	if v == nil || int(ch) >= channel.Count {
		return ChannelView{State: NoHeadroom}
	}
	a := v.ahead[ch]
	if delay <= 0 || a == nil {
		return v.now[ch]
	}
	return a[min(int((delay+aheadStep/2)/aheadStep), aheadSteps-1)]
}
