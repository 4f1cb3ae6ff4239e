//go:build !race

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Measurements of shared pools (README "Running several instances"), run on
// demand: CALLBID_MEASURE=1 go test ./cmd/callbid -run SharedMeasure -v.
// They report numbers and fail only when the setup does not work; what the
// numbers must be is the README's claim, checked by reading them.

func measureOnly(t *testing.T) {
	t.Helper()
	if os.Getenv("CALLBID_MEASURE") == "" {
		t.Skip("a measurement: CALLBID_MEASURE=1 runs it")
	}
}

// sharedSetup starts a broker, the simulated center and returns configs for callbid
// instances sharing pools, with the mortgage campaign alone (the others paused), bidding
// without capacity, participation or hold-budget limits, daily budget and
// reserve window as given.
func sharedSetup(t *testing.T, dailyBudget, reserveWindow string) (configs func(k int) string, env string) {
	t.Helper()
	brokerAddr := freeAddr(t)
	broker := startBroker(t, brokerAddr, 6, "")
	t.Cleanup(func() { broker.Close() })
	stop := streamCenter(t, brokerConfig(brokerAddr))
	t.Cleanup(stop)
	return func(k int) string {
		c := demoConfig(t)
		// Fetch sizing: shared_pools' defaults (min_bytes 64 KiB, max_wait
		// 50ms) unless CALLBID_MEASURE_MIN_BYTES sets min_bytes (1 is the
		// single instance's default) to compare.
		kafkaEdit := sharedPoolsKafka[1]
		if mb := os.Getenv("CALLBID_MEASURE_MIN_BYTES"); mb != "" {
			kafkaEdit += "  min_bytes: " + mb + "\n"
		}
		editConfig(t, c, append(append(measurePool, sharedPoolsKafka[0], kafkaEdit),
			"    daily_budget: 2500.00\n", "    daily_budget: "+dailyBudget+"\n",
			"    number_pool: mortgage-pool\n", "    number_pool: mortgage-pool\n    needs_capacity: false\n    budget_reserve_window: "+reserveWindow+"\n",
			mortgageChat, "",
			"  - id: auto-insurance-quotes\n", "  - id: auto-insurance-quotes\n    status: paused\n",
			"  - id: injury-legal\n", "  - id: injury-legal\n    status: paused\n",
			"\n  pacing: {", "\n  participation: { disabled: true }\n  pacing: {",
			// One client and one exchange send everything here.
			"\nserver:\n", "\nserver:\n  hold_budget: { client_share: 1, exchange_share: 1 }\n")...)
		return c
	}, "CALLBID_KAFKA_BROKERS=" + brokerAddr
}

// mortgageChat is the demo mortgage campaign's chat invitation. These
// measurements bid without capacity, and a chat channel (which bids only
// when voice has no headroom) needs it, so they take the channel out.
const mortgageChat = "    channels:\n      - { channel: chat, pool: mortgage-chat-keys, action_url: \"https://lendwell.example/chat?k={{key}}\", title: \"Chat with a loan officer now\", value_multiplier: 0.7 }\n"

// measurePool gives the mortgage pool 199,900 entries, so that no phase
// of a measurement runs it dry (lost numbers cool down for 30 minutes):
// no-bids cost less CPU than bids and would skew the comparison.
var measurePool = []string{`{ number: "+18005550110", from: 100, to: 999 }`, `{ number: "+18005550110", from: 100, to: 199999 }`}

type measureBid struct {
	price            float64
	nurl, burl, lurl string
}

// bidOnce posts one bid request to p; ok false on a no-bid, with the nbr.
func bidOnce(client *http.Client, p *proc, id string, n int) (measureBid, int, bool) {
	req := strings.Replace(bidRequest, `"e2e-req-1"`, fmt.Sprintf("%q", id), 1)
	req = strings.Replace(req, `"73.12.44.9"`, fmt.Sprintf(`"75.%d.%d.%d"`, n/62500%250, n/250%250, n%250), 1)
	resp, err := client.Post("http://"+p.public+"/openrtb2/bid?exchange=demo-nbr", "application/json", strings.NewReader(req))
	if err != nil {
		return measureBid{}, -2, false
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var br struct {
		NBR     int `json:"nbr"`
		SeatBid []struct {
			Bid []struct {
				Price            float64
				NURL, BURL, LURL string
			} `json:"bid"`
		} `json:"seatbid"`
	}
	_ = json.Unmarshal(body, &br)
	if resp.StatusCode != 200 || len(br.SeatBid) == 0 {
		return measureBid{}, br.NBR, false
	}
	b := br.SeatBid[0].Bid[0]
	return measureBid{price: b.Price, nurl: b.NURL, burl: b.BURL, lurl: b.LURL}, 0, true
}

func notify(client *http.Client, p *proc, u string, price float64) int {
	u = strings.Replace(u, "http://127.0.0.1:8080", "http://"+p.public, 1)
	resp, err := client.Get(strings.ReplaceAll(u, "${AUCTION_PRICE}", strconv.FormatFloat(price, 'f', 4, 64)))
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestSharedMeasureBudgetOverspend: two instances share pools and the
// mortgage campaign's small daily budget; every bid is won and billed at its
// price at once, at the instance that bid, until neither has bid for longer
// than the reserve window. The exchange's total bill against the budget is
// the overspend. Run with the default reserve window and with it off.
func TestSharedMeasureBudgetOverspend(t *testing.T) {
	measureOnly(t)
	for _, c := range []struct{ name, window string }{{"reserve 15s", "15s"}, {"reserve off", "-1s"}} {
		t.Run(c.name, func(t *testing.T) { measureOverspend(t, c.window) })
	}
}

func measureOverspend(t *testing.T, window string) {
	const budget = 20.00
	bin := buildBinary(t)
	cfg, env := sharedSetup(t, "20.00", window)
	var procs [2]*proc
	for k := range procs {
		procs[k] = startReady(t, fmt.Sprintf("instance %d ready", k), 90*time.Second, bin, cfg(k), env)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	var mu sync.Mutex
	var perInst [2]float64
	var bills, bids [2]atomic.Int64
	var first, last, lastBid atomic.Int64 // unix nanos of the first and last bill, last bid
	lastBid.Store(time.Now().UnixNano())
	ctx, cancel := context.WithTimeout(context.Background(), 240*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := w % 2
			p := procs[k]
			for n := 0; ctx.Err() == nil; n++ {
				b, _, ok := bidOnce(client, p, fmt.Sprintf("budget-%d-%d", w, n), w*1_000_000+n)
				if !ok {
					time.Sleep(5 * time.Millisecond) // the exchange's next request, not a wait for a signal
					continue
				}
				lastBid.Store(time.Now().UnixNano())
				bids[k].Add(1)
				if notify(client, p, b.nurl, b.price) != 204 {
					continue
				}
				if st := notify(client, p, b.burl, b.price); st/100 == 2 {
					now := time.Now().UnixNano()
					first.CompareAndSwap(0, now)
					last.Store(now)
					bills[k].Add(1)
					mu.Lock()
					perInst[k] += b.price / 1000
					mu.Unlock()
				}
			}
		}()
	}
	// Bids in flight are reserved for the window: stop once nobody has bid
	// for longer than it.
	quiet := 20 * time.Second
	if strings.HasPrefix(window, "-") {
		quiet = 5 * time.Second
	}
	waitFor(t, "both instances to stop bidding", 240*time.Second, procs[0], func() bool {
		return time.Since(time.Unix(0, lastBid.Load())) > quiet
	})
	cancel()
	wg.Wait()
	spent := perInst[0] + perInst[1]
	secs := float64(last.Load()-first.Load()) / 1e9
	t.Logf("reserve window %s: budget %.2f, billed %.4f (%.1f%%), overspend %.4f; bills %d + %d, bids %d + %d; billing lasted %.1f s",
		window, budget, spent, 100*spent/budget, spent-budget, bills[0].Load(), bills[1].Load(), bids[0].Load(), bids[1].Load(), secs)
	for k := range 2 {
		t.Logf("instance %d: billed %.4f at %.4f/s; the README's shared term for it, the other's rate x 0.5 s = %.4f",
			k, perInst[k], perInst[k]/secs, perInst[1-k]/secs*0.5)
	}
}

// cpuTicks is the process's user + system CPU time in clock ticks.
func cpuTicks(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.ParseInt(f[11], 10, 64) // field 14 of stat
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st
}

// TestSharedMeasureCPUPerRequest: the CPU instance A spends per request (a
// bid answered by a loss notice, so the pool never runs out) alone in the
// pool-sharing group; beside a standalone callbid (its own embedded broker,
// not sharing) under the same load, which is what two processes on one
// 2-core machine cost each other without sharing anything; and as one of two
// sharing pools, both under the same load (each reads the other's lease,
// impression and bid records). Phases alternate so drift in the machine's
// other load shows. The comparison that matters is sharing against beside a
// standalone (both two loaded processes on one machine); for a conclusive
// one, more requests per phase (CPU is counted in 10 ms ticks) and more
// alternating rounds, and read the medians:
//
//	CALLBID_MEASURE=1 CALLBID_MEASURE_REQUESTS=10000 CALLBID_MEASURE_ROUNDS=4 \
//	  go test ./cmd/callbid -run SharedMeasureCPU -v
func TestSharedMeasureCPUPerRequest(t *testing.T) {
	measureOnly(t)
	bin := buildBinary(t)
	// A budget no phase reaches: the reserve window holds every bid of the
	// last 15 s against it, and a budget no-bid is cheaper than a bid.
	cfg, env := sharedSetup(t, "200000.00", "15s")
	a := startReady(t, "instance A ready", 90*time.Second, bin, cfg(0), env)
	// The neighbour: the same edits, without the shared broker.
	nc := demoConfig(t)
	editConfig(t, nc, measurePool[0], measurePool[1],
		"    daily_budget: 2500.00\n", "    daily_budget: 200000.00\n",
		"    number_pool: mortgage-pool\n", "    number_pool: mortgage-pool\n    needs_capacity: false\n",
		mortgageChat, "",
		"  - id: auto-insurance-quotes\n", "  - id: auto-insurance-quotes\n    status: paused\n",
		"  - id: injury-legal\n", "  - id: injury-legal\n    status: paused\n",
		"\n  pacing: {", "\n  participation: { disabled: true }\n  pacing: {",
		"\nserver:\n", "\nserver:\n  hold_budget: { client_share: 1, exchange_share: 1 }\n")
	neighbour := startBidder(t, bin, nc)
	client := &http.Client{Timeout: 10 * time.Second}
	perPhase := 3000
	if v, err := strconv.Atoi(os.Getenv("CALLBID_MEASURE_REQUESTS")); err == nil && v > 0 {
		perPhase = v
	}
	var seq, nBids atomic.Int64
	var nbrMu sync.Mutex
	nbrs := map[int]int{}
	load := func(ps []*proc, n int) {
		var wg sync.WaitGroup
		for _, p := range ps {
			for range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range n / 2 {
						id := seq.Add(1)
						b, nbr, ok := bidOnce(client, p, fmt.Sprintf("cpu-%d", id), int(id))
						if ok {
							nBids.Add(1)
							notify(client, p, b.lurl, b.price)
						} else {
							nbrMu.Lock()
							nbrs[nbr]++
							nbrMu.Unlock()
						}
					}
				}()
			}
		}
		wg.Wait()
	}
	// Until the pacing loop of each lets bids through.
	warm := func(ps []*proc) {
		for _, p := range ps {
			waitFor(t, "bids flowing", 60*time.Second, p, func() bool {
				nBids.Store(0)
				load([]*proc{p}, 100)
				return nBids.Load() >= 95
			})
		}
	}
	results := map[string][]float64{}
	phase := func(name string, ps []*proc) {
		warm(ps)
		nBids.Store(0)
		nbrMu.Lock()
		clear(nbrs)
		nbrMu.Unlock()
		before := cpuTicks(t, a.cmd.Process.Pid)
		start := time.Now()
		load(ps, perPhase)
		ticks := cpuTicks(t, a.cmd.Process.Pid) - before
		us := float64(ticks) * 1e6 / 100 / float64(perPhase) // USER_HZ is 100 on Linux
		nbrMu.Lock()
		t.Logf("%s: A used %d ticks for %d requests in %.1f s: %.0f µs CPU per request (bids %d over all loaded instances; no-bids by nbr %v)",
			name, ticks, perPhase, time.Since(start).Seconds(), us, nBids.Load(), nbrs)
		nbrMu.Unlock()
		results[name] = append(results[name], us)
	}
	phase("alone", []*proc{a})
	phase("beside a standalone", []*proc{a, neighbour})
	b := startReady(t, "instance B ready", 90*time.Second, bin, cfg(1), env)
	waitFor(t, "both instances to own partitions", 60*time.Second, a, func() bool {
		return len(ownedPartitions(a)) > 0 && len(ownedPartitions(b)) > 0 && len(ownedPartitions(a))+len(ownedPartitions(b)) == 6
	})
	// CALLBID_MEASURE_ROUNDS more pairs of the two loaded phases,
	// alternating, so the machine's drift falls on both alike.
	rounds := 1
	if v, err := strconv.Atoi(os.Getenv("CALLBID_MEASURE_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	for range rounds {
		phase("one of two sharing", []*proc{a, b})
		phase("beside a standalone", []*proc{a, neighbour})
	}
	phase("one of two sharing", []*proc{a, b})
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = b.cmd.Wait()
	waitFor(t, "A to own all partitions again", 60*time.Second, a, func() bool { return len(ownedPartitions(a)) == 6 })
	phase("alone", []*proc{a})
	phase("beside a standalone", []*proc{a, neighbour})
	for _, k := range []string{"alone", "beside a standalone", "one of two sharing"} {
		t.Logf("A's CPU per request %s: %.0f µs, median %.1f µs", k, results[k], median(results[k]))
	}
	// Where requests did not bid, why (A's counters over the whole run).
	var page []byte
	if resp, err := http.Get("http://" + a.admin + "/metrics"); err == nil {
		page, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	for _, l := range strings.Split(string(page), "\n") {
		if (strings.HasPrefix(l, "callbid_bidder_nobids_total{") || strings.HasPrefix(l, "callbid_bidder_shed_total{") || strings.HasPrefix(l, "callbid_bidder_source_refusals_total") || strings.HasPrefix(l, "callbid_numbers_replaying_nobids_total")) && !strings.HasSuffix(l, " 0") {
			t.Log("A: " + l)
		}
	}
	t.Logf("one of two sharing / beside a standalone, medians: %.3f", median(results["one of two sharing"])/median(results["beside a standalone"]))
}

func ownedPartitions(p *proc) []int {
	resp, err := http.Get("http://" + p.admin + "/admin/pools")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var st struct {
		Ownership struct {
			Owned []int `json:"owned_partitions"`
		} `json:"ownership"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&st)
	return st.Ownership.Owned
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Sorted(slices.Values(xs))
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}
