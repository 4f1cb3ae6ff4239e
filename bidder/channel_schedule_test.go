package bidder

import (
	"strconv"
	"testing"
	"time"

	"github.com/callbid/callbid/channel"
	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/forecast"
	"github.com/callbid/callbid/numbers"
)

// shiftSim is the acceptance run for schedules on a simulated clock: ten
// voice agents are planned from +10m to +40m and nobody is on before; a
// call arrives 5 minutes after each win. The bidder reads capacity 5
// minutes ahead (contact_delay), so it should start buying about 5 minutes
// before the shift and stop about a delay plus a handle time before it
// ends. The test serves the calls with its own simple queue (FIFO, fixed
// 300 s handle time, the planned agents) and measures the service level.
type shiftSim struct {
	l        *channelLoop
	agents   [10]time.Duration // when each agent is free again
	queue    []simCall
	arrivals []simCall // scheduled, by arrival time
	answered int
	inSL     int
	arrived  int
	wins     []time.Duration
}

type simCall struct {
	id     string
	dnis   string
	arrive time.Duration
}

const (
	shiftStart = 10 * time.Minute
	shiftEnd   = 40 * time.Minute
	callDelay  = 5 * time.Minute
	handle     = 300 * time.Second
)

func TestScheduleShiftClosedLoop(t *testing.T) {
	l := newChannelLoop(t, []ChannelConfig{{Channel: "voice", ContactDelay: callDelay}}, nil)
	sim := &shiftSim{l: l}
	if err := l.ch.HandleSchedule(&events.Schedule{Skill: "mortgage", Intervals: []events.ScheduleInterval{{
		Start: testNow.Add(shiftStart), End: testNow.Add(shiftEnd),
		Staffing: []events.PlannedStaff{{Channel: "voice", Agents: 10}}}}}); err != nil {
		t.Fatal(err)
	}
	var onShift bool
	projected, projectedAt := -1.0, 20*time.Minute
	arrivedAfter := 0 // calls arriving in [projectedAt, projectedAt+10m)
	for el := time.Duration(0); el <= 50*time.Minute; el += 10 * time.Second {
		l.now = testNow.Add(el)
		on := el >= shiftStart && el < shiftEnd
		if el%time.Minute == 0 || on != onShift { // heartbeats; logins and logouts at the shift's edges
			l.keepalive()
			for i := range sim.agents {
				st := events.StateOffline
				if on {
					st = events.StateAvailable
					if sim.agents[i] > el {
						st = events.StateBusy
					}
				}
				l.agent("agent-"+strconv.Itoa(i), st)
			}
		}
		onShift = on
		if el == projectedAt {
			projected = sim.project(el)
		}
		before := sim.arrived
		sim.step(el, on)
		if el >= projectedAt && el < projectedAt+10*time.Minute {
			arrivedAfter += sim.arrived - before
		}
		if el%time.Minute == 0 {
			if got, num, ref := l.bid(); got == "voice" {
				if w := l.pools.Win(ref, false, l.now); w != numbers.WinLeased {
					t.Fatalf("win: %v", w)
				}
				sim.wins = append(sim.wins, el)
				sim.arrivals = append(sim.arrivals, simCall{id: "call-" + strconv.Itoa(len(sim.wins)), dnis: num, arrive: el + callDelay})
			}
		}
	}
	if len(sim.wins) == 0 {
		t.Fatal("no bid at all")
	}
	first, last := sim.wins[0], sim.wins[len(sim.wins)-1]
	t.Logf("%d wins from +%v to +%v; %d calls arrived, %d answered, %d within 20 s", len(sim.wins), first, last, sim.arrived, sim.answered, sim.inSL)
	if first < shiftStart-callDelay-time.Minute || first > shiftStart-callDelay+time.Minute {
		t.Errorf("first bid at +%v, want about +%v (the shift at +%v less the %v delay)", first, shiftStart-callDelay, shiftStart, callDelay)
	}
	if last > shiftEnd-callDelay {
		t.Errorf("last bid at +%v: its call would arrive after the shift ends at +%v", last, shiftEnd)
	}
	// The demand feed's projection (forecast.Project, as the feed would call
	// it) for the 10 minutes after +20m against the calls that came.
	t.Logf("projected %.1f calls for [+20m, +30m), %d arrived", projected, arrivedAfter)
	if d := projected - float64(arrivedAfter); arrivedAfter == 0 || d > 0.2*float64(arrivedAfter) || -d > 0.2*float64(arrivedAfter) {
		t.Errorf("projection %.1f, arrivals %d: off by more than 20%%", projected, arrivedAfter)
	}
	if sl := float64(sim.inSL) / float64(sim.arrived); sim.arrived < 10 || sl < 0.8 {
		t.Errorf("service level %.2f over %d calls, want ≥ 0.8 over at least 10", sl, sim.arrived)
	}
}

// step arrives due calls, serves the queue with free agents, ends calls.
func (s *shiftSim) step(el time.Duration, on bool) {
	l := s.l
	for len(s.arrivals) > 0 && s.arrivals[0].arrive <= el {
		c := s.arrivals[0]
		s.arrivals = s.arrivals[1:]
		s.arrived++
		l.call(c.id, events.CallOffered, "", c.dnis)
		s.queue = append(s.queue, c)
	}
	for i := range s.agents {
		if s.agents[i] != 0 && s.agents[i] <= el {
			s.agents[i] = 0
			l.callEnd("agent-call-"+strconv.Itoa(i), handle)
			if on {
				l.agent("agent-"+strconv.Itoa(i), events.StateAvailable)
			}
		}
	}
	for i := range s.agents {
		if !on || len(s.queue) == 0 || s.agents[i] != 0 {
			continue
		}
		c := s.queue[0]
		s.queue = s.queue[1:]
		s.answered++
		if el-c.arrive <= 20*time.Second {
			s.inSL++
		}
		s.agents[i] = el + handle
		l.call(c.id, events.CallAnswered, "", c.dnis)
		l.agent("agent-"+strconv.Itoa(i), events.StateBusy)
		l.ended[("agent-call-" + strconv.Itoa(i))] = c.id
	}
}

// project is the demand feed's projection at el for the next 10 minutes:
// the wins so far, the pace of the last 10 minutes, and the delays of the
// calls that have arrived (forecast.EmpiricalCDF).
func (s *shiftSim) project(el time.Duration) float64 {
	k := forecast.Key{Skill: "mortgage", Channel: channel.Voice}
	var wins []forecast.Win
	var delays []time.Duration
	pace := 0.0
	for _, w := range s.wins {
		wins = append(wins, forecast.Win{Key: k, At: testNow.Add(w), Contacts: 1})
		if w+callDelay <= el {
			delays = append(delays, callDelay)
		}
		if w > el-10*time.Minute {
			pace += 0.1
		}
	}
	now := testNow.Add(el)
	return forecast.Project(forecast.Input{Wins: wins, Rates: []forecast.Rate{{Key: k, WinsPerMin: pace, Contacts: 1}},
		Delay: forecast.EmpiricalCDF(delays), From: now, Interval: 10 * time.Minute, N: 1})[k][0]
}
