package numbers

import (
	"testing"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/kafkaio"
)

// TestLeasesSurviveRestart: lease numbers, "kill" the process, build new
// Pools from the published lease records only, call the numbers → the same
// attribution.
func TestLeasesSurviveRestart(t *testing.T) {
	cfg := extPool(50)
	cfg.Pools[0].Numbers = []string{"+18885550100", "+18885550101", "+18885550102"}
	pub := &fakePub{}
	p1 := mustNew(t, cfg, pub)
	clock := t0
	p1.clockNow = func() time.Time { return clock }
	var rs []Reservation
	for k := range 6 {
		rs = append(rs, leaseOne(t, p1, k, t0))
	}
	held, _ := p1.Reserve(0, testClaim(99), t0) // a hold: not persisted
	// rs[0] was called: its first caller stays sticky after the restart
	clock = t0.Add(2 * time.Minute)
	doCall(t, p1, "tok", callBody("before", rs[0].E164, rs[0].Ext, "+14155550188", clock))
	_ = held

	msgs := pub.topic(events.TopicLeases)
	if len(msgs) < 7 {
		t.Fatalf("only %d lease records published", len(msgs))
	}
	// own records are ignored when the topic is followed after replay
	for _, m := range msgs {
		p1.ApplyLeaseEvent(kafkaio.Message{Key: m.key, Value: m.value})
	}
	if st := p1.Stats(); st.LeaseEventsIgnored != uint64(len(msgs)) || st.Pools[0].Leased != 5 {
		t.Fatalf("own records changed state: %+v", st)
	}

	p2 := mustNew(t, cfg, nil)
	clock = t0.Add(3 * time.Minute)
	p2.clockNow = func() time.Time { return clock }
	for _, m := range msgs {
		p2.ApplyLeaseEvent(kafkaio.Message{Topic: events.TopicLeases, Key: m.key, Value: m.value})
	}
	st := p2.Stats().Pools[0]
	if st.Leased != 5 || st.Cooldown != 1 || st.Held != 0 {
		t.Fatalf("after replay %+v", st)
	}
	for k, r := range rs {
		id := string(rune('a' + k))
		ani := "+1415555020" + string(rune('0'+k))
		_, a1, _ := doCall(t, p1, "tok", callBody("p1-"+id, r.E164, r.Ext, ani, clock))
		_, a2, _ := doCall(t, p2, "tok", callBody("p2-"+id, r.E164, r.Ext, ani, clock))
		if a1.Match != a2.Match || *a1.Attribution != *a2.Attribution {
			t.Fatalf("entry %d: before restart %s %+v\nafter %s %+v", k, a1.Match, a1.Attribution, a2.Match, a2.Attribution)
		}
		if k == 0 && a2.Match != MatchCooldown {
			t.Fatalf("called entry after restart: %s", a2.Match)
		}
		if k > 0 && a2.Match != MatchExact {
			t.Fatalf("entry %d after restart: %s", k, a2.Match)
		}
	}
	// a duplicate notice after the restart finds its lease
	if w := p2.Win(rs[3].Ref, true, clock); w != WinDuplicate {
		t.Fatalf("notice after restart: %s", w)
	}
	// sticky survives: the first caller of rs[0] after the number was reused
	clock = t0.Add(40 * time.Minute) // rs[0] cooled down (first call + 30m)
	p2.Sweep(clock)
	p2.Reserve(0, testClaim(500), clock)
	for {
		r, ok := p2.Reserve(0, testClaim(501), clock)
		if !ok {
			break
		}
		p2.Win(r.Ref, false, clock)
	}
	_, a, _ := doCall(t, p2, "tok", callBody("after", rs[0].E164, rs[0].Ext, "+14155550188", clock))
	if a.Match != MatchSticky || a.Attribution.BidID != testClaim(0).BidID {
		t.Fatalf("sticky caller after restart and reuse: %s %+v", a.Match, a.Attribution)
	}
}

func TestLeaseReplayLatestWinsAndExpired(t *testing.T) {
	pub := &fakePub{}
	cfg := onePool(2)
	p1 := mustNew(t, cfg, pub)
	r := leaseOne(t, p1, 1, t0)
	p1.Sweep(t0.Add(31 * time.Minute)) // cooldown
	p1.Sweep(t0.Add(62 * time.Minute)) // free
	msgs := pub.topic(events.TopicLeases)
	if len(msgs) != 3 {
		t.Fatalf("want leased, cooldown, free records; got %d", len(msgs))
	}
	p2 := mustNew(t, cfg, nil)
	for _, m := range msgs {
		if err := p2.applyLease(m.key, m.value, t0.Add(10*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if st := p2.Stats().Pools[0]; st.Free != 2 {
		t.Fatalf("latest record (free) did not win: %+v", st)
	}
	// the leased record alone, replayed after its cooldown, is ignored
	p3 := mustNew(t, cfg, nil)
	if err := p3.applyLease(msgs[0].key, msgs[0].value, t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if st := p3.Stats().Pools[0]; st.Free != 2 {
		t.Fatalf("expired lease replayed: %+v", st)
	}
	// bad records are counted and skipped
	p3.ApplyLeaseEvent(kafkaio.Message{Key: []byte(r.E164), Value: []byte("{")})
	p3.ApplyLeaseEvent(kafkaio.Message{Key: []byte("+19990000000"), Value: msgs[0].value})
	if st := p3.Stats(); st.BadLeaseEvents != 2 {
		t.Fatalf("bad lease events %d", st.BadLeaseEvents)
	}
}

// TestReserveWaitsForReplay: until the lease log is replayed no number is
// handed out, so a number leased before a restart cannot go to a second
// impression while Kafka is slow or down at start.
func TestReserveWaitsForReplay(t *testing.T) {
	cfg := onePool(4)
	pub := &fakePub{}
	p1 := mustNew(t, cfg, pub)
	r := leaseOne(t, p1, 0, t0)

	p2 := mustNew(t, cfg, &fakePub{})
	p2.clockNow = func() time.Time { return t0.Add(time.Second) } // replay judges expiry by this clock
	p2.PauseUntilReplayed()
	if !p2.Replaying() {
		t.Fatal("not replaying after PauseUntilReplayed")
	}
	if _, ok := p2.Reserve(0, testClaim(1), t0); ok {
		t.Fatal("reserved a number before the lease log was replayed")
	}
	for _, m := range pub.topic(events.TopicLeases) {
		p2.ApplyLeaseEvent(kafkaio.Message{Key: m.key, Value: m.value})
	}
	p2.ReplayDone()
	// Every free number can be reserved again, and none of them is the one
	// leased before the restart.
	for k := range 3 {
		got, ok := p2.Reserve(0, testClaim(10+k), t0.Add(time.Second))
		if !ok {
			t.Fatalf("reservation %d refused after replay", k)
		}
		if got.E164 == r.E164 && got.Ext == r.Ext {
			t.Fatalf("handed out %s%s, leased before the restart", got.E164, got.Ext)
		}
	}
	if _, ok := p2.Reserve(0, testClaim(20), t0.Add(time.Second)); ok {
		t.Fatal("the leased number was handed out: pool should be exhausted")
	}
	if st := p2.Stats(); st.Replaying || st.ReplayingNoBids != 1 {
		t.Fatalf("stats: replaying=%v nobids=%d", st.Replaying, st.ReplayingNoBids)
	}
}
