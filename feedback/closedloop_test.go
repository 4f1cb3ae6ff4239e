package feedback

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callbid/callbid/bidder"
	"github.com/callbid/callbid/capacity"
	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/hitrate"
	"github.com/callbid/callbid/kafkaio"
	"github.com/callbid/callbid/numbers"
	"github.com/callbid/callbid/openrtb"
	"github.com/callbid/callbid/traffic"
	"github.com/rs/zerolog"
)

// The closed loop: an independent contact center (FIFO queue per skill,
// ring, talk, wrap-up, patience, logins and logouts announced with
// next_routing_state) that callbid did not write, fed by its own organic
// callers and by the callers of the impressions callbid buys, driving the
// real bid decision (bidder.Decide with the real capacity.Model and
// Feedback as its dependencies) on a simulated clock with a fixed seed.
// The exchange wins 30% of bids whatever the price; publishers' true call
// rates per won impression are 5%, 1% and 0.2%. The center's parameters
// differ from callbid's defaults (handle times, delays, agent counts).
//
// The judge pools windows so Poisson noise does not decide: service level
// (answered within 20 s, abandoned counting as missed) and offered /
// capacity over steady periods (from 30 s after a staffing change), where
// capacity is the largest arrival rate the agents on shift can take at
// 80/20 and 0.85 occupancy by the center's own Erlang C on its true handle
// time; no 30-s stretch above 1.5× capacity; expected calls bought in the
// 30 s after start, a resume and a drop within 1.2× what the agents can
// answer; bids stop within 5 s of the last agents leaving (or announcing
// it) and resume within 5 s of their return; the 5% publisher is bid ≥ 2×
// the 0.2% one.

type clSkill struct {
	name               string
	talk, ring, wrap   float64 // mean talk (exponential), ring and wrap-up seconds
	patience           float64 // mean seconds a caller waits before abandoning
	organic            float64 // organic calls per minute
	delayMin, delayMax float64 // seconds from win to call, log-uniform
	reqPerSec          float64 // bid requests per second for this skill
	schedule           []clStep
}

// trueF is the share of a win's calls due by age a (seconds): delays are
// log-uniform on [delayMin, delayMax].
func (s clSkill) trueF(a float64) float64 {
	switch {
	case a >= s.delayMax:
		return 1
	case a <= s.delayMin:
		return 0
	}
	return math.Log(a/s.delayMin) / math.Log(s.delayMax/s.delayMin)
}

type clStep struct {
	at     float64 // seconds
	agents int
}

type clScenario struct {
	name     string
	seconds  float64
	seeds    []uint64 // runs pooled
	skills   []clSkill
	minCalls int     // answered calls each skill must reach (0: not judged)
	short    bool    // judged on service level, bursts and lags only (too short to learn rates)
	htFactor float64 // the config's handle time ÷ the center's true one
	// judge30From, when set, is where the asserted 30-s stretches start;
	// the worst stretch of the whole run is still reported. No run sets it
	// now (the 500-agent run had it at 15 min while its call rates
	// collapsed before long delays were seen).
	judge30From float64
	// minSupply, when set, is the least offered ÷ capacity (steady) the
	// exchange's requests would bring had callbid bid on all of them: the
	// run then shows that pacing, not the request supply, limits buying.
	minSupply float64
}

var clPubs = []struct {
	id   string
	rate float64
}{{"pub-high", 0.05}, {"pub-mid", 0.01}, {"pub-low", 0.002}}

const clWinProb = 0.3

var clCauses = map[string]int{}

var clDebug = os.Getenv("CL_DEBUG") != ""

var clPPS, _ = strconv.ParseFloat(os.Getenv("CL_PPS"), 64)

// clDebugFrom/To (CL_DEBUG_FROM, CL_DEBUG_TO, seconds) log every tick in
// that span under CL_DEBUG, not only every 20 s.
var clDebugFrom, _ = strconv.ParseFloat(os.Getenv("CL_DEBUG_FROM"), 64)
var clDebugTo, _ = strconv.ParseFloat(os.Getenv("CL_DEBUG_TO"), 64)

// clFixedTalk (CL_TALK=fixed) makes every talk last exactly its mean: a
// diagnostic, so the first calls to end are not the short ones.
var clFixedTalk = os.Getenv("CL_TALK") == "fixed"

type clCall struct {
	id       string
	skill    int
	arrive   float64
	answered float64 // -1 until answered
	bought   bool
}

type clAgent struct {
	id       string
	seq      int64
	skill    int
	state    string
	until    float64 // end of the current phase
	call     *clCall
	online   bool
	leaving  bool
	nextBeat float64
}

type clWindow struct {
	arrivals, within, offered int
	capCalls                  float64 // capacity × window length (calls)
	boughtExp                 float64 // expected calls bought (true rates) by wins in the window
	bidExp                    float64 // expected calls of the bids in the window (true p_win and rates)
	charged                   float64 // expected calls the bucket charged the bids in the window (debug)
	supplyExp                 float64 // expected calls had callbid bid on every request in the window
	steady                    bool
}

type clResult struct {
	name                string
	skill               string
	arr, within, arrAll int
	withinAll, off      int
	capc                float64
	sl, slAll, ratio    float64
	supplyCalls, supply float64 // steady: calls on offer (organic + every request bid), ÷ capacity
	worst30, worst30All float64
	worst30Judged       float64 // worst steady stretch from judge30From on
	burst               []string
	burstMax            float64
	stopLag, resumeLag  float64
	answered            int
	highBid, lowBid     float64
	bids, wins          int
}

// clErlangLambdaMax is the center's own capacity: the largest calls/min n
// agents with handle time aht answer at 80% within 20 s and ≤ 0.85 occupancy.
func clErlangLambdaMax(n int, aht float64) float64 {
	if n <= 0 {
		return 0
	}
	sl := func(a float64) float64 {
		if a >= float64(n) {
			return 0
		}
		b := 1.0
		for k := 1; k <= n; k++ {
			b = a * b / (float64(k) + a*b)
		}
		c := float64(n) * b / (float64(n) - a*(1-b))
		return 1 - c*math.Exp(-(float64(n)-a)*20/aht)
	}
	lo, hi := 0.0, 0.85*float64(n)
	if sl(hi) >= 0.8 {
		return hi / aht * 60
	}
	for range 60 {
		mid := (lo + hi) / 2
		if sl(mid) >= 0.8 {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo / aht * 60
}

type clReserver struct{ n int }

func (r *clReserver) PoolIndex(string) (int, bool) { return 0, true }
func (r *clReserver) Reserve(int, *numbers.Claim, time.Time) (numbers.Reservation, bool) {
	r.n++
	return numbers.Reservation{E164: "+18005550100", Ext: strconv.Itoa(r.n % 1000)}, true
}
func (r *clReserver) Win(numbers.Ref, bool, time.Time) numbers.WinResult    { return 0 }
func (r *clReserver) Loss(numbers.Ref, time.Time)                           {}
func (r *clReserver) Bill(numbers.Ref, time.Time) (numbers.WinResult, bool) { return 0, true }
func (r *clReserver) Restore(numbers.Ref, *numbers.Claim, time.Time, bool, time.Time) (numbers.WinResult, bool) {
	return 0, true
}
func (r *clReserver) Replaying() bool              { return false }
func (r *clReserver) AwaitLease(numbers.Ref) error { return nil }

// clPool runs sc with each of its seeds and pools the results per skill:
// windows are summed, the worst stretch, burst and lags are the worst run's,
// answered calls and bids are averaged.
func clPool(t *testing.T, sc clScenario) []clResult {
	var out []clResult
	var highs, lows [][]float64
	for i, seed := range sc.seeds {
		rs := runClosedLoop(t, sc, seed)
		if i == 0 {
			out = rs
			highs, lows = make([][]float64, len(rs)), make([][]float64, len(rs))
		} else {
			for k, r := range rs {
				o := &out[k]
				o.arr += r.arr
				o.within += r.within
				o.arrAll += r.arrAll
				o.withinAll += r.withinAll
				o.off += r.off
				o.capc += r.capc
				o.supplyCalls += r.supplyCalls
				o.answered += r.answered
				o.bids += r.bids
				o.wins += r.wins
				o.worst30 = math.Max(o.worst30, r.worst30)
				o.worst30All = math.Max(o.worst30All, r.worst30All)
				o.worst30Judged = math.Max(o.worst30Judged, r.worst30Judged)
				o.burstMax = math.Max(o.burstMax, r.burstMax)
				o.burst = append(o.burst, r.burst...)
				o.stopLag = math.Max(o.stopLag, r.stopLag)
				o.resumeLag = math.Max(o.resumeLag, r.resumeLag)
			}
		}
		for k, r := range rs {
			highs[k] = append(highs[k], r.highBid)
			lows[k] = append(lows[k], r.lowBid)
		}
	}
	n := len(sc.seeds)
	for k := range out {
		o := &out[k]
		o.sl = float64(o.within) / math.Max(float64(o.arr), 1)
		o.slAll = float64(o.withinAll) / math.Max(float64(o.arrAll), 1)
		o.ratio = float64(o.off) / math.Max(o.capc, 1e-9)
		o.supply = o.supplyCalls / math.Max(o.capc, 1e-9)
		o.answered /= n
		o.highBid, o.lowBid = mean(highs[k]), mean(lows[k])
	}
	return out
}

func runClosedLoop(t *testing.T, sc clScenario, seed uint64) []clResult {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	now := 0.0
	clock := func() time.Time { return t0.Add(time.Duration(now * float64(time.Second))) }

	var skillNames []string
	var camps []bidder.CampaignConfig
	var fcamps []Campaign
	banner := `<a href="{{tel_uri}}">Call {{number}}</a>`
	for i, s := range sc.skills {
		skillNames = append(skillNames, s.name)
		camps = append(camps, bidder.CampaignConfig{ID: "camp-" + s.name, AdvertiserDomain: s.name + ".example",
			AdCategories: []string{"IAB13-7"}, Skill: bidder.SkillConfig{Name: s.name},
			ValuePerCall: 40_000_000, ExpectedCallRate: 0.01, MaxCPM: 5_000_000_000,
			Targeting:  bidder.TargetingConfig{Keywords: []string{"k" + strconv.Itoa(i)}},
			Creatives:  []bidder.CreativeConfig{{ID: "c" + strconv.Itoa(i), Type: "banner", W: 300, H: 250, Template: banner}},
			NumberPool: "pool"})
		fcamps = append(fcamps, Campaign{ID: "camp-" + s.name, Skill: s.name, PriorCallRate: 0.01, PriorClose: 0.1})
	}
	// The operator's config: the center's handle time (the runs)
	// or 25% above it (the long run), and a time-to-call guess of a minute.
	capCfg := capacity.Config{StaleAfter: 30 * time.Second, SkillHandleTimes: map[string]time.Duration{}}
	for _, s := range sc.skills {
		capCfg.SkillHandleTimes[s.name] = time.Duration(sc.htFactor * (s.ring + s.talk + s.wrap) * float64(time.Second))
	}
	// CL_ACW=3 also gives the center's wrap-up (the default is 30 s, which
	// the first calls' handle times carry): capacity is then accurate and
	// the controller has no hidden margin (README, Known gaps).
	if v, err := strconv.ParseFloat(os.Getenv("CL_ACW"), 64); err == nil {
		capCfg.DefaultAfterCallWork = time.Duration(v * float64(time.Second))
	}
	model, err := capacity.New(capCfg, skillNames, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	model.SetClock(clock)
	fcfg := Config{MinTalkTime: time.Second, HitRate: hitrate.Config{PriorStrength: 50, PacingPriorStrength: clPPS}}
	fcfg.HitRate.TimeToCall.DefaultMean = time.Minute
	// CL_PQ=<quantile> overrides pacing_quantile (0.5: the posterior mean).
	if v, err := strconv.ParseFloat(os.Getenv("CL_PQ"), 64); err == nil {
		fcfg.HitRate.PacingQuantile = v
	}
	// CL_TTC=<seconds> overrides the time-to-call guess (a diagnostic).
	if v, err := strconv.ParseFloat(os.Getenv("CL_TTC"), 64); err == nil {
		fcfg.HitRate.TimeToCall.DefaultMean = time.Duration(v * float64(time.Second))
	}
	// The simulated exchange sends its win notice in the instant it
	// decides, so a bid still without a notice 2 s later has lost.
	fcfg.Pacing.Participation.NoticeWindow = 2 * time.Second
	if v, err := strconv.ParseFloat(os.Getenv("CL_TARGET"), 64); err == nil {
		fcfg.Pacing.Pacing.Target = v
	}
	fcfg.HitRate.TimeToCall.DefaultResolveMean = 2 * time.Minute
	f := mustNew(t, fcfg, fcamps, model, nil)
	f.clock = clock
	tf, err := traffic.New(traffic.Config{}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tf.Close)
	f.CountDevicesIn(tf)
	own := f.Tee(nil)
	bcfg := bidder.Config{
		Server:    bidder.ServerConfig{NoticeBaseURL: "https://bid.example.com", NoticeSecret: "closed-loop-secret-0123456789"},
		Campaigns: camps,
	}
	b, err := bidder.New(bcfg, bidder.Deps{Reserver: &clReserver{}, Capacity: model, Feedback: bidder.FeedbackParts{HitRates: f.HitRates(), Pacer: f.Pacer(), TrafficFilter: tf, BidRecorder: f}, Participation: f.Pacer(),
		Publisher: own, Now: clock}, zerolog.Nop())
	if err != nil {
		t.Fatalf("bidder: %v", err)
	}

	// Records go through the same decode-once dispatch as the app's consumers.
	agentState := kafkaio.NewDispatch[events.AgentState](kafkaio.Config{}, model.HandleAgentState)
	call := kafkaio.NewDispatch[events.Call](kafkaio.Config{}, model.HandleCall, f.HandleCall)
	send := func(topic string, v any) {
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		m := kafkaio.Message{Topic: topic, Value: raw}
		switch topic {
		case events.TopicAgentState:
			err = agentState(m)
		case events.TopicCall:
			err = call(m)
		}
		if err != nil {
			t.Fatalf("%s record %s: %v", topic, raw, err)
		}
	}
	ts := func(x float64) time.Time { return t0.Add(time.Duration(x * float64(time.Second))) }

	type skillRT struct {
		queue      []*clCall
		agents     []*clAgent
		nextOrg    float64
		nextReq    float64
		target     int
		aht        float64
		win        []clWindow
		lastBid    float64
		changes    []float64
		kinds      []string
		answered   int
		bidHigh    []float64
		bidLow     []float64
		bids       int
		wins       int
		bidTimes   []float64
		lastBought float64
		// CL_DEBUG only: per publisher, win times, wins, calls drawn
		// (the callers who will dial) and calls arrived, so the learned
		// rates and exposure can be held against the truth.
		winAt                [3][]float64
		pubWins, drawn, came [3]int
	}
	const winLen = 10.0
	nWin := int(math.Ceil(sc.seconds / winLen))
	rts := make([]*skillRT, len(sc.skills))
	for i, s := range sc.skills {
		rt := &skillRT{aht: s.ring + s.talk + s.wrap, win: make([]clWindow, nWin), lastBid: -1}
		rt.nextOrg = rng.ExpFloat64() * 60 / math.Max(s.organic, 1e-9)
		maxAgents := 0
		for _, st := range s.schedule {
			maxAgents = max(maxAgents, st.agents)
		}
		for a := range maxAgents {
			rt.agents = append(rt.agents, &clAgent{id: s.name + "-agent-" + strconv.Itoa(a), skill: i})
		}
		rts[i] = rt
	}
	agentEv := func(a *clAgent, typ, state, next string) {
		a.seq++
		a.state = state
		send(events.TopicAgentState, events.AgentState{AgentID: a.id, Seq: a.seq, EventType: typ, OccurredAt: ts(now),
			RoutingState: state, NextRoutingState: next, Skills: []events.AgentSkill{{Name: sc.skills[a.skill].name, Proficiency: 3}},
			TTLSeconds: 60})
		a.nextBeat = now + 10
	}
	type pendingCall struct {
		at    float64
		skill int
		pub   int
		won   float64
		bid   string
	}
	var pend []pendingCall
	callN := 0
	arrive := func(si int, bought bool) *clCall {
		callN++
		c := &clCall{id: "call-" + strconv.Itoa(callN), skill: si, arrive: now, answered: -1, bought: bought}
		rt := rts[si]
		rt.queue = append(rt.queue, c)
		if w := int(now / winLen); w < nWin {
			rt.win[w].offered++
		}
		send(events.TopicCall, events.Call{CallID: c.id, EventType: "OFFERED", Skill: sc.skills[si].name, OccurredAt: ts(now), DNIS: "+18005550100"})
		return c
	}
	finish := func(c *clCall, within bool) {
		rt := rts[c.skill]
		if w := int(c.arrive / winLen); w < nWin {
			rt.win[w].arrivals++
			if within {
				rt.win[w].within++
			}
		}
	}
	req := &openrtb.Request{ID: "r", Inventory: openrtb.InventorySite, SiteOrAppID: "site", Domain: "news.example",
		Device: openrtb.Device{IP: "203.0.113.9", Type: 2, Country: "USA"},
		Imps:   []openrtb.Imp{{ID: "1", Banner: true, Formats: []openrtb.Format{{W: 300, H: 250}}}}}
	const dt = 0.1
	nextTick := 1.0
	for step := 0; float64(step)*dt < sc.seconds; step++ {
		now = float64(step) * dt
		for si, s := range sc.skills {
			rt := rts[si]
			// Staffing: the schedule's count of agents on shift.
			target := 0
			for _, st := range s.schedule {
				if now >= st.at {
					target = st.agents
				}
			}
			if target != rt.target {
				kind := "drop"
				switch {
				case rt.target == 0 && now == 0:
					kind = "start"
				case rt.target == 0:
					kind = "resume"
				case target == 0:
					kind = "stop"
				case target > rt.target:
					kind = "rise"
				}
				rt.changes = append(rt.changes, now)
				rt.kinds = append(rt.kinds, kind)
				rt.target = target
			}
			online := 0
			for _, a := range rt.agents {
				if a.online && !a.leaving {
					online++
				}
			}
			for _, a := range rt.agents {
				switch {
				case online < target && !a.online:
					a.online, a.leaving = true, false
					agentEv(a, "LOGIN", "AVAILABLE", "")
					online++
				case online < target && a.online && a.leaving:
					a.leaving = false
					agentEv(a, "STATE_CHANGE", a.state, "")
					online++
				case online > target && a.online && !a.leaving:
					if a.state == "AVAILABLE" {
						a.online = false
						agentEv(a, "LOGOUT", "OFFLINE", "")
					} else {
						a.leaving = true // announced: logs out after this call
						agentEv(a, "STATE_CHANGE", a.state, "OFFLINE")
					}
					online--
				}
			}
			// Organic callers.
			for rt.nextOrg <= now {
				arrive(si, false)
				rt.nextOrg += rng.ExpFloat64() * 60 / s.organic
			}
			// Agents' phases.
			for _, a := range rt.agents {
				if !a.online {
					continue
				}
				if a.call != nil && now >= a.until {
					switch a.state {
					case "RESERVED":
						a.call.answered = now
						rt.answered++
						finish(a.call, now-a.call.arrive <= 20)
						send(events.TopicCall, events.Call{CallID: a.call.id, EventType: "ANSWERED", Skill: s.name, AgentID: a.id,
							OccurredAt: ts(now), QueueWaitMS: int64((now - a.call.arrive) * 1000)})
						next := ""
						if a.leaving {
							next = "OFFLINE"
						}
						agentEv(a, "STATE_CHANGE", "BUSY", next)
						if clFixedTalk {
							a.until = now + s.talk
						} else {
							a.until = now + rng.ExpFloat64()*s.talk
						}
					case "BUSY":
						send(events.TopicCall, events.Call{CallID: a.call.id, EventType: "ENDED", Skill: s.name, AgentID: a.id,
							OccurredAt: ts(now), TalkMS: int64((now - a.call.answered) * 1000), EndReason: "CUSTOMER_HANGUP"})
						next := ""
						if a.leaving {
							next = "OFFLINE"
						}
						agentEv(a, "STATE_CHANGE", "ACW", next)
						a.until = now + s.wrap
					case "ACW":
						a.call = nil
						if a.leaving {
							a.online, a.leaving = false, false
							agentEv(a, "LOGOUT", "OFFLINE", "")
							continue
						}
						agentEv(a, "STATE_CHANGE", "AVAILABLE", "")
					}
				}
				if a.online && a.state == "AVAILABLE" && len(rt.queue) > 0 && !a.leaving {
					c := rt.queue[0]
					rt.queue = rt.queue[1:]
					a.call = c
					agentEv(a, "STATE_CHANGE", "RESERVED", "")
					a.until = now + s.ring
				}
				if a.online && now >= a.nextBeat {
					a.seq++
					send(events.TopicAgentState, events.AgentState{AgentID: a.id, Seq: a.seq, EventType: "HEARTBEAT", OccurredAt: ts(now), TTLSeconds: 60})
					a.nextBeat = now + 10
				}
			}
			// Patience: callers who give up.
			kept := rt.queue[:0]
			for _, c := range rt.queue {
				if now-c.arrive > s.patience*expFor(c.id) {
					finish(c, false)
					send(events.TopicCall, events.Call{CallID: c.id, EventType: "ENDED", Skill: s.name, OccurredAt: ts(now), EndReason: "ABANDONED_IN_QUEUE"})
					continue
				}
				kept = append(kept, c)
			}
			rt.queue = kept
		}
		// Bought callers dial.
		kept := pend[:0]
		for _, p := range pend {
			if p.at > now {
				kept = append(kept, p)
				continue
			}
			c := arrive(p.skill, true)
			rts[p.skill].came[p.pub]++
			own.Publish(events.TopicAttribution, []byte(c.id), mustJSON(events.Attribution{CallID: c.id, DNIS: "+18005550100",
				StartedAt: ts(now), Match: "exact", Accepted: true, CampaignID: "camp-" + sc.skills[p.skill].name,
				PublisherID: clPubs[p.pub].id, Exchange: "sim", BidID: p.bid, WonAt: ts(p.won), Skill: sc.skills[p.skill].name}))
		}
		pend = kept
		// The exchange: requests, bids, wins whatever the price.
		for si, s := range sc.skills {
			rt := rts[si]
			for rt.nextReq <= now {
				rt.nextReq += rng.ExpFloat64() / s.reqPerSec
				pi := rng.IntN(len(clPubs))
				if w := int(now / winLen); w < nWin {
					rt.win[w].supplyExp += clWinProb * clPubs[pi].rate
				}
				req.PublisherID = clPubs[pi].id
				req.Keywords = "k" + strconv.Itoa(si)
				res := b.Decide(req, "sim", clock())
				if len(res.Bids) == 0 {
					if clDebug && (clDebugTo == 0 || (now >= clDebugFrom && now <= clDebugTo)) {
						k := res.Cause.String()
						if model.View(s.name, 0, 0).State != capacity.Fresh {
							k += "/capacity"
						}
						clCauses[k]++
					}
					continue
				}
				rt.bids++
				rt.lastBid = now
				if w := int(now / winLen); w < nWin {
					rt.win[w].bidExp += clWinProb * clPubs[pi].rate
				}
				rt.bidTimes = append(rt.bidTimes, now)
				if now > sc.seconds/2 {
					switch pi {
					case 0:
						rt.bidHigh = append(rt.bidHigh, res.Bids[0].Price)
					case 2:
						rt.bidLow = append(rt.bidLow, res.Bids[0].Price)
					}
				}
				if rng.Float64() >= clWinProb {
					continue
				}
				rt.wins++
				rt.pubWins[pi]++
				if clDebug {
					rt.winAt[pi] = append(rt.winAt[pi], now)
				}
				bid := res.Bids[0].ID
				own.Publish(events.TopicImpressions, []byte(bid), mustJSON(events.Impression{BidID: bid, Kind: "win",
					CampaignID: res.Bids[0].CID, PublisherID: clPubs[pi].id, Exchange: "sim", Skill: s.name,
					PriceMicros: int64(res.Bids[0].Price * 1e6), Currency: "USD", At: clock()}))
				if w := int(now / winLen); w < nWin {
					rt.win[w].boughtExp += clPubs[pi].rate
				}
				if rng.Float64() < clPubs[pi].rate {
					rt.drawn[pi]++
					d := s.delayMin * math.Pow(s.delayMax/s.delayMin, rng.Float64())
					pend = append(pend, pendingCall{at: now + d, skill: si, pub: pi, won: now, bid: bid})
				}
			}
		}
		if now >= nextTick {
			f.drain()
			f.tick(clock())
			nextTick += 1
			if clDebug {
				v := f.Pacer().View()
				for _, sp := range v.Skills {
					for i, s := range sc.skills {
						if s.name == sp.Skill {
							if w := int(now / winLen); w < nWin {
								rts[i].win[w].charged += sp.Bought - rts[i].lastBought
							}
							rts[i].lastBought = sp.Bought
						}
					}
				}
			}
			if clDebug && (int(now)%20 == 0 || now >= clDebugFrom && now <= clDebugTo) {
				v := f.Pacer().View()
				aht := map[string]float64{}
				if st, _ := model.Stats(); st != nil {
					for _, x := range st {
						aht[x.Skill] = x.HandleTimeSeconds
					}
				}
				for _, sp := range v.Skills {
					h, _ := model.Headroom(sp.Skill)
					t.Logf("aht=%.0f (true %.0f)", aht[sp.Skill], func() float64 {
						for i, s := range sc.skills {
							if s.name == sp.Skill {
								return rts[i].aht
							}
						}
						return 0
					}())
					ans := 0
					for i, s := range sc.skills {
						if s.name == sp.Skill {
							ans = rts[i].answered
						}
					}
					t.Logf("ans=%d lm=%.2f t=%.0f %s L=%.2f B=%.2f refill=%.2f excess=%.2f inflight=%.2f tokens=%.3f adm=%d skip=%d head=%.2f pwin=%v", ans, model.LambdaMax(sp.Skill), now, sp.Skill, sp.Level, sp.BudgetPerMin, sp.RefillPerMin, sp.ExcessPerMin, sp.InFlight, sp.Tokens, sp.Admitted, sp.Skipped, h, v.Exchanges)
				}
				for si, s := range sc.skills {
					d := f.HitRates().Arrival(s.name)
					t.Logf("   %s time to call: F(30 s)=%.3f (true %.3f) F(2 min)=%.3f (%.3f) F(8 min)=%.3f (%.3f) median %.0f s", s.name,
						d.At(30), s.trueF(30), d.At(120), s.trueF(120), d.At(480), s.trueF(480), d.Median())
					for _, p := range f.HitRates().Rates(hitrate.RatesQuery{Now: clock(), Campaign: "camp-" + s.name}).Publishers {
						// exposure: the learner's wins weighted by the share
						// of their calls due (EvidenceCalls), against the
						// same from the true delay distribution.
						trueExp := 0.0
						for pi, cp := range clPubs {
							if cp.id == p.Publisher {
								for _, w := range rts[si].winAt[pi] {
									trueExp += s.trueF(now - w)
								}
							}
						}
						t.Logf("   %s %s rate=%.4f ev=%.1f exposure=%.1f (true %.1f) calls=%.1f factor=%.2f", p.Campaign, p.Publisher, p.CallRate, p.Evidence, p.EvidenceCalls, trueExp, p.Calls, p.Factor)
					}
				}
			}
		}
		model.Rebuild()
	}

	var out []clResult
	for si, s := range sc.skills {
		rt := rts[si]
		// Capacity of each window from the agents on shift (time-weighted by
		// the schedule), steady from 30 s after a change.
		for w := range rt.win {
			start := float64(w) * winLen
			capSum := 0.0
			for k := 0.0; k < winLen; k++ {
				n := 0
				for _, st := range s.schedule {
					if start+k >= st.at {
						n = st.agents
					}
				}
				capSum += clErlangLambdaMax(n, rt.aht) / 60
			}
			rt.win[w].capCalls = capSum
			// Steady: from 60 s after start (callbid knows nothing of the
			// publishers before; the burst check covers that time) and 30 s
			// after any other change.
			steady := start >= 60
			for _, c := range rt.changes {
				if start >= c && start < c+30 || start < c && start+winLen > c {
					steady = false
				}
			}
			rt.win[w].steady = steady && capSum > 0
		}
		if clDebug {
			t.Logf("%s seed %d per publisher: wins %v, callers drawn %v, arrived %v", s.name, seed, rt.pubWins, rt.drawn, rt.came)
			for w, x := range rt.win {
				t.Logf("%s w%d %.0fs offered %d cap %.1f ratio %.2f boughtExp %.2f bidExp %.2f charged %.2f steady %v within20s %d/%d", s.name, w, float64(w)*winLen, x.offered, x.capCalls, float64(x.offered)/math.Max(x.capCalls, 1e-9), x.boughtExp, x.bidExp, x.charged, x.steady, x.within, x.arrivals)
			}
		}
		r := clResult{name: sc.name, skill: s.name, answered: rt.answered, bids: rt.bids, wins: rt.wins}
		var arr, within, off, arrAll, withinAll int
		var capc float64
		for _, w := range rt.win {
			arrAll += w.arrivals
			withinAll += w.within
			if w.steady {
				arr += w.arrivals
				within += w.within
				off += w.offered
				capc += w.capCalls
				r.supplyCalls += w.supplyExp + s.organic*winLen/60
			}
		}
		r.arr, r.within, r.arrAll, r.withinAll, r.off, r.capc = arr, within, arrAll, withinAll, off, capc
		r.sl = float64(within) / math.Max(float64(arr), 1)
		r.slAll = float64(withinAll) / math.Max(float64(arrAll), 1)
		r.ratio = float64(off) / math.Max(capc, 1e-9)
		r.supply = r.supplyCalls / math.Max(capc, 1e-9)
		for w := 2; w < len(rt.win); w++ {
			// Judged: what the bidder decided, the expected calls of the
			// impressions won in the stretch (true rates) plus the organic
			// rate, so Poisson noise of a few calls does not decide. The
			// realised arrivals are reported beside it (worst30All).
			o := rt.win[w].boughtExp + rt.win[w-1].boughtExp + rt.win[w-2].boughtExp + s.organic/2
			realised := rt.win[w].offered + rt.win[w-1].offered + rt.win[w-2].offered
			c := rt.win[w].capCalls + rt.win[w-1].capCalls + rt.win[w-2].capCalls
			// Stretches with agents throughout: callers of a center with no
			// one on shift are no stretch of buying. Steady stretches are
			// judged; those within 30 s of a change are reported apart (after
			// a drop the calls bought for the old staffing are still due).
			if rt.win[w].capCalls > 0 && rt.win[w-1].capCalls > 0 && rt.win[w-2].capCalls > 0 {
				if rt.win[w].steady && rt.win[w-1].steady && rt.win[w-2].steady {
					if clDebug && o/c > 1.5 {
						t.Logf("%s seed %d: %.1f calls bought in the 30 s to %.0f s, capacity %.1f", s.name, seed, o, float64(w+1)*winLen, c)
					}
					r.worst30 = math.Max(r.worst30, o/c)
					r.worst30All = math.Max(r.worst30All, float64(realised)/c)
					if float64(w-2)*winLen >= sc.judge30From {
						r.worst30Judged = math.Max(r.worst30Judged, o/c)
					}
				}
			}
		}
		for i, c := range rt.changes {
			k := rt.kinds[i]
			if k != "start" && k != "resume" && k != "drop" {
				continue
			}
			first := int(c / winLen)
			var bought, capc float64
			for w := first; w < min(first+3, nWin); w++ {
				bought += rt.win[w].boughtExp
				capc += rt.win[w].capCalls
			}
			if capc > 0 {
				x := bought / capc
				r.burstMax = math.Max(r.burstMax, x)
				r.burst = append(r.burst, fmt.Sprintf("%s@%.0fs %.2f", k, c, x))
			}
		}
		for i, c := range rt.changes {
			switch rt.kinds[i] {
			case "stop":
				end := sc.seconds
				if i+1 < len(rt.changes) {
					end = rt.changes[i+1]
				}
				for _, bt := range rt.bidTimes {
					if bt >= c && bt < end {
						r.stopLag = math.Max(r.stopLag, bt-c)
					}
				}
			case "resume":
				r.resumeLag = math.Inf(1)
				for _, bt := range rt.bidTimes {
					if bt >= c {
						r.resumeLag = bt - c
						break
					}
				}
			}
		}
		r.highBid, r.lowBid = mean(rt.bidHigh), mean(rt.bidLow)
		out = append(out, r)
	}
	return out
}

func mean(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// expFor is a caller's patience draw (exponential, mean 1), fixed per call
// id so it does not change between steps.
func expFor(id string) float64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(id); i++ {
		h = (h ^ uint64(id[i])) * 1099511628211
	}
	u := (float64(h>>11) + 0.5) / (1 << 53)
	return -math.Log(u)
}

// clScenarios are the runs of issue 10 and longer ones: one skill each
// with the center (talk 20 s, ring 1 s, wrap-up 3 s, calls 2–30 s
// after the win), and a second, slower skill (talk 4 min, calls 20 s to
// 20 min after the win) beside it. Sixteen seeds: with eight, the mean
// calls answered per run still moved by ±2 between seed sets.
var clSeeds = []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}

func clScenarios() []clScenario {
	fast := func(sched ...clStep) clSkill {
		return clSkill{name: "sales", talk: 20, ring: 1, wrap: 3, patience: 60, organic: 2,
			delayMin: 2, delayMax: 30, reqPerSec: 150, schedule: sched}
	}
	return []clScenario{
		{name: "30→12→0→30 agents, 4.5 min", seconds: 270, htFactor: 1, seeds: clSeeds, minCalls: 100,
			skills: []clSkill{fast(clStep{0, 30}, clStep{90, 12}, clStep{180, 0}, clStep{210, 30})}},
		{name: "10→4→0→10 agents, 6.5 min", seconds: 390, htFactor: 1, seeds: clSeeds, minCalls: 60,
			skills: []clSkill{fast(clStep{0, 10}, clStep{150, 4}, clStep{270, 0}, clStep{300, 10})}},
		{name: "10→4→0→10 agents, 3 min", seconds: 180, htFactor: 1, seeds: clSeeds, short: true,
			skills: []clSkill{fast(clStep{0, 10}, clStep{75, 4}, clStep{120, 0}, clStep{135, 10})}},
		{name: "two skills, 40 min", seconds: 2400, htFactor: 1.25, seeds: clSeeds[:2], minCalls: 300,
			skills: []clSkill{
				fast(clStep{0, 25}, clStep{1200, 8}, clStep{1800, 25}),
				{name: "care", talk: 240, ring: 3, wrap: 30, patience: 120, organic: 3,
					delayMin: 20, delayMax: 1200, reqPerSec: 40,
					schedule: []clStep{{0, 80}, {1200, 56}, {1800, 80}}},
			}},
		// The large end of issue 10's range: 500 agents, talk 10 min, calls
		// 1–30 min after the win, and an exchange that offers about three
		// times the calls the agents can answer, so pacing has to hold back.
		// Its floor is half the calls its agents can answer (500 agents
		// 38.3 calls/min, 300 agents 23.0: about 2760 in 80 min), the lower
		// bound of offered ÷ capacity the acceptance asks, as the 30-agent
		// run's 100 of 198 is; the 2000 it had came from a run that bought
		// up to 4.29× capacity in its first 9 minutes.
		{name: "500→300→500 agents, 80 min", seconds: 4800, htFactor: 1, seeds: clSeeds[:2], minCalls: 1380,
			minSupply: 2,
			skills: []clSkill{{name: "claims", talk: 600, ring: 5, wrap: 60, patience: 180, organic: 8,
				delayMin: 60, delayMax: 1800, reqPerSec: 400,
				schedule: []clStep{{0, 500}, {2400, 300}, {3600, 500}}}}},
	}
}

func TestClosedLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates about an hour of contact-center time")
	}
	var rows []string
	for _, sc := range clScenarios() {
		if only := os.Getenv("CL_RUN"); only != "" && !strings.Contains(sc.name, only) {
			continue
		}
		if one, err := strconv.ParseUint(os.Getenv("CL_SEED"), 10, 64); err == nil {
			sc.seeds = []uint64{one} // one seed, for CL_DEBUG
		}
		if off, err := strconv.ParseUint(os.Getenv("CL_SEED_OFFSET"), 10, 64); err == nil {
			// Other seeds than the judged ones (CL_SEED_OFFSET=16: seeds
			// 17–32), to see how much the figures owe to the seed set.
			seeds := make([]uint64, len(sc.seeds))
			for i, s := range sc.seeds {
				seeds[i] = s + off
			}
			sc.seeds = seeds
		}
		if raceEnabled {
			// Single-goroutine and slow under -race: one seed shows the
			// same code paths; the judged figures come from the normal run.
			sc.seeds = sc.seeds[:1]
			if sc.seconds > 600 {
				continue
			}
		}
		for _, r := range clPool(t, sc) {
			ratio := "–"
			if r.lowBid > 0 {
				ratio = fmt.Sprintf("%.1f×", r.highBid/r.lowBid)
			}
			lag := "–"
			if r.resumeLag > 0 || r.stopLag > 0 {
				lag = fmt.Sprintf("%.1f s / %.1f s", r.stopLag, r.resumeLag)
			}
			worst := fmt.Sprintf("%.2f / %.2f", r.worst30, r.worst30All)
			if sc.judge30From > 0 {
				worst += fmt.Sprintf(" (bought from %.0f s: %.2f)", sc.judge30From, r.worst30Judged)
			}
			rows = append(rows, fmt.Sprintf("| %s | %s | %d | %.3f / %.3f | %.2f | %s | %.2f | %s | %s |",
				r.name, r.skill, r.answered, r.sl, r.slAll, r.ratio, worst, r.burstMax, lag, ratio))
			t.Logf("%s / %s: bidding on every request would bring %.2f× capacity (steady); offered %.2f×", r.name, r.skill, r.supply, r.ratio)
			if raceEnabled {
				continue // one seed: not the judged figures
			}
			t.Run(strings.ReplaceAll(sc.name+"/"+r.skill, " ", "_"), func(t *testing.T) {
				if r.answered < sc.minCalls {
					t.Errorf("%d calls answered, want ≥ %d", r.answered, sc.minCalls)
				}
				if sc.short && r.slAll < 0.8 {
					t.Errorf("service level of all calls %.3f, want ≥ 0.8", r.slAll)
				}
				if !sc.short && r.sl < 0.8 {
					t.Errorf("service level of steady periods %.3f, want ≥ 0.8", r.sl)
				}
				if r.ratio > 1.0 || (!sc.short && r.ratio < 0.5) {
					t.Errorf("offered/capacity over steady periods %.2f, want 0.5–1.0", r.ratio)
				}
				if r.worst30Judged > 1.5 {
					t.Errorf("worst steady 30-s stretch from %.0f s bought %.2f× capacity, want ≤ 1.5", sc.judge30From, r.worst30Judged)
				}
				if r.worst30 > 1.5 {
					// Only with judge30From set (else the check above failed).
					t.Logf("known failure: worst steady 30-s stretch bought %.2f× capacity before %.0f s (not asserted)", r.worst30, sc.judge30From)
				}
				if r.burstMax > 1.2 {
					t.Errorf("calls bought in the 30 s after a change up to %.2f× capacity (%v), want ≤ 1.2×", r.burstMax, r.burst)
				}
				if r.supply < sc.minSupply {
					t.Errorf("the requests bring %.2f× capacity (steady), want ≥ %.1f× so that pacing limits buying", r.supply, sc.minSupply)
				}
				if r.stopLag > 5 || r.resumeLag > 5 {
					t.Errorf("stop lag %.1f s, resume lag %.1f s, want ≤ 5 s", r.stopLag, r.resumeLag)
				}
				if !sc.short && r.lowBid > 0 && r.highBid < 2*r.lowBid {
					t.Errorf("5%% publisher bid %.2f, 0.2%% publisher %.2f: want ≥ 2×", r.highBid, r.lowBid)
				}
			})
		}
	}
	t.Logf("no-bid causes %v", clCauses)
	t.Logf("\n| run (pooled seeds) | skill | answered per run | SL steady / all | offered/capacity (steady) | worst steady 30 s: bought / realised | bought/capacity, 30 s after start/resume/drop (worst) | stop / resume lag (worst) | high/low bid |\n|---|---|---|---|---|---|---|---|---|\n%s",
		strings.Join(rows, "\n"))
}
