//go:build !race

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
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
// without capacity or participation limits, daily budget as given.
func sharedSetup(t *testing.T, dailyBudget string) (configs func(k int) string, env string) {
	t.Helper()
	brokerAddr := freeAddr(t)
	broker := startBroker(t, brokerAddr, 6, "")
	t.Cleanup(func() { broker.Close() })
	stop := streamCenter(brokerConfig(brokerAddr))
	t.Cleanup(stop)
	return func(k int) string {
		c := demoConfig(t)
		editConfig(t, c, append(append(widerMortgagePool, sharedPoolsKafka...),
			"    daily_budget: 2500.00\n", "    daily_budget: "+dailyBudget+"\n",
			"    number_pool: mortgage-pool\n", "    number_pool: mortgage-pool\n    needs_capacity: false\n",
			"  - id: auto-insurance-quotes\n", "  - id: auto-insurance-quotes\n    status: paused\n",
			"  - id: injury-legal\n", "  - id: injury-legal\n    status: paused\n",
			"\n  pacing: {", "\n  participation: { disabled: true }\n  pacing: {")...)
		return c
	}, "CALLBID_KAFKA_BROKERS=" + brokerAddr
}

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
// price at once, at the instance that bid, until both stop bidding for the
// budget. The exchange's total bill against the budget is the overspend.
func TestSharedMeasureBudgetOverspend(t *testing.T) {
	measureOnly(t)
	const budget = 2.00
	bin := buildBinary(t)
	cfg, env := sharedSetup(t, "2.00")
	var procs [2]*proc
	for k := range procs {
		procs[k] = startReady(t, fmt.Sprintf("instance %d ready", k), 90*time.Second, bin, cfg(k), env)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	var mu sync.Mutex
	spent := 0.0
	var perInst [2]float64
	var bills, bids [2]atomic.Int64
	var budgetNoBids [2]atomic.Int64
	var first, last atomic.Int64 // unix nanos of the first and last bill
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := w % 2
			p := procs[k]
			for n := 0; ctx.Err() == nil; n++ {
				b, nbr, ok := bidOnce(client, p, fmt.Sprintf("budget-%d-%d", w, n), w*1_000_000+n)
				if !ok {
					if nbr == 0 {
						// nbr 0 is the budget's reason (and others); stop
						// once this instance has refused 200 in a row.
						if budgetNoBids[k].Add(1) > 200 {
							return
						}
					}
					continue
				}
				budgetNoBids[k].Store(0)
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
					spent += b.price / 1000
					perInst[k] += b.price / 1000
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatalf("still bidding after 120 s: spent %.4f of %.2f", spent, budget)
	}
	secs := float64(last.Load()-first.Load()) / 1e9
	t.Logf("budget %.2f, billed %.4f (%.1f%%), overspend %.4f; bills %d + %d, bids %d + %d over %.1f s",
		budget, spent, 100*spent/budget, spent-budget, bills[0].Load(), bills[1].Load(), bids[0].Load(), bids[1].Load(), secs)
	for k := range 2 {
		rate := perInst[k] / secs
		t.Logf("instance %d: billed %.4f, %.4f/s; stated shared term (N-1) x other's rate x 0.5 s = %.4f", k, perInst[k], rate, perInst[1-k]/secs*0.5)
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

// TestSharedMeasureCPUPerRequest: the CPU one instance spends per request
// alone in the pool-sharing group, then as one of two (both receiving the
// same load, so each reads the other's lease and impression records), then
// alone again. Every request bids; the exchange answers each bid with a loss
// notice, so the pool never runs out.
func TestSharedMeasureCPUPerRequest(t *testing.T) {
	measureOnly(t)
	bin := buildBinary(t)
	cfg, env := sharedSetup(t, "2500.00")
	a := startReady(t, "instance A ready", 90*time.Second, bin, cfg(0), env)
	client := &http.Client{Timeout: 10 * time.Second}
	const perPhase = 3000
	seq := atomic.Int64{}
	load := func(ps []*proc, n int) (served [2]int64) {
		var wg sync.WaitGroup
		for k, p := range ps {
			for range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range n / 2 {
						id := seq.Add(1)
						b, _, ok := bidOnce(client, p, fmt.Sprintf("cpu-%d", id), int(id))
						if ok {
							notify(client, p, b.lurl, b.price)
						}
					}
				}()
			}
			served[k] = int64(n)
		}
		wg.Wait()
		return served
	}
	phase := func(name string, ps []*proc) float64 {
		load(ps, 300) // warm-up
		before := cpuTicks(t, a.cmd.Process.Pid)
		start := time.Now()
		load(ps, perPhase)
		ticks := cpuTicks(t, a.cmd.Process.Pid) - before
		us := float64(ticks) * 1e6 / 100 / perPhase // USER_HZ is 100 on Linux
		t.Logf("%s: instance A used %d ticks for %d requests in %.1f s: %.0f µs CPU per request (request = bid + loss notice)",
			name, ticks, perPhase, time.Since(start).Seconds(), us)
		return us
	}
	var alone, pair []float64
	alone = append(alone, phase("alone 1", []*proc{a}))
	b := startReady(t, "instance B ready", 90*time.Second, bin, cfg(1), env)
	waitFor(t, "both instances to own partitions", 60*time.Second, a, func() bool {
		return len(ownedPartitions(a)) > 0 && len(ownedPartitions(b)) > 0 && len(ownedPartitions(a))+len(ownedPartitions(b)) == 6
	})
	for r := range 2 {
		pair = append(pair, phase(fmt.Sprintf("one of two %d", r+1), []*proc{a, b}))
	}
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = b.cmd.Wait()
	waitFor(t, "A to own all partitions again", 60*time.Second, a, func() bool { return len(ownedPartitions(a)) == 6 })
	alone = append(alone, phase("alone 2", []*proc{a}))
	t.Logf("CPU per request, alone %v µs, one of two %v µs", alone, pair)
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
