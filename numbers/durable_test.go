package numbers

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/kafkaio"
)

// fakeLog is a lease log that writes only when the test says so: ack(n)
// acknowledges the first n records, fail() makes the writer report a failed
// write, close() stops it.
type fakeLog struct {
	mu      sync.Mutex
	recs    []pubMsg
	acked   uint64
	failing bool
	stopped bool
	changed chan struct{} // closed and replaced on every ack or stop
	queued  time.Time     // when the oldest unacknowledged record was queued (test clock)
	now     func() time.Time
	parts   int // lease-topic partitions it reports; 0: unknown (one record per hold)
}

func (f *fakeLog) Partitions() int { return f.parts }

func newFakeLog(now func() time.Time) *fakeLog {
	return &fakeLog{changed: make(chan struct{}), now: now}
}

func (f *fakeLog) Append(key, value []byte) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return 0
	}
	if uint64(len(f.recs)) == f.acked {
		f.queued = f.now()
	}
	var v []byte // a nil value (tombstone) stays nil
	if value != nil {
		v = append([]byte{}, value...)
	}
	f.recs = append(f.recs, pubMsg{events.TopicLeases, append([]byte(nil), key...), v})
	return uint64(len(f.recs))
}

func (f *fakeLog) Acked(seq uint64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return seq != 0 && seq <= f.acked
}

func (f *fakeLog) Wait(ctx context.Context, seq uint64) error {
	for {
		f.mu.Lock()
		if seq != 0 && seq <= f.acked {
			f.mu.Unlock()
			return nil
		}
		if f.stopped || seq == 0 {
			f.mu.Unlock()
			return kafkaio.ErrNotWritten
		}
		ch := f.changed
		f.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (f *fakeLog) Health(now time.Time) kafkaio.DurableHealth {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := kafkaio.DurableHealth{Pending: len(f.recs) - int(f.acked), Failing: f.failing, Stopped: f.stopped}
	if h.Failing {
		h.LastError = "broker unreachable"
	}
	if h.Pending > 0 {
		h.Oldest = now.Sub(f.queued)
	}
	return h
}

func (f *fakeLog) ackAll() {
	f.mu.Lock()
	f.acked = uint64(len(f.recs))
	f.failing = false
	close(f.changed)
	f.changed = make(chan struct{})
	f.mu.Unlock()
}

func (f *fakeLog) setFailing(v bool) {
	f.mu.Lock()
	f.failing = v
	f.mu.Unlock()
}

func (f *fakeLog) written() []pubMsg {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]pubMsg(nil), f.recs[:f.acked]...)
}

// newDurable builds pools writing to a fake lease log (test clock).
func newDurable(t *testing.T, cfg Config, clock *time.Time) (*Pools, *fakeLog) {
	t.Helper()
	p := mustNew(t, cfg, nil)
	l := newFakeLog(func() time.Time { return *clock })
	p.leases = l
	p.clockNow = func() time.Time { return *clock }
	// The generation clock starts at the test clock, as it starts at the
	// wall clock of a real process.
	p.genBase.Store(clockGen(clock.UnixNano()))
	for i := range p.entries {
		p.entries[i].gen = p.genBase.Load() - 1
	}
	return p, l
}

// replay builds a new process's pools from what the lease log holds.
func replay(t *testing.T, cfg Config, recs []pubMsg, clock *time.Time) (*Pools, *fakeLog) {
	t.Helper()
	p, l := newDurable(t, cfg, clock)
	p.PauseUntilReplayed()
	for _, m := range recs {
		p.ApplyLeaseEvent(kafkaio.Message{Topic: events.TopicLeases, Key: m.key, Value: m.value})
	}
	if st := p.Stats(); st.BadLeaseEvents != 0 {
		t.Fatalf("%d bad lease records on replay", st.BadLeaseEvents)
	}
	p.ReplayDone()
	return p, l
}

// A win is acknowledged only once its lease record is written: AwaitLease
// blocks until the log acknowledges it, and gives up with
// ErrLeaseNotDurable after durable_timeout while the number stays leased.
func TestWinWaitsForDurableLease(t *testing.T) {
	clock := t0
	cfg := onePool(4)
	cfg.DurableTimeout = time.Millisecond
	p, l := newDurable(t, cfg, &clock)
	r, ok := p.Reserve(0, testClaim(1), clock)
	if !ok {
		t.Fatal("no reservation")
	}
	if got := p.Win(r.Ref, false, clock); got != WinLeased {
		t.Fatalf("win: %v", got)
	}
	// Nothing acknowledged: the wait times out, the number stays leased.
	if err := p.AwaitLease(r.Ref); !errors.Is(err, ErrLeaseNotDurable) {
		t.Fatalf("AwaitLease with nothing written: %v", err)
	}
	if st := p.stateOf(refIndex(r.Ref)); st != stLeased {
		t.Fatalf("state after a timed-out wait: %v", stateNames[st])
	}
	// A waiter released by the acknowledgement.
	p.cfg.DurableTimeout = time.Hour
	done := make(chan error, 1)
	go func() { done <- p.AwaitLease(r.Ref) }()
	l.ackAll()
	if err := <-done; err != nil {
		t.Fatalf("AwaitLease after the ack: %v", err)
	}
	// A repeated win waits for (here: sees) the same durability.
	if got := p.Win(r.Ref, false, clock); got != WinDuplicate {
		t.Fatalf("repeated win: %v", got)
	}
	if err := p.AwaitLease(r.Ref); err != nil {
		t.Fatalf("AwaitLease of a duplicate: %v", err)
	}
	if st := p.LeaseLogStats(); st.NotDurable != 1 {
		t.Errorf("not_durable = %d, want 1", st.NotDurable)
	}
}

// While the lease log cannot be written no number is reserved, readiness
// says why, and the refusals are counted; reservations resume after.
func TestReserveRefusedWhileLeaseLogDown(t *testing.T) {
	clock := t0
	cfg := onePool(8)
	cfg.LeaseLogStall = time.Second
	p, l := newDurable(t, cfg, &clock)
	if _, ok := p.Reserve(0, testClaim(1), clock); !ok {
		t.Fatal("no reservation with a healthy log")
	}
	p.LogHolds() // one hold record pending
	clock = clock.Add(999 * time.Millisecond)
	p.CheckLeaseLog(clock)
	if ok, why := p.LeaseLogReady(); !ok {
		t.Fatalf("not ready below the stall bound: %s", why)
	}
	clock = clock.Add(2 * time.Millisecond)
	p.CheckLeaseLog(clock)
	if _, ok := p.Reserve(0, testClaim(2), clock); ok {
		t.Fatal("reserved while the oldest lease record waits past lease_log_stall")
	}
	l.ackAll()
	l.setFailing(true)
	p.CheckLeaseLog(clock)
	ok, why := p.LeaseLogReady()
	if ok || why == "" {
		t.Fatalf("ready while the last write failed: %q", why)
	}
	if _, ok := p.Reserve(0, testClaim(3), clock); ok {
		t.Fatal("reserved while the last write failed")
	}
	l.setFailing(false)
	p.CheckLeaseLog(clock)
	if ok, why := p.LeaseLogReady(); !ok {
		t.Fatalf("not ready after recovery: %s", why)
	}
	if _, ok := p.Reserve(0, testClaim(4), clock); !ok {
		t.Fatal("no reservation after the log recovered")
	}
	if st := p.LeaseLogStats(); st.RefusedNoBids != 2 || !st.Writable {
		t.Errorf("stats %+v, want 2 refusals and writable", st)
	}
}

// Holds are in the lease log a few ms after the bid (LogHolds); after a
// restart a win for such a hold leases it with its attribution, a loss frees
// it, and the new process's generations never repeat the old one's.
func TestHoldsSurviveRestart(t *testing.T) {
	clock := t0
	cfg := onePool(3)
	p1, l1 := newDurable(t, cfg, &clock)
	var rs []Reservation
	for k := range 3 {
		r, ok := p1.Reserve(0, testClaim(k), clock)
		if !ok {
			t.Fatal("no reservation")
		}
		rs = append(rs, r)
	}
	p1.LogHolds()
	p1.LogHolds() // nothing new: no second record
	if n := len(l1.recs); n != 3 {
		t.Fatalf("%d hold records, want 3", n)
	}
	l1.ackAll()

	clock = clock.Add(5 * time.Second) // restart within the hold
	p2, l2 := replay(t, cfg, l1.written(), &clock)
	if st := p2.Stats().Pools[0]; st.Held != 3 {
		t.Fatalf("after replay %+v, want 3 held", st)
	}
	if got := p2.Win(rs[0].Ref, false, clock); got != WinLeased {
		t.Fatalf("win of a replayed hold: %v", got)
	}
	p2.Loss(rs[1].Ref, clock)
	if st := p2.stateOf(refIndex(rs[1].Ref)); st != stFree {
		t.Fatalf("loss of a replayed hold left it %s", stateNames[st])
	}
	r, ok := p2.Reserve(0, testClaim(9), clock)
	if !ok {
		t.Fatal("no reservation after the restart")
	}
	for _, old := range rs {
		if r.Ref == old.Ref {
			t.Fatalf("new reservation reuses the earlier process's ref %x", old.Ref)
		}
	}
	// The late win of the hold lost in p2 is a collision, not a lease: the
	// log knows its generation, so it is not restored over the new bid.
	if refIndex(r.Ref) == refIndex(rs[1].Ref) {
		if got := p2.Win(rs[1].Ref, false, clock); got != WinStale {
			t.Fatalf("win of a hold freed by its loss after the number moved on: %v", got)
		}
		if got, _ := p2.Restore(rs[1].Ref, testClaim(1), t0, false, clock); got != WinCollision {
			t.Fatalf("restore of a hold the log knows, over a newer bid: %v", got)
		}
	} else {
		t.Fatalf("the freed number %x was not the next one reserved (%x)", rs[1].Ref, r.Ref)
	}
	l2.ackAll()
	_, a, _ := doCall(t, p2, "tok", callBody("c1", rs[0].E164, "", "+14155550100", clock))
	if a.Match != MatchExact || a.Attribution == nil || a.Attribution.BidID != "bid-0" || a.Attribution.RequestID != "req-0" {
		t.Fatalf("call to the number won after the restart: %+v", a)
	}
}

// A win whose hold never reached the lease log (the process died within
// the few ms before LogHolds) is restored from the token: leased when the
// number is free, and when a newer bid holds it the shown ad keeps it.
func TestRestoreUnloggedHold(t *testing.T) {
	clock := t0
	cfg := onePool(2)
	p1, _ := newDurable(t, cfg, &clock)
	a, _ := p1.Reserve(0, testClaim(1), clock)
	b, _ := p1.Reserve(0, testClaim(2), clock)
	// p1 dies before logging either hold.
	clock = clock.Add(2 * time.Second)
	p2, l2 := replay(t, cfg, nil, &clock)
	if got := p2.Win(a.Ref, false, clock); got != WinStale {
		t.Fatalf("win of an unlogged hold: %v, want stale", got)
	}
	got, _ := p2.Restore(a.Ref, testClaim(1), t0, false, clock)
	if got != WinRestored {
		t.Fatalf("restore on a free number: %v", got)
	}
	if err := p2.AwaitLease(a.Ref); err == nil {
		t.Fatal("restored lease durable before the log acknowledged it")
	}
	l2.ackAll()
	if err := p2.AwaitLease(a.Ref); err != nil {
		t.Fatal(err)
	}
	// A restored win repeated: a duplicate.
	if got := p2.Win(a.Ref, false, clock); got != WinDuplicate {
		t.Fatalf("repeated win after restore: %v", got)
	}
	// b's number goes to a new bid first; then b's win arrives.
	var c Reservation
	for {
		r, ok := p2.Reserve(0, testClaim(3), clock)
		if !ok {
			t.Fatal("pool exhausted before b's number came round")
		}
		if refIndex(r.Ref) == refIndex(b.Ref) {
			c = r
			break
		}
	}
	if got, _ := p2.Restore(b.Ref, testClaim(2), t0, false, clock); got != WinRestored {
		t.Fatalf("restore over a newer unwon hold: %v", got)
	}
	if got := p2.Win(c.Ref, false, clock); got != WinCollision {
		t.Fatalf("win of the invalidated hold: %v, want collision", got)
	}
	if st := p2.LeaseLogStats(); st.Restored != 2 || st.Invalidated != 1 {
		t.Errorf("stats %+v, want 2 restored, 1 invalidated", st)
	}
	// A token older than what the log knows for the number is never restored.
	l2.ackAll()
	clock = clock.Add(time.Second)
	p3, _ := replay(t, cfg, l2.written(), &clock)
	old := Ref(uint64(refIndex(a.Ref))<<32 | uint64(uint32(a.Ref)-1))
	if got := p3.Win(old, false, clock); got != WinStale {
		t.Fatalf("older token: %v", got)
	}
	if got, _ := p3.Restore(old, testClaim(0), t0, false, clock); got != WinCollision {
		t.Fatalf("restore of a token older than the logged lease: %v", got)
	}
}

// A bill retried after a restart is recognised: its flag is in the lease log.
func TestBillOnceAcrossRestart(t *testing.T) {
	clock := t0
	cfg := onePool(2)
	p1, l1 := newDurable(t, cfg, &clock)
	r, _ := p1.Reserve(0, testClaim(1), clock)
	p1.Win(r.Ref, false, clock)
	if _, first := p1.Bill(r.Ref, clock); !first {
		t.Fatal("first bill not first")
	}
	if _, first := p1.Bill(r.Ref, clock); first {
		t.Fatal("second bill counted as first")
	}
	l1.ackAll()
	clock = clock.Add(time.Minute)
	p2, _ := replay(t, cfg, l1.written(), &clock)
	if res, first := p2.Bill(r.Ref, clock); first || res != WinDuplicate {
		t.Fatalf("bill after restart: %v first=%v, want a repeat", res, first)
	}
	// A bill whose reservation the number no longer carries cannot be known
	// as a repeat: it counts (the exchange billed it).
	other := Ref(uint64(refIndex(r.Ref))<<32 | uint64(uint32(r.Ref)+7))
	if res, first := p2.Bill(other, clock); !first || res != WinStale {
		t.Fatalf("bill of a reservation the number moved on from: %v first=%v", res, first)
	}
	if _, first := p2.Bill(Ref(uint64(1)<<40), clock); !first {
		t.Fatal("bill of an unknown entry reported as a repeat")
	}
}

// discardLog acknowledges every record at once (benchmarks).
type discardLog struct{ n, parts, bytes uint64 }

func (d *discardLog) Partitions() int { return int(d.parts) }

func (d *discardLog) Append(key, value []byte) uint64 {
	d.n++
	d.bytes += uint64(len(key) + len(value))
	return d.n
}
func (d *discardLog) Acked(seq uint64) bool                  { return true }
func (d *discardLog) Wait(context.Context, uint64) error     { return nil }
func (d *discardLog) Health(time.Time) kafkaio.DurableHealth { return kafkaio.DurableHealth{} }

// BenchmarkLogHolds is the off-bid-path cost of writing one hold record
// (Run's goroutine): walking the held list and encoding, per hold. The
// writer's own copy into its queue is not included.
func BenchmarkLogHolds(b *testing.B) {
	b.Run("record-per-hold", func(b *testing.B) { benchLogHolds(b, 0) })
	b.Run("batched-4-partitions", func(b *testing.B) { benchLogHolds(b, 4) })
}

func benchLogHolds(b *testing.B, parts uint64) {
	p := mustNew(b, onePool(100_000), nil)
	p.leases = &discardLog{parts: parts}
	b.ReportAllocs()
	const batch = 64
	b.ResetTimer()
	for n := 0; n < b.N; n += batch {
		b.StopTimer()
		refs := make([]Ref, 0, batch)
		for k := range batch {
			r, ok := p.Reserve(0, testClaim(k), t0)
			if !ok {
				b.Fatal("pool exhausted")
			}
			refs = append(refs, r.Ref)
		}
		b.StartTimer()
		p.LogHolds()
		b.StopTimer()
		for _, r := range refs {
			p.Loss(r, t0)
		}
		b.StartTimer()
	}
}

// Bids, notices, the hold writer and the lease-log check at once (run with
// -race): every hold and lease gets its record, in per-number order.
func TestDurableConcurrent(t *testing.T) {
	t.Run("record per hold", func(t *testing.T) { testDurableConcurrent(t, 0) })
	t.Run("hold batches", func(t *testing.T) { testDurableConcurrent(t, 4) })
}

func testDurableConcurrent(t *testing.T, parts int) {
	clock := t0
	p, l := newDurable(t, onePool(512), &clock)
	l.parts = parts
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // Run's part
		defer close(done)
		for {
			select {
			case <-stop:
				p.LogHolds()
				return
			default:
				p.LogHolds()
				p.CheckLeaseLog(t0)
				l.ackAll()
			}
		}
	}()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 500 {
				r, ok := p.Reserve(0, testClaim(w*1000+k), t0)
				if !ok {
					continue
				}
				if k%3 == 0 {
					p.Win(r.Ref, false, t0)
					if err := p.AwaitLease(r.Ref); err != nil {
						t.Error(err)
						return
					}
				} else {
					p.Loss(r.Ref, t0)
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-done
	l.ackAll()
	// Replaying what was written gives the same leases.
	clock = t0.Add(time.Second)
	p2, _ := replay(t, onePool(512), l.written(), &clock)
	if a, b := p.Stats().Pools[0].Leased, p2.Stats().Pools[0].Leased; a != b || a == 0 {
		t.Fatalf("leased before %d, after replay %d", a, b)
	}
}

// BenchmarkHoldPass is one LogHolds pass as Run makes it under load: a
// 500,000-entry extension pool (the keys of configs/bench.yaml), 5 s holds
// that expire and are taken again, 217 new holds per 5 ms pass (43,000
// bids/s), 4 partitions. thread-cpu-ns/hold is the CPU time of the passes
// alone (the reservations are not in it), which a loaded machine does not
// inflate the way it does wall time.
func BenchmarkHoldPass(b *testing.B) {
	cfg := extPool(500_000)
	cfg.Pools[0].Hold = 5 * time.Second
	p := mustNew(b, cfg, nil)
	p.leases = &discardLog{parts: 4}
	claims := make([]*Claim, 64)
	for k := range claims {
		claims[k] = testClaim(k)
		claims[k].CreativeID, claims[k].Currency, claims[k].Country, claims[k].Region = "banner-300x250", "USD", "USA", "CA"
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const perPass = 217
	now := t0
	var cpu int64
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n += perPass {
		for k := range perPass {
			if _, ok := p.Reserve(0, claims[k%len(claims)], now); !ok {
				b.Fatal("pool exhausted")
			}
		}
		c0 := threadCPUNanos()
		p.LogHolds()
		cpu += threadCPUNanos() - c0
		now = now.Add(holdLogInterval)
	}
	b.ReportMetric(float64(cpu)/float64(b.N), "thread-cpu-ns/hold")
	b.ReportMetric(float64(p.leases.(*discardLog).bytes)/float64(b.N), "log-bytes/hold")
}
