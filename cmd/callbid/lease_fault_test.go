//go:build !race

// The fault test runs the real binary (built without the race detector) through
// kills and broker outages for a few minutes: once, in the plain pass, is
// enough; the race pass covers the same code in the numbers and bidder tests.

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/kafkaio"
	"github.com/rs/zerolog"
)

// exchange plays an ad exchange against whichever callbid process is up:
// it bids, keeps a ledger of every bid and of every win notice callbid
// acknowledged (204), fires a loss notice for the bids it does not award,
// and keeps win notices that were not acknowledged for a retry, as
// exchanges do.
type exchange struct {
	t      *testing.T
	client *http.Client

	cur  atomic.Pointer[proc]
	life atomic.Int64 // index of the process in use
	mu   sync.Mutex
	next chan struct{} // closed when another process takes over

	ledger  sync.Mutex
	bids    map[string]ledgerBid   // bid id → bid
	acked   map[string][]ledgerBid // number → bids whose win was acknowledged
	pending []ledgerBid            // wins not acknowledged yet

	nBids, nWins, n503, nErr atomic.Int64
	nbrs                     sync.Map // no-bid reason → *atomic.Int64 (shown when a phase stalls)
}

func (b ledgerBid) String() string {
	return fmt.Sprintf("%s (bid in life %d, win answers %v)", b.id, b.life, b.tries)
}

type ledgerBid struct {
	id, number, nurl, lurl string
	life                   int      // which callbid process made the bid (0, 1, …)
	tries                  []string // answers to its win notice: "life:status"
}

func newExchange(t *testing.T, p *proc) *exchange {
	x := &exchange{t: t, client: &http.Client{Timeout: 10 * time.Second}, next: make(chan struct{}),
		bids: map[string]ledgerBid{}, acked: map[string][]ledgerBid{}}
	x.cur.Store(p)
	return x
}

// use switches to process p and wakes workers waiting for one.
func (x *exchange) use(p *proc) {
	x.mu.Lock()
	x.cur.Store(p)
	x.life.Add(1)
	close(x.next)
	x.next = make(chan struct{})
	x.mu.Unlock()
}

// waitNext blocks until another process than p is in use, or ctx ends.
func (x *exchange) waitNext(ctx context.Context, p *proc) {
	x.mu.Lock()
	ch := x.next
	cur := x.cur.Load()
	x.mu.Unlock()
	if cur != p {
		return
	}
	select {
	case <-ch:
	case <-ctx.Done():
	}
}

func (x *exchange) url(p *proc, u string) string {
	u = strings.Replace(u, "http://127.0.0.1:8080", "http://"+p.public, 1)
	return strings.ReplaceAll(u, "${AUCTION_PRICE}", "1.25")
}

// notice fires u at p: 0 when the process could not be reached.
func (x *exchange) notice(p *proc, u string) int {
	resp, err := x.client.Get(x.url(p, u))
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// win fires b's win notice and books the answer.
func (x *exchange) win(p *proc, b ledgerBid) bool {
	life := x.life.Load()
	st := x.notice(p, b.nurl)
	b.tries = append(b.tries, fmt.Sprintf("%d:%d", life, st))
	switch st {
	case 204:
		x.ledger.Lock()
		x.acked[b.number] = append(x.acked[b.number], b)
		x.ledger.Unlock()
		x.nWins.Add(1)
		return true
	case 503:
		x.n503.Add(1)
	case 0:
		x.nErr.Add(1)
	default:
		x.t.Errorf("win notice answered %d", st)
	}
	x.ledger.Lock()
	x.pending = append(x.pending, b)
	x.ledger.Unlock()
	return false
}

// run bids until ctx ends; every third bid wins, the others lose.
func (x *exchange) run(ctx context.Context, worker int) {
	for n := 0; ctx.Err() == nil; n++ {
		life := int(x.life.Load())
		p := x.cur.Load()
		x.retryOnce(p) // exchanges retry unacknowledged win notices
		// A different request and device each time (win caps are per device).
		req := strings.Replace(bidRequest, `"e2e-req-1"`, fmt.Sprintf(`"fault-%d-%d"`, worker, n), 1)
		req = strings.Replace(req, `"73.12.44.9"`, fmt.Sprintf(`"73.%d.%d.%d"`, 10+worker, n/250%250, n%250), 1)
		resp, err := x.client.Post("http://"+p.public+"/openrtb2/bid?exchange=demo-nbr", "application/json", strings.NewReader(req))
		if err != nil {
			x.waitNext(ctx, p) // the process is gone: wait for the next one
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			continue
		}
		var br struct {
			SeatBid []struct {
				Bid []struct {
					ID   string `json:"id"`
					AdM  string `json:"adm"`
					NURL string `json:"nurl"`
					LURL string `json:"lurl"`
				} `json:"bid"`
			} `json:"seatbid"`
		}
		if json.Unmarshal(body, &br) != nil || len(br.SeatBid) == 0 {
			var nb struct {
				NBR int `json:"nbr"`
			}
			_ = json.Unmarshal(body, &nb)
			c, _ := x.nbrs.LoadOrStore(nb.NBR, new(atomic.Int64))
			c.(*atomic.Int64).Add(1)
			continue
		}
		bid := br.SeatBid[0].Bid[0]
		m := telRE.FindStringSubmatch(bid.AdM)
		if m == nil {
			x.t.Errorf("bid markup without a number: %s", bid.AdM)
			return
		}
		b := ledgerBid{id: bid.ID, number: m[1] + ";ext=" + m[2], nurl: bid.NURL, lurl: bid.LURL, life: life}
		x.ledger.Lock()
		x.bids[b.id] = b
		x.ledger.Unlock()
		x.nBids.Add(1)
		if n%3 == 0 {
			x.win(p, b)
		} else {
			x.notice(p, b.lurl)
		}
	}
}

// retryOnce fires the win notices not acknowledged so far once more.
func (x *exchange) retryOnce(p *proc) {
	x.ledger.Lock()
	todo := x.pending
	x.pending = nil
	x.ledger.Unlock()
	for _, b := range todo {
		x.win(p, b)
	}
}

// retryPending fires every unacknowledged win again until each is
// acknowledged or ctx ends; it returns how many are left.
func (x *exchange) retryPending(ctx context.Context) int {
	for ctx.Err() == nil {
		x.ledger.Lock()
		todo := x.pending
		x.pending = nil
		x.ledger.Unlock()
		if len(todo) == 0 {
			return 0
		}
		p := x.cur.Load()
		for _, b := range todo {
			x.win(p, b)
		}
	}
	x.ledger.Lock()
	defer x.ledger.Unlock()
	return len(x.pending)
}

// waitCount waits until c reaches n (or fails the test after d, with the
// no-bid reasons seen).
func (x *exchange) waitCount(what string, c *atomic.Int64, n int64, d time.Duration, p *proc) {
	x.t.Helper()
	deadline := time.Now().Add(d)
	logged := false
	waitFor(x.t, what, d+time.Second, p, func() bool {
		if c.Load() < n && time.Now().After(deadline) && !logged {
			logged = true
			var nbrs []string
			x.nbrs.Range(func(k, v any) bool {
				nbrs = append(nbrs, fmt.Sprintf("nbr %v: %d", k, v.(*atomic.Int64).Load()))
				return true
			})
			x.t.Logf("%s: %d of %d; bids %d, wins %d, 503 %d; no-bids %v", what, c.Load(), n, x.nBids.Load(),
				x.nWins.Load(), x.n503.Load(), nbrs)
		}
		return c.Load() >= n
	})
}

// TestNoAcknowledgedLeaseLost is the exchange's view of the lease promise:
// bids and wins flow while callbid is killed with SIGKILL (twice), the
// broker goes away (and callbid is killed during that outage), and callbid
// is stopped with SIGTERM. Every win callbid acknowledged must still be
// attributed to its own bid at the end, and no number may carry two
// acknowledged wins.
func TestNoAcknowledgedLeaseLost(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	config := demoConfig(t)
	// Every acknowledged win keeps its number for the 30-minute lease (a
	// wider pool, so many rounds do not exhaust it). This test is about
	// leases, not the closed loop: with participation on, the simulated
	// center's slow start decides how fast wins come.
	editConfig(t, config, append(widerMortgagePool,
		"\n  pacing: {", "\n  participation: { disabled: true }\n  pacing: {")...)
	brokerAddr := freeAddr(t)
	dataDir := filepath.Join(t.TempDir(), "broker")
	broker := startBroker(t, brokerAddr, 4, dataDir)
	defer func() { broker.Close() }()

	// The contact center streams agent states into the external broker.
	kcfg := brokerConfig(brokerAddr)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	defer streamCenter(t, kcfg)()

	env := "CALLBID_KAFKA_BROKERS=" + brokerAddr
	start := func() *proc { return startReady(t, "ready", 60*time.Second, bin, config, env) }
	p := start()
	x := newExchange(t, p)
	load, stopLoad := context.WithCancel(ctx)
	var workers sync.WaitGroup
	for w := range 2 {
		workers.Add(1)
		go func() { defer workers.Done(); x.run(load, w) }()
	}
	kill := func(p *proc) {
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = p.cmd.Wait()
	}

	phase := func(what string) {
		t.Logf("life %d: %s (bids %d, wins %d, 503 %d)", x.life.Load(), what, x.nBids.Load(), x.nWins.Load(), x.n503.Load())
	}
	// kill -9 restarts under load (CALLBID_FAULT_ROUNDS, default 2; the
	// same number of SIGTERM restarts follows at the end).
	rounds := 2
	if v, err := strconv.Atoi(os.Getenv("CALLBID_FAULT_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	for round := 1; round <= rounds; round++ {
		x.waitCount("wins before the kill", &x.nWins, x.nWins.Load()+30, 90*time.Second, p)
		phase("kill -9")
		kill(p)
		p = start()
		x.use(p)
	}

	// A broker outage while wins come in: wins wait, then 503; callbid says
	// the lease log cannot be written and stops reserving; then kill -9
	// during the outage, and both come back.
	x.waitCount("wins before the outage", &x.nWins, x.nWins.Load()+30, 90*time.Second, p)
	phase("broker down")
	broker.Close()
	waitFor(t, "readiness to report the lease log", 30*time.Second, p, func() bool {
		_, body := readyz(p)
		return strings.Contains(body, "lease log")
	})
	x.waitCount("wins answered 503 during the outage", &x.n503, 1, 60*time.Second, p)
	phase("kill -9 during the outage")
	kill(p)
	broker = startBroker(t, brokerAddr, 4, dataDir)
	p = start()
	x.use(p)

	// A broker outage callbid lives through: the wins answered 503 meanwhile
	// are retried and acknowledged once the broker is back.
	x.waitCount("wins before the second outage", &x.nWins, x.nWins.Load()+30, 90*time.Second, p)
	phase("broker down")
	before503 := x.n503.Load()
	broker.Close()
	waitFor(t, "readiness to report the lease log", 30*time.Second, p, func() bool {
		_, body := readyz(p)
		return strings.Contains(body, "lease log")
	})
	x.waitCount("wins answered 503 during the second outage", &x.n503, before503+2, 60*time.Second, p)
	// CALLBID_FAULT_OUTAGE (e.g. 10s, 60s) makes this outage last at least that
	// long, bids and notices flowing all along: the outage's length is the
	// scenario, not a wait for a signal.
	if d, err := time.ParseDuration(os.Getenv("CALLBID_FAULT_OUTAGE")); err == nil && d > 0 {
		phase("broker kept down for " + d.String())
		time.Sleep(d)
	}
	broker = startBroker(t, brokerAddr, 4, dataDir)
	phase("broker back")
	waitFor(t, "ready after the broker came back", 60*time.Second, p, func() bool { c, _ := readyz(p); return c == 200 })

	// SIGTERM restarts under load.
	for round := 1; round <= rounds; round++ {
		x.waitCount("wins before SIGTERM", &x.nWins, x.nWins.Load()+30, 90*time.Second, p)
		phase("SIGTERM")
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := p.cmd.Wait(); err != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", err, p.out)
		}
		if strings.Contains(p.out.String(), "records were not written") {
			t.Errorf("SIGTERM left lease records unwritten:\n%s", p.out)
		}
		p = start()
		x.use(p)
	}
	x.waitCount("wins after the last restart", &x.nWins, x.nWins.Load()+20, 90*time.Second, p)
	stopLoad()
	workers.Wait()

	// Exchanges retry what was not acknowledged.
	rctx, rdone := context.WithTimeout(ctx, 60*time.Second)
	left := x.retryPending(rctx)
	rdone()
	if left != 0 {
		t.Errorf("%d win notices still not acknowledged after retrying for 60s", left)
	}

	// The ledger against callbid: each acknowledged win's number answers
	// with that bid; no number carries two acknowledged wins.
	x.ledger.Lock()
	defer x.ledger.Unlock()
	lost, twice := 0, 0
	k := 0
	var bad []string
	defer func() {
		if len(bad) > 0 {
			dumpLeaseLog(t, kcfg, bad)
		}
	}()
	for number, ids := range x.acked {
		if len(ids) > 1 {
			twice++
			bad = append(bad, number)
			t.Errorf("number %s acknowledged for %d impressions: %v", number, len(ids), ids)
			continue
		}
		dnis, ext, _ := strings.Cut(number, ";ext=")
		k++
		a := call(t, p, fmt.Sprintf("ledger-%d", k), dnis, ext, fmt.Sprintf("+1415555%04d", k))
		if a.Attribution == nil || a.Attribution["bid_id"] != ids[0].id {
			lost++
			bad = append(bad, number)
			t.Errorf("number %s: acknowledged for bid %v, /v1/calls answers %s %v", number, ids[0], a.Match, a.Attribution)
		}
	}
	resp, err := http.Get("http://" + p.admin + "/admin/pools")
	var pools []byte
	if err == nil {
		pools, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	t.Logf("bids %d, acknowledged wins %d on %d numbers, 503 answers %d, unreachable %d; lost %d, numbers on two impressions %d",
		x.nBids.Load(), x.nWins.Load(), len(x.acked), x.n503.Load(), x.nErr.Load(), lost, twice)
	if testing.Verbose() {
		t.Logf("/admin/pools after the run: %s", pools)
	}
}

// dumpLeaseLog logs every lease record of the given numbers (on failure).
func dumpLeaseLog(t *testing.T, cfg kafkaio.Config, numbers []string) {
	want := map[string]bool{}
	for _, n := range numbers {
		want[n] = true
	}
	var mu sync.Mutex
	var lines []string
	c := kafkaio.NewConsumer(cfg, events.TopicLeases, func(m kafkaio.Message) {
		if want[string(m.Key)] {
			mu.Lock()
			lines = append(lines, fmt.Sprintf("p%d@%d %s %s", m.Partition, m.Offset, m.Key, m.Value))
			mu.Unlock()
		}
	}, zerolog.Nop())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go c.Run(ctx)
	for !c.CaughtUp() && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("lease log of the numbers in error:\n%s", strings.Join(lines, "\n"))
}
