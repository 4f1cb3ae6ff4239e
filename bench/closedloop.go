package bench

import (
	"container/heap"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"
)

const (
	evNurl = iota
	evBurl
	evLurl
	evCall
	evKinds
)

var evNames = [evKinds]string{"nurl", "burl", "lurl", "call"}

type loopEvent struct {
	at        time.Time
	kind      int
	url       string
	dnis, ext string
}

type eventHeap []*loopEvent

func (h eventHeap) Len() int           { return len(h) }
func (h eventHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h eventHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)        { *h = append(*h, x.(*loopEvent)) }
func (h *eventHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// LoopReport is what the closed loop did and what /v1/calls answered.
type LoopReport struct {
	Bids          int64 `json:"bids"`
	Wins          int64 `json:"wins"`
	Losses        int64 `json:"losses"`
	Billed        int64 `json:"billed"`
	LateWins      int64 `json:"late_wins_sent"`
	CallsPlanned  int64 `json:"calls_planned"`
	MissingURL    int64 `json:"bids_without_notice_url"`
	MissingNumber int64 `json:"bids_without_number"`
	// DistinctNumbers is how many different number+ext the bids carried;
	// ReusedNumbers counts bids whose number an earlier bid already carried.
	DistinctNumbers int64 `json:"distinct_numbers"`
	ReusedNumbers   int64 `json:"reused_numbers"`
	Dropped         int64 `json:"dropped_queue_full"`
	Abandoned       int64 `json:"abandoned_at_end"`
	// Notices counts answers per notice kind and status ("error" = no answer).
	Notices map[string]map[string]int64 `json:"notices"`
	Calls   CallsReport                 `json:"calls"`
}

// CallsReport counts POST /v1/calls outcomes.
type CallsReport struct {
	Placed       int64            `json:"placed"`
	Repeat       int64            `json:"repeat_callers"`
	Status       map[string]int64 `json:"status"`
	Accepted     int64            `json:"accepted"`
	Rejected     int64            `json:"rejected"`
	Reasons      map[string]int64 `json:"reasons"`
	Match        map[string]int64 `json:"match"`
	Unattributed int64            `json:"unattributed"`
	Errors       int64            `json:"errors"`
}

type callRec struct{ ani, dnis, ext string }

// closedLoop plays the exchange after the auction and the callers after
// the ad: it turns bids into delayed notices and calls.
type closedLoop struct {
	cfg      ClosedLoopConfig
	in       chan *loopEvent
	work     chan *loopEvent
	client   *fasthttp.Client
	callsURI string
	token    string
	nonce    uint64
	pending  atomic.Int64
	planned  atomic.Int64
	fired    atomic.Int64
	callsN   atomic.Int64
	done     chan struct{}

	mu      sync.Mutex
	rng     *rand.Rand
	recent  []callRec
	numbers map[string]struct{}
	rep     LoopReport
}

func newClosedLoop(cfg ClosedLoopConfig, target string, seed int64) *closedLoop {
	base := cfg.CallsURL
	if base == "" {
		base = target
	}
	l := &closedLoop{
		cfg:      cfg,
		in:       make(chan *loopEvent, 4096),
		work:     make(chan *loopEvent, 4096),
		client:   &fasthttp.Client{MaxConnsPerHost: cfg.Workers * 2, NoDefaultUserAgentHeader: true, MaxIdemponentCallAttempts: 1},
		callsURI: strings.TrimRight(base, "/") + "/v1/calls",
		token:    cfg.CallsToken,
		nonce:    uint64(time.Now().UnixNano()) & 0xffffffff,
		done:     make(chan struct{}),
		rng:      rand.New(rand.NewPCG(uint64(seed), 99)),
		numbers:  map[string]struct{}{},
	}
	l.rep.Notices = map[string]map[string]int64{}
	l.rep.Calls = CallsReport{Status: map[string]int64{}, Reasons: map[string]int64{}, Match: map[string]int64{}}
	return l
}

func lognormal(rng *rand.Rand, median time.Duration, sigma float64) time.Duration {
	d := time.Duration(float64(median) * math.Exp(sigma*rng.NormFloat64()))
	return min(d, 10*time.Minute)
}

// offer is called by a sender for every bid it received (sender goroutine,
// its own rng). It decides win or loss and schedules the notices and call.
func (l *closedLoop) offer(rng *rand.Rand, resp, seat, bid *fastjson.Value, price float64) {
	now := time.Now()
	m := Macros{
		AuctionID: string(resp.GetStringBytes("id")), BidID: string(resp.GetStringBytes("bidid")),
		ImpID: string(bid.GetStringBytes("impid")), SeatID: string(seat.GetStringBytes("seat")),
		AdID: string(bid.GetStringBytes("adid")), Currency: string(resp.GetStringBytes("cur")),
	}
	if m.Currency == "" {
		m.Currency = "USD"
	}
	dnis, ext, hasNum := PhoneFromAdm(string(bid.GetStringBytes("adm")))
	win := rng.Float64() < l.cfg.WinRate
	delay := lognormal(rng, l.cfg.NoticeDelay, l.cfg.NoticeSigma)
	late := false
	var evs [3]*loopEvent
	n := 0
	var missingURL, billed, call bool
	if win {
		// First-price exchanges charge the bid; second-price ones less: the
		// clearing price is never above the bid.
		clearing := price * (0.7 + 0.3*rng.Float64())
		m.Price = strconv.FormatFloat(math.Round(clearing*1e4)/1e4, 'f', -1, 64)
		if price > 0 {
			m.MBR = strconv.FormatFloat(math.Round(clearing/price*1e4)/1e4, 'f', -1, 64)
		}
		if rng.Float64() < l.cfg.LateWinShare {
			late = true
			delay = time.Duration(float64(l.cfg.LateWinDelay) * (1 + rng.Float64()))
		}
		if u := string(bid.GetStringBytes("nurl")); u != "" {
			evs[n] = &loopEvent{at: now.Add(delay), kind: evNurl, url: Expand(u, &m)}
			n++
		} else {
			missingURL = true
		}
		if rng.Float64() < l.cfg.BillRate {
			billed = true
			renderAt := now.Add(delay + lognormal(rng, 3*l.cfg.NoticeDelay, l.cfg.NoticeSigma))
			if u := string(bid.GetStringBytes("burl")); u != "" {
				evs[n] = &loopEvent{at: renderAt, kind: evBurl, url: Expand(u, &m)}
				n++
			} else {
				missingURL = true
			}
			if hasNum && rng.Float64() < l.cfg.CallRate {
				call = true
				evs[n] = &loopEvent{at: renderAt.Add(lognormal(rng, l.cfg.CallDelay, l.cfg.CallSigma)), kind: evCall, dnis: dnis, ext: ext}
				n++
			}
		}
	} else {
		m.Loss = "102" // lost to a higher bid
		m.Price = strconv.FormatFloat(math.Round(price*(1.05+0.5*rng.Float64())*1e4)/1e4, 'f', -1, 64)
		if u := string(bid.GetStringBytes("lurl")); u != "" {
			evs[n] = &loopEvent{at: now.Add(delay), kind: evLurl, url: Expand(u, &m)}
			n++
		} else {
			missingURL = true
		}
	}

	l.mu.Lock()
	r := &l.rep
	r.Bids++
	if win {
		r.Wins++
	} else {
		r.Losses++
	}
	if billed {
		r.Billed++
	}
	if late {
		r.LateWins++
	}
	if call {
		r.CallsPlanned++
	}
	if missingURL {
		r.MissingURL++
	}
	if hasNum {
		key := dnis + ";" + ext
		if _, seen := l.numbers[key]; seen {
			r.ReusedNumbers++
		} else {
			l.numbers[key] = struct{}{}
		}
	} else {
		r.MissingNumber++
	}
	l.mu.Unlock()

	for _, ev := range evs[:n] {
		if l.pending.Load() >= int64(l.cfg.MaxPending) {
			l.count(func(r *LoopReport) { r.Dropped++ })
			continue
		}
		l.pending.Add(1)
		l.planned.Add(1)
		select {
		case l.in <- ev:
		default:
			// Never block a sender: the open loop must stay on schedule.
			l.pending.Add(-1)
			l.count(func(r *LoopReport) { r.Dropped++ })
		}
	}
}

func (l *closedLoop) count(f func(*LoopReport)) {
	l.mu.Lock()
	f(&l.rep)
	l.mu.Unlock()
}

// run keeps the heap of future events and hands due ones to the workers
// until ctx ends; what is still pending then is counted as abandoned.
func (l *closedLoop) run(ctx context.Context) {
	defer close(l.done)
	var wg sync.WaitGroup
	for range l.cfg.Workers {
		wg.Add(1)
		go func() { defer wg.Done(); l.worker(ctx) }()
	}
	var h eventHeap
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		wait := time.Hour
		if len(h) > 0 {
			wait = time.Until(h[0].at)
		}
		if wait <= 0 {
			ev := heap.Pop(&h).(*loopEvent)
			select {
			case l.work <- ev:
			case <-ctx.Done():
				heap.Push(&h, ev)
				l.abandon(len(h))
				close(l.work)
				wg.Wait()
				return
			}
			continue
		}
		timer.Reset(wait)
		select {
		case ev := <-l.in:
			heap.Push(&h, ev)
		case <-timer.C:
		case <-ctx.Done():
			l.abandon(len(h) + len(l.in))
			close(l.work)
			wg.Wait()
			return
		}
	}
}

func (l *closedLoop) abandon(n int) {
	l.count(func(r *LoopReport) { r.Abandoned += int64(n) })
}

func (l *closedLoop) worker(ctx context.Context) {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	for ev := range l.work {
		if ctx.Err() != nil {
			l.pending.Add(-1)
			l.abandon(1)
			continue
		}
		req.Reset()
		resp.Reset()
		if ev.kind == evCall {
			l.call(req, resp, ev)
		} else {
			// Exchanges fire notices by GET (POST is allowed too).
			req.SetRequestURI(ev.url)
			req.Header.SetMethod(fasthttp.MethodGet)
			err := l.client.DoTimeout(req, resp, 2*time.Second)
			st := "error"
			if err == nil {
				st = strconv.Itoa(resp.StatusCode())
			}
			l.count(func(r *LoopReport) {
				m := r.Notices[evNames[ev.kind]]
				if m == nil {
					m = map[string]int64{}
					r.Notices[evNames[ev.kind]] = m
				}
				m[st]++
			})
		}
		l.fired.Add(1)
		l.pending.Add(-1)
	}
}

type callAnswer struct {
	Accept      bool            `json:"accept"`
	Reason      string          `json:"reason"`
	Match       string          `json:"match"`
	Attribution json.RawMessage `json:"attribution"`
}

func (l *closedLoop) call(req *fasthttp.Request, resp *fasthttp.Response, ev *loopEvent) {
	l.mu.Lock()
	repeat := len(l.recent) > 0 && l.rng.Float64() < l.cfg.RepeatCallers
	var c callRec
	if repeat {
		// The same person calls the same number again (cooldown/sticky).
		c = l.recent[l.rng.IntN(len(l.recent))]
	} else {
		c = callRec{ani: randomANI(l.rng), dnis: ev.dnis, ext: ev.ext}
		if len(l.recent) < 1024 {
			l.recent = append(l.recent, c)
		} else {
			l.recent[l.rng.IntN(len(l.recent))] = c
		}
	}
	l.mu.Unlock()
	n := l.callsN.Add(1)
	body, _ := json.Marshal(map[string]string{
		"call_id": fmt.Sprintf("bench-%x-%d", l.nonce, n), "dnis": c.dnis, "ext": c.ext, "ani": c.ani,
		"started_at": time.Now().UTC().Format(time.RFC3339),
	})
	req.SetRequestURI(l.callsURI)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	if l.token != "" {
		req.Header.Set(fasthttp.HeaderAuthorization, "Bearer "+l.token)
	}
	req.SetBodyRaw(body)
	err := l.client.DoTimeout(req, resp, 2*time.Second)
	var a callAnswer
	decoded := false
	if err == nil && resp.StatusCode() == 200 {
		decoded = json.Unmarshal(resp.Body(), &a) == nil
	}
	l.count(func(r *LoopReport) {
		cr := &r.Calls
		cr.Placed++
		if repeat {
			cr.Repeat++
		}
		if err != nil {
			cr.Errors++
			cr.Status["error"]++
			return
		}
		cr.Status[strconv.Itoa(resp.StatusCode())]++
		if !decoded {
			return
		}
		if a.Accept {
			cr.Accepted++
		} else {
			cr.Rejected++
		}
		if a.Reason != "" {
			cr.Reasons[a.Reason]++
		}
		m := a.Match
		if m == "" {
			m = "(empty)"
		}
		cr.Match[m]++
		if a.Match == "none" || len(a.Attribution) == 0 || string(a.Attribution) == "null" {
			cr.Unattributed++
		}
	})
}

var areaCodes = []string{"212", "213", "305", "312", "404", "415", "469", "512", "602", "617", "702", "713", "786", "818", "917", "972"}

func randomANI(rng *rand.Rand) string {
	return fmt.Sprintf("+1%s%d%06d", areaCodes[rng.IntN(len(areaCodes))], 2+rng.IntN(8), rng.IntN(1_000_000))
}

// wait lets pending events fire for up to drain, then stops the loop.
func (l *closedLoop) finish(cancel context.CancelFunc, drain time.Duration) *LoopReport {
	deadline := time.Now().Add(drain)
	for l.pending.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	rep := l.rep
	rep.DistinctNumbers = int64(len(l.numbers))
	return &rep
}

// progress is the closed-loop part of the progress line.
func (l *closedLoop) progress() string {
	if l == nil {
		return ""
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprintf(" | wins %d calls %d pending %d", l.rep.Wins, l.rep.Calls.Placed, l.pending.Load())
}

func (r *LoopReport) writeText(w io.Writer) {
	tw := w.(*tabwriter.Writer)
	fmt.Fprintf(tw, "\nclosed loop\t\n")
	fmt.Fprintf(tw, "  bids\t%d: wins %d (billed %d, late %d), losses %d; no notice URL %d, no number %d\n",
		r.Bids, r.Wins, r.Billed, r.LateWins, r.Losses, r.MissingURL, r.MissingNumber)
	fmt.Fprintf(tw, "  numbers\t%d distinct in bids, %d bids reused a number already seen\n", r.DistinctNumbers, r.ReusedNumbers)
	for k := 0; k < evCall; k++ {
		if m := r.Notices[evNames[k]]; m != nil {
			fmt.Fprintf(tw, "  %s\t%s\n", evNames[k], kv(m))
		}
	}
	c := &r.Calls
	fmt.Fprintf(tw, "  calls\tplanned %d, placed %d (%d repeat callers), status %s\n", r.CallsPlanned, c.Placed, c.Repeat, kv(c.Status))
	fmt.Fprintf(tw, "  attribution\taccepted %d, rejected %d, unattributed %d; match %s; reasons %s\n",
		c.Accepted, c.Rejected, c.Unattributed, kv(c.Match), kv(c.Reasons))
	fmt.Fprintf(tw, "  queue\tdropped %d (queue full), abandoned %d at end of drain\n", r.Dropped, r.Abandoned)
}
