package feedback

import (
	"container/heap"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callbid/callbid/capacity"
	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/kafkaio"
)

// The pacing simulation: a simulated exchange offers bid opportunities, the
// bidder bids base × HitRate × pacing multiplier (capped at max CPM) and wins
// when that beats a random clearing price; won impressions bring calls after a
// time-to-call delay at a publisher-specific rate; N agents (exponential
// handle times, FIFO queue, no abandonment) answer them. Staffing drops from
// 40 to 25 agents at minute 120 (a shift change). The Headroom fake tells
// pacing the headroom by capacity.Model's formula (λ_max for the current N by
// Erlang C, minus the arrival rate, the committed calls and the backlog), and
// a hard stop when the oldest waiting call has waited past the answer target. Every event reaches
// Feedback as JSON through its real handlers; the clock is simulated and the
// random source seeded, so a run is deterministic and takes no wall time.

const (
	simSkill      = "mortgage"
	simCampaign   = "c1"
	simMinutes    = 240
	simShiftAt    = 120 // minute
	simN1, simN2  = 40, 25
	simAHT        = 300.0 // seconds, mean handle time
	simAnswerT    = 20.0  // seconds: service level is 80% answered within 20 s
	simSLTarget   = 0.80
	simRhoMax     = 0.85
	simOppsPerSec = 20.0
	simBaseCPM    = 4.0
	simMaxCPM     = 10.0
	simPriceMed   = 3.0 // clearing price median (lognormal, σ 0.5)
	simWindow     = 20  // minutes per table row
)

// Publishers: share of opportunities and true probability that a won
// impression brings a call (any call; about 90% of them are qualified).
var simPubs = []struct {
	id    string
	share float64
	rate  float64
}{
	{"pub-a", 0.4, 0.008}, {"pub-b", 0.3, 0.016}, {"pub-c", 0.2, 0.03}, {"pub-d", 0.1, 0.06},
}

type simEvent struct {
	t    float64 // seconds since start
	seq  int
	kind int
	call *simCall
}

const (
	evArrive = iota
	evEnd
	evOutcome
)

type simCall struct {
	id      string
	bidID   string
	pub     string
	won     float64
	arrive  float64
	started float64
	talk    float64
	ipHash  uint64
}

type evHeap []simEvent

func (h evHeap) Len() int { return len(h) }
func (h evHeap) Less(i, j int) bool {
	if h[i].t != h[j].t {
		return h[i].t < h[j].t
	}
	return h[i].seq < h[j].seq
}
func (h evHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *evHeap) Push(x any)   { *h = append(*h, x.(simEvent)) }
func (h *evHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

type simWin struct {
	arrivals, within, answered int
	wins                       int
	spend                      float64
	multSum                    float64
	ticks, stops               int
}

type sim struct {
	pacing, hardStop bool
	rng              *rand.Rand
	t0               time.Time
	now              float64
	f                *Feedback
	ev               evHeap
	seq              int
	queue            []*simCall
	busy             int
	nextID           int
	win              []simWin
	trueWins         map[string]int
	trueCalls        map[string]int
	trueQual         map[string]int
	published        int
	lambdaNow        ewmaRate
}

func (s *sim) agents() int {
	if s.now < simShiftAt*60 {
		return simN1
	}
	return simN2
}

func (s *sim) lambdaMax() float64 {
	return lambdaMax(s.agents(), simAHT, simAnswerT, simSLTarget, simRhoMax)
}

// The fake capacity model computes headroom exactly as capacity.Model does
// (capacity/doc.go): λ_max − λ_now − CommittedCalls − waiting/horizon, with
// λ_now a moving average of all arrivals (time constant 2 min) and a 1 min
// waiting horizon; the hard stop fires when the oldest waiting call has
// waited longer than the answer-time target.
const (
	simArrivalTau = 120.0 // seconds
	simHorizon    = 1.0   // minutes
)

func (s *sim) Load(string) (capacity.Load, bool) {
	waiting := len(s.queue) > 0 && s.now-s.queue[0].arrive > simAnswerT
	return capacity.Load{LambdaMax: s.lambdaMax(), Arrivals: s.lambdaNow.perMin(s.now, simArrivalTau),
		Backlog: s.f.Pacer().CommittedCalls(simSkill) + float64(len(s.queue))/simHorizon, WaitingTooLong: s.hardStop && waiting}, true
}

// Publish drops outbound events (demand feed, re-emitted attributions).
func (s *sim) Publish(string, []byte, []byte) bool { s.published++; return true }

func (s *sim) at(sec float64) time.Time {
	return s.t0.Add(time.Duration(sec * float64(time.Second)))
}

func (s *sim) push(t float64, kind int, c *simCall) {
	s.seq++
	heap.Push(&s.ev, simEvent{t: t, seq: s.seq, kind: kind, call: c})
}

func (s *sim) send(handle func(kafkaio.Message), topic string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	handle(kafkaio.Message{Topic: topic, Value: b})
}

func (s *sim) window(sec float64) *simWin {
	i := int(sec / 60 / simWindow)
	if i >= len(s.win) {
		i = len(s.win) - 1
	}
	return &s.win[i]
}

func (s *sim) startService(c *simCall) {
	c.started = s.now
	s.busy++
	w := s.window(c.arrive)
	w.answered++
	if c.started-c.arrive <= simAnswerT {
		w.within++
	}
	c.talk = s.rng.ExpFloat64() * simAHT
	s.send(s.f.feedCall, events.TopicCall, events.Call{CallID: c.id, EventType: "ANSWERED", OccurredAt: s.at(s.now),
		Skill: simSkill, QueueWaitMS: int64((c.started - c.arrive) * 1000)})
	s.push(s.now+c.talk, evEnd, c)
}

func (s *sim) fillAgents() {
	for len(s.queue) > 0 && s.busy < s.agents() {
		c := s.queue[0]
		s.queue = s.queue[1:]
		s.startService(c)
	}
}

func (s *sim) handle(e simEvent) {
	c := e.call
	switch e.kind {
	case evArrive:
		s.window(c.arrive).arrivals++
		s.lambdaNow.add(s.now, simArrivalTau)
		s.trueCalls[c.pub]++
		s.send(s.f.feedAttr, events.TopicAttribution, events.Attribution{CallID: c.id, DNIS: "+18005550100",
			StartedAt: s.at(c.arrive), Match: "exact", Accepted: true, CampaignID: simCampaign, PublisherID: c.pub,
			Exchange: "x1", BidID: c.bidID, WonAt: s.at(c.won), Skill: simSkill, IPHash: c.ipHash})
		s.queue = append(s.queue, c)
		s.fillAgents()
	case evEnd:
		s.busy--
		if c.talk >= 30 {
			s.trueQual[c.pub]++
		}
		s.send(s.f.feedCall, events.TopicCall, events.Call{CallID: c.id, EventType: "ENDED", OccurredAt: s.at(s.now),
			Skill: simSkill, TalkMS: int64(c.talk * 1000), EndReason: "CUSTOMER_HANGUP"})
		s.push(s.now+30, evOutcome, c)
		s.fillAgents()
	case evOutcome:
		d := "NO_SALE"
		var rev int64
		if s.rng.Float64() < 0.15 {
			d, rev = "SALE", 120_000_000
		}
		s.send(s.f.feedOutcome, events.TopicOutcome, events.Outcome{CallID: c.id, Disposition: d, IsFinal: true,
			Revenue: events.Money{AmountMicros: rev, Currency: "USD"}, OccurredAt: s.at(s.now)})
	}
}

// timeToCall is the true delay from win to call: lognormal, median 3 min,
// σ 1 (mean ≈ 4.9 min), so the default exponential F is only a first guess.
func (s *sim) timeToCall() float64 {
	return 180 * math.Exp(s.rng.NormFloat64())
}

var simTune func(*Config)

var simSeed uint64 = 42

func runSim(t testing.TB, pacing, hardStop bool) *sim {
	s := &sim{pacing: pacing, hardStop: hardStop, rng: rand.New(rand.NewPCG(simSeed, 7)),
		t0:       time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC),
		win:      make([]simWin, simMinutes/simWindow),
		trueWins: map[string]int{}, trueCalls: map[string]int{}, trueQual: map[string]int{}}
	cfg := Config{}
	cfg.Pacing.Pacing.Disabled = !pacing
	cfg.RecordQueue = 1 << 16
	if simTune != nil {
		simTune(&cfg)
	}
	f := mustNew(t, cfg, []Campaign{{ID: simCampaign, Skill: simSkill, PriorCallRate: 0.018, PriorClose: 0.1}}, s, s)
	f.clock = func() time.Time { return s.at(s.now) }
	s.f = f
	cum := make([]float64, len(simPubs))
	acc := 0.0
	for i, p := range simPubs {
		acc += p.share
		cum[i] = acc
	}
	for sec := 0; sec < simMinutes*60; sec++ {
		for len(s.ev) > 0 && s.ev[0].t < float64(sec) {
			e := heap.Pop(&s.ev).(simEvent)
			s.now = e.t
			s.handle(e)
		}
		s.now = float64(sec)
		s.fillAgents() // the shift change frees or removes seats
		f.tick(s.at(s.now))
		mult, stop := f.Pacer().Pacing(simSkill)
		w := s.window(s.now)
		w.ticks++
		w.multSum += mult
		if stop {
			w.stops++
		}
		n := poisson(s.rng, simOppsPerSec)
		for range n {
			u := s.rng.Float64()
			pi := 0
			for pi < len(cum)-1 && u > cum[pi] {
				pi++
			}
			p := simPubs[pi]
			f.RecordSeen(simSkill, "x1", s.at(s.now))
			if pacing && stop {
				continue
			}
			bid := math.Min(simBaseCPM*f.HitRates().HitRate(simCampaign, p.id)*mult, simMaxCPM)
			price := simPriceMed * math.Exp(0.5*s.rng.NormFloat64())
			f.RecordBid(simCampaign, simSkill, p.id, "x1", int64(bid*1e6), 0, s.at(s.now))
			if bid <= price {
				continue
			}
			s.nextID++
			wonAt := s.now + s.rng.Float64()
			c := &simCall{id: "call-" + strconv.Itoa(s.nextID), bidID: "bid-" + strconv.Itoa(s.nextID), pub: p.id, won: wonAt,
				ipHash: uint64(s.nextID)}
			s.send(f.HandleImpression, events.TopicImpressions, events.Impression{BidID: c.bidID, Kind: "win",
				CampaignID: simCampaign, PublisherID: p.id, Exchange: "x1", Skill: simSkill,
				PriceMicros: int64(price * 1e6), Currency: "USD", At: s.at(wonAt)})
			s.trueWins[p.id]++
			w.wins++
			w.spend += price / 1000
			if s.rng.Float64() < p.rate {
				if d := s.timeToCall(); d < 2*3600 {
					c.arrive = wonAt + d
					s.push(c.arrive, evArrive, c)
				}
			}
		}
		f.drain()
	}
	return s
}

func poisson(r *rand.Rand, mean float64) int {
	// Knuth is fine for a mean of 20.
	l, k, p := math.Exp(-mean), 0, 1.0
	for {
		p *= r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// phase sums the windows [fromMin, toMin).
func (s *sim) phase(fromMin, toMin int) (offered, sl, lmax float64, wins int, spend float64) {
	var arr, within, answered int
	for i := fromMin / simWindow; i < toMin/simWindow; i++ {
		w := s.win[i]
		arr += w.arrivals
		within += w.within
		answered += w.answered
		wins += w.wins
		spend += w.spend
	}
	n := simN1
	if fromMin >= simShiftAt {
		n = simN2
	}
	lmax = lambdaMax(n, simAHT, simAnswerT, simSLTarget, simRhoMax)
	offered = float64(arr) / float64(toMin-fromMin)
	// a call not answered by the end of the run has waited past the target
	sl = float64(within) / math.Max(float64(arr), 1)
	return offered, sl, lmax, wins, spend
}

func (s *sim) table(name string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-13s %-9s %3s %7s %9s %7s %6s %7s %9s %6s %6s\n", name, "minutes", "N", "λ_max", "offered", "ratio", "SL", "wins", "spend$", "mult", "stop%")
	for i, w := range s.win {
		from := i * simWindow
		n := simN1
		if from >= simShiftAt {
			n = simN2
		}
		lm := lambdaMax(n, simAHT, simAnswerT, simSLTarget, simRhoMax)
		off := float64(w.arrivals) / simWindow
		fmt.Fprintf(&b, "%-13s %3d-%-5d %3d %7.2f %9.2f %7.2f %6.3f %7d %9.2f %6.3f %6.1f\n", "", from, from+simWindow, n, lm, off, off/lm,
			float64(w.within)/math.Max(float64(w.arrivals), 1), w.wins, w.spend, w.multSum/float64(w.ticks), 100*float64(w.stops)/float64(w.ticks))
	}
	return b.String()
}

// Steady-state windows: 40 min after start and after the shift change, so
// calls bought before a change have arrived.
var simPhases = [][2]int{{40, simShiftAt}, {simShiftAt + 40, simMinutes}}

func TestPacingSimulation(t *testing.T) {
	start := time.Now()
	runs := []struct {
		name             string
		pacing, hardStop bool
	}{
		{"pacing OFF", false, false},
		{"pacing ON μ", true, false},
		{"pacing ON μ+stop", true, true},
	}
	var out strings.Builder
	for _, r := range runs {
		if raceEnabled && r.pacing && !r.hardStop {
			continue
		}
		s := runSim(t, r.pacing, r.hardStop)
		out.WriteString(s.table(r.name))
		{
			off, sl, lm, _, _ := s.phase(simShiftAt, simShiftAt+40)
			fmt.Fprintf(&out, "%-13s shift  %3d-%-3d offered %.2f/min  λ_max %.2f  ratio %.3f  SL %.3f  (transition: calls bought for %d agents arrive; not asserted)\n",
				"", simShiftAt, simShiftAt+40, off, lm, off/lm, sl, simN1)
		}
		for _, ph := range simPhases {
			off, sl, lm, wins, spend := s.phase(ph[0], ph[1])
			fmt.Fprintf(&out, "%-13s steady %3d-%-3d offered %.2f/min  λ_max %.2f  ratio %.3f  SL %.3f  wins %d  spend $%.2f\n",
				"", ph[0], ph[1], off, lm, off/lm, sl, wins, spend)
			if r.pacing {
				if off > 1.05*lm {
					t.Errorf("%s minutes %d-%d: offered %.2f calls/min > 105%% of λ_max %.2f", r.name, ph[0], ph[1], off, lm)
				}
				if off < 0.6*lm {
					t.Errorf("%s minutes %d-%d: offered %.2f calls/min < 60%% of λ_max %.2f: pacing is leaving capacity unused", r.name, ph[0], ph[1], off, lm)
				}
				if sl < simSLTarget {
					t.Errorf("%s minutes %d-%d: service level %.3f < target %.2f", r.name, ph[0], ph[1], sl, simSLTarget)
				}
			} else {
				if off <= 1.05*lm {
					t.Errorf("%s minutes %d-%d: offered %.2f calls/min did not overshoot λ_max %.2f; the scenario proves nothing", r.name, ph[0], ph[1], off, lm)
				}
				if sl >= simSLTarget {
					t.Errorf("%s minutes %d-%d: service level %.3f held without pacing; the scenario proves nothing", r.name, ph[0], ph[1], sl)
				}
			}
		}
		if r.pacing && r.hardStop {
			// The learned hit rates track the truth (qualified calls per won impression).
			for _, p := range simPubs {
				got, _ := s.f.HitRates().CallRates(simCampaign, p.id)
				wins := s.trueWins[p.id]
				truth := float64(s.trueQual[p.id]) / float64(max(wins, 1))
				fmt.Fprintf(&out, "%-13s %s: wins %6d  true qualified rate %.4f  learned %.4f  HitRate %.2f\n", "", p.id, wins, truth, got, s.f.HitRates().HitRate(simCampaign, p.id))
				if wins >= 5000 && math.Abs(got-truth) > 0.2*truth {
					t.Errorf("%s: learned call rate %.4f is not within 20%% of the true %.4f", p.id, got, truth)
				}
			}
		}
	}
	out.WriteString("\nWith pacing OFF the queue grows without bound: calls are answered hours late, so qualification (talk\n" +
		"time) and with it the learned hit rates lag, bids on the best publishers fall and rise, and wins swing.\n" +
		"offered = calls arriving per minute; ratio = offered/λ_max; SL = share of the window's arrivals answered\n" +
		"within 20 s (unanswered at the end counts as late); mult = mean pacing multiplier; stop% = ticks in hard stop.\n")
	t.Logf("pacing simulation (seed %d, %d min simulated, %.1fs wall):%s", simSeed, simMinutes, time.Since(start).Seconds(), out.String())
}

// ewmaRate is a continuous-time moving average of event arrivals (the
// same estimator as capacity's λ_now and pacing's arrivals).
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
	e.rate += math.Exp(-(e.last-t)/tau) / tau
}

func (e *ewmaRate) perMin(now, tau float64) float64 {
	return e.rate * math.Exp(-math.Max(now-e.last, 0)/tau) * 60
}
