package numbers

import (
	"bytes"
	"testing"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/kafkaio"
)

// With the lease topic's partition count known, one LogHolds pass writes
// at most one record per partition; each carries only numbers of its own
// partition, a restart replays every hold from them, and once the holds
// have ended the batches are deleted (tombstones).
func TestHoldBatchesSurviveRestart(t *testing.T) {
	clock := t0
	cfg := onePool(40)
	p1, l1 := newDurable(t, cfg, &clock)
	l1.parts = 4
	var rs []Reservation
	for k := range 20 {
		r, ok := p1.Reserve(0, testClaim(k), clock)
		if !ok {
			t.Fatal("no reservation")
		}
		rs = append(rs, r)
	}
	p1.LogHolds()
	p1.LogHolds() // nothing new
	if n := len(l1.recs); n == 0 || n > 4 {
		t.Fatalf("%d records for 20 holds in 4 partitions, want 1-4", n)
	}
	partOf := kafkaio.Partitioner(4)
	items := 0
	for _, m := range l1.recs {
		if !events.IsHoldBatchKey(m.key) {
			t.Fatalf("record %q is not a hold batch", m.key)
		}
		bad, err := events.ReadHoldBatch(m.value, func(k []byte, l *events.Lease) {
			items++
			if partOf(k) != partOf(m.key) {
				t.Errorf("number %s (partition %d) in the batch of partition %d", k, partOf(k), partOf(m.key))
			}
			if l.State != events.LeaseHeld || l.Campaign != "camp-mortgage" || len(l.BidID) == 0 {
				t.Errorf("item %s: %+v", k, l)
			}
		})
		if err != nil || bad != 0 {
			t.Fatal(bad, err)
		}
	}
	if items != 20 || p1.LeaseLogStats().HoldsLogged != 20 {
		t.Fatalf("%d holds in the batches, %d logged; want 20", items, p1.LeaseLogStats().HoldsLogged)
	}
	l1.ackAll()
	if err := p1.AwaitLease(rs[3].Ref); err != nil {
		t.Fatalf("await of a batched hold: %v", err)
	}

	clock = clock.Add(5 * time.Second) // restart within the hold
	p2, l2 := replay(t, cfg, l1.written(), &clock)
	l2.parts = 4
	if st := p2.Stats().Pools[0]; st.Held < 20 { // and the quarantined fresh ones
		t.Fatalf("after replay %+v, want the 20 holds held", st)
	}
	for _, r := range rs {
		if st := p2.stateOf(refIndex(r.Ref)); st != stHeld {
			t.Fatalf("replayed hold %x is %s", r.Ref, stateNames[st])
		}
	}
	if got := p2.Win(rs[0].Ref, false, clock); got != WinLeased {
		t.Fatalf("win of a replayed hold: %v", got)
	}
	// The replayed batches are deleted once their holds have ended.
	before := len(l2.recs)
	clock = clock.Add(time.Duration(p2.tombstoneAfter()))
	p2.LogHolds()
	tombs := 0
	for _, m := range l2.recs[before:] {
		if events.IsHoldBatchKey(m.key) && m.value == nil {
			tombs++
		}
	}
	if tombs != len(l1.recs) {
		t.Fatalf("%d tombstones for %d replayed batches", tombs, len(l1.recs))
	}
	// A third process reading the whole log, tombstones included, finds
	// the lease and nothing bad.
	l2.ackAll()
	p3, _ := replay(t, cfg, append(l1.written(), l2.written()...), &clock)
	if st := p3.Stats().Pools[0]; st.Leased != 1 {
		t.Fatalf("third process %+v, want the one lease", st)
	}
}

// A process writes tombstones for its own batches once their holds have
// ended, and skips its own batches when it follows the log.
func TestHoldBatchTombstoneAndOwn(t *testing.T) {
	clock := t0
	p, l := newDurable(t, onePool(10), &clock)
	l.parts = 2
	for k := range 5 {
		if _, ok := p.Reserve(0, testClaim(k), clock); !ok {
			t.Fatal("no reservation")
		}
	}
	p.LogHolds()
	batches := len(l.recs)
	for _, m := range l.recs {
		p.ApplyLeaseEvent(kafkaio.Message{Topic: events.TopicLeases, Key: m.key, Value: m.value})
	}
	if st := p.Stats(); st.BadLeaseEvents != 0 || p.Stats().Pools[0].Held != 5 {
		t.Fatalf("following its own batches: %+v", st)
	}
	clock = clock.Add(time.Duration(p.tombstoneAfter()) - time.Millisecond)
	p.LogHolds()
	if len(l.recs) != batches {
		t.Fatalf("tombstone before the holds ended")
	}
	clock = clock.Add(time.Millisecond)
	p.LogHolds()
	if len(l.recs) != 2*batches {
		t.Fatalf("%d records, want %d batches and as many tombstones", len(l.recs), batches)
	}
	for k, m := range l.recs[batches:] {
		if m.value != nil || !bytes.Equal(m.key, l.recs[k].key) {
			t.Fatalf("record %d: %q=%q, want the tombstone of %q", batches+k, m.key, m.value, l.recs[k].key)
		}
	}
}

// A win while LogHolds is filling the batches writes the batch holding
// its hold first: the lease record never comes before the hold's.
func TestHoldBatchOrderedBeforeLaterRecord(t *testing.T) {
	clock := t0
	p, l := newDurable(t, onePool(10), &clock)
	l.parts = 3
	r, ok := p.Reserve(0, testClaim(1), clock)
	if !ok {
		t.Fatal("no reservation")
	}
	// LogHolds' first half: the hold goes into a batch, not yet written.
	if !p.beginHoldBatches() {
		t.Fatal("no batches with 3 partitions")
	}
	i := refIndex(r.Ref)
	s := p.shardOf(p.poolOf(i), i)
	s.mu.Lock()
	p.entries[i].flags |= fHoldLogged
	p.durable.batchMu.Lock()
	p.batchHold(p.poolOf(i), s, i)
	p.durable.batchMu.Unlock()
	s.mu.Unlock()
	if len(l.recs) != 0 {
		t.Fatalf("batch written early")
	}
	if got := p.Win(r.Ref, false, clock); got != WinLeased {
		t.Fatalf("win: %v", got)
	}
	if len(l.recs) != 2 || !events.IsHoldBatchKey(l.recs[0].key) || events.IsHoldBatchKey(l.recs[1].key) {
		t.Fatalf("records %d, want the batch then the lease", len(l.recs))
	}
	p.flushHoldBatches()
	if len(l.recs) != 2 {
		t.Fatalf("the batch was written twice")
	}
}

// A malformed batch is counted bad and changes nothing it could not read.
func TestHoldBatchMalformed(t *testing.T) {
	clock := t0
	p, _ := newDurable(t, onePool(4), &clock)
	p.PauseUntilReplayed()
	key := events.AppendHoldBatchKey(nil, "other", 1, 0)
	for _, v := range []string{`{"o":"other","holds":[["+15550000000",{"o":"other"`, `{"o":"other","holds":{}}`, `[]`} {
		p.ApplyLeaseEvent(kafkaio.Message{Topic: events.TopicLeases, Key: key, Value: []byte(v)})
	}
	if st := p.Stats(); st.BadLeaseEvents != 3 {
		t.Fatalf("%d bad records, want 3", st.BadLeaseEvents)
	}
}

// With very long holds Run's tick writes batches less often, so the
// batches waiting for their tombstones stay bounded; LogHolds itself (and
// the last pass at shutdown) always writes.
func TestHoldBatchCadenceLongHolds(t *testing.T) {
	clock := t0
	cfg := onePool(10)
	cfg.Pools[0].Hold = time.Hour
	p, l := newDurable(t, cfg, &clock)
	l.parts = 2
	reserve := func() {
		if _, ok := p.Reserve(0, testClaim(1), clock); !ok {
			t.Fatal("no reservation")
		}
	}
	reserve()
	p.logHolds(clock)
	n := len(l.recs)
	reserve()
	p.logHolds(clock.Add(5 * time.Millisecond)) // under 2h/65536 ≈ 110 ms later
	if len(l.recs) != n {
		t.Fatal("a tick pass ran before its interval")
	}
	p.logHolds(clock.Add(120 * time.Millisecond))
	if len(l.recs) == n {
		t.Fatal("the next tick pass wrote nothing")
	}
	reserve()
	n = len(l.recs)
	p.LogHolds()
	if len(l.recs) == n {
		t.Fatal("LogHolds skipped")
	}
}

// Hold batches of the earlier format (version 1, JSON, still in the log
// after an upgrade) replay to the same entries as version 2.
func TestHoldBatchVersion1StillReplays(t *testing.T) {
	clock := t0
	cfg := onePool(30)
	p1, l1 := newDurable(t, cfg, &clock)
	l1.parts = 3
	var rs []Reservation
	for k := range 12 {
		c := testClaim(k)
		c.CreativeID, c.Currency, c.Country, c.Region, c.DeviceType = "crid-1", "USD", "USA", "CA", 4
		r, ok := p1.Reserve(0, c, clock)
		if !ok {
			t.Fatal("no reservation")
		}
		rs = append(rs, r)
	}
	p1.LogHolds()
	l1.ackAll()
	v1 := make([]pubMsg, 0, len(l1.recs))
	for _, m := range l1.recs {
		b := events.AppendHoldBatchStart(nil, p1.instance)
		if _, err := events.ReadHoldBatch(m.value, func(k []byte, l *events.Lease) {
			b = events.AppendHoldBatchItem(b, k, l)
		}); err != nil {
			t.Fatal(err)
		}
		v1 = append(v1, pubMsg{m.topic, m.key, events.AppendHoldBatchEnd(b)})
	}
	clock = clock.Add(time.Second)
	p2, _ := replay(t, cfg, l1.written(), &clock)
	p3, _ := replay(t, cfg, v1, &clock)
	for _, p := range []*Pools{p2, p3} {
		if st := p.Stats(); st.BadLeaseEvents != 0 {
			t.Fatalf("bad records on replay: %+v", st)
		}
	}
	for _, r := range rs {
		i := refIndex(r.Ref)
		var l2, l3 events.Lease
		p2.leaseRecord(i, "", &l2)
		p3.leaseRecord(i, "", &l3)
		l2.Owner, l3.Owner = "", ""
		a, b := string(events.AppendLease(nil, &l2)), string(events.AppendLease(nil, &l3))
		if l2.State != events.LeaseHeld || a != b || l2.Campaign != "camp-mortgage" || l2.Country != "USA" {
			t.Fatalf("entry %d after replay:\nversion 2: %s\nversion 1: %s", i, a, b)
		}
	}
	if got := p3.Win(rs[0].Ref, false, clock); got != WinLeased {
		t.Fatalf("win of a hold replayed from version 1: %v", got)
	}
}
