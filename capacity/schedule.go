package capacity

import (
	"maps"
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
// The table is copy-on-write: HandleSchedule (the schedule consumer) builds
// a new one under Channels.mu; Rebuild reads it.

// aheadStep and aheadSteps are the offsets ViewAhead is precomputed for:
// every minute up to an hour.
const (
	aheadStep  = time.Minute
	aheadSteps = 61
)

type scheduleTable struct {
	plans map[string][]plan // by record key
}

type plan struct {
	start, end int64 // unix ns, [start, end)
	skill      string
	ch         channel.Channel
	agents     float64
}

// HandleSchedule applies one checked cc.schedule.v1 record: it replaces
// the plan of its key (an agent or a skill). Skills no campaign uses are
// dropped; intervals already over are dropped.
func (c *Channels) HandleSchedule(ev *events.Schedule) error {
	now := c.voice.now().UnixNano()
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
			c.mu.Lock()
			k, tracked := c.skills[name]
			c.mu.Unlock()
			if !ok || !tracked || !(s.Agents > 0) {
				continue
			}
			ps = append(ps, plan{start: iv.Start.UnixNano(), end: end, skill: k, ch: ch, agents: s.Agents})
		}
	}
	key := ev.Key()
	c.mu.Lock()
	old := c.sched
	t := &scheduleTable{plans: map[string][]plan{}}
	if old != nil {
		t.plans = maps.Clone(old.plans)
	}
	if len(ps) == 0 {
		delete(t.plans, key)
	} else if _, ok := t.plans[key]; ok || len(t.plans) < c.voice.cfg.MaxAgents {
		t.plans[key] = ps
	}
	c.sched = t
	c.mu.Unlock()
	c.changed()
	return nil
}

// planned is the agents planned on skill × ch at t. A nil table plans
// nothing.
func (t *scheduleTable) planned(skill string, ch channel.Channel, at int64) float64 {
	if t == nil {
		return 0
	}
	sum := 0.0
	for _, ps := range t.plans {
		for i := range ps {
			p := &ps[i]
			if p.ch == ch && p.skill == skill && p.start <= at && at < p.end {
				sum += p.agents
			}
		}
	}
	return sum
}

// minPlanned is the fewest agents planned over [from, to]: the value at
// from and at every plan boundary inside.
func (t *scheduleTable) minPlanned(skill string, ch channel.Channel, from, to int64) float64 {
	m := t.planned(skill, ch, from)
	if t == nil {
		return m
	}
	for _, ps := range t.plans {
		for i := range ps {
			p := &ps[i]
			if p.ch != ch || p.skill != skill {
				continue
			}
			for _, b := range [2]int64{p.start, p.end} {
				if b > from && b <= to {
					m = math.Min(m, t.planned(skill, ch, b))
				}
			}
		}
	}
	return m
}

// has reports whether any plan names skill × ch.
func (t *scheduleTable) has(skill string, ch channel.Channel) bool {
	if t == nil {
		return false
	}
	for _, ps := range t.plans {
		if slices.ContainsFunc(ps, func(p plan) bool { return p.ch == ch && p.skill == skill }) {
			return true
		}
	}
	return false
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
