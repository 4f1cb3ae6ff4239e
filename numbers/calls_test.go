package numbers

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/kafkaio"
)

type answer struct {
	Accept      bool                `json:"accept"`
	Reason      string              `json:"reason"`
	Match       string              `json:"match"`
	Attribution *events.Attribution `json:"attribution"`
	Error       string              `json:"error"`
}

// doCall attributes one call given as a /v1/calls JSON body (httpapi
// parses and checks real ones; its tests cover the HTTP answers) and
// returns the status and answer the route would send.
func doCall(t *testing.T, p *Pools, token, body string) (int, answer, string) {
	t.Helper()
	if token != string(p.CallsToken()) {
		t.Fatalf("token %q is not the pools' calls token", token)
	}
	var in struct {
		CallID    string `json:"call_id"`
		DNIS      string `json:"dnis"`
		Ext       string `json:"ext"`
		ANI       string `json:"ani"`
		StartedAt string `json:"started_at"`
	}
	if err := json.Unmarshal([]byte(body), &in); err != nil {
		t.Fatalf("body %s: %v", body, err)
	}
	req := CallRequest{CallID: []byte(in.CallID), DNIS: []byte(in.DNIS), Ext: []byte(in.Ext), ANI: []byte(in.ANI)}
	if in.StartedAt != "" {
		at, err := time.Parse(time.RFC3339Nano, in.StartedAt)
		if err != nil {
			t.Fatal(err)
		}
		req.StartedAt = at.UnixNano()
	}
	raw := p.Attribute(&req, nil).JSON
	var a answer
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("answer is not JSON: %v: %s", err, raw)
	}
	return 200, a, string(raw)
}

func callBody(id, dnis, ext, ani string, at time.Time) string {
	return fmt.Sprintf(`{"call_id":%q,"dnis":%q,"ext":%q,"ani":%q,"started_at":%q}`, id, dnis, ext, ani, at.Format(time.RFC3339Nano))
}

// leaseOne reserves and wins one number of pool 0 at t0.
func leaseOne(t *testing.T, p *Pools, k int, at time.Time) Reservation {
	t.Helper()
	r, ok := p.Reserve(0, testClaim(k), at)
	if !ok {
		t.Fatal("pool exhausted")
	}
	if w := p.Win(r.Ref, false, at.Add(time.Second)); w != WinLeased {
		t.Fatalf("Win = %s", w)
	}
	return r
}

func TestCallsExactCooldownSticky(t *testing.T) {
	p := mustNew(t, onePool(1), nil)
	clock := t0
	p.clockNow = func() time.Time { return clock }
	r := leaseOne(t, p, 1, t0)
	i := refIndex(r.Ref)

	clock = t0.Add(5 * time.Minute)
	code, a, _ := doCall(t, p, "tok", callBody("c1", r.E164, "", "+14155550188", clock))
	if code != 200 || !a.Accept || a.Match != MatchExact || a.Attribution == nil {
		t.Fatalf("first call: %d %+v", code, a)
	}
	want := testClaim(1)
	got := a.Attribution
	if got.CampaignID != want.CampaignID || got.PublisherID != want.PublisherID || got.SiteOrApp != want.SiteOrApp ||
		got.RequestID != want.RequestID || got.ImpID != want.ImpID || got.BidID != want.BidID || got.Skill != want.Skill ||
		got.PriceCPM != 2.5 || !got.WonAt.Equal(t0.Add(time.Second)) || got.LeaseID == "" {
		t.Fatalf("attribution %+v, want claim %+v", got, want)
	}
	if st := p.stateOf(i); st != stCooldown {
		t.Fatalf("the first call left the number %s, want cooldown", stateNames[st])
	}
	// a different caller during the cooldown
	clock = t0.Add(10 * time.Minute)
	_, a2, _ := doCall(t, p, "tok", callBody("c2", r.E164, "", "+14155550199", clock))
	if a2.Match != MatchCooldown || a2.Attribution.BidID != want.BidID {
		t.Fatalf("cooldown call: %+v", a2)
	}
	// cooldown (30m from the first call) ends; the number goes to a new bid
	clock = t0.Add(36 * time.Minute)
	p.Sweep(clock)
	r2 := leaseOne(t, p, 2, clock)
	if r2.E164 != r.E164 {
		t.Fatal("one-number pool gave another number")
	}
	// the first caller calls again: still the first lease (sticky)
	clock = clock.Add(2 * time.Minute)
	_, a3, _ := doCall(t, p, "tok", callBody("c3", r.E164, "", "+14155550188", clock))
	if a3.Match != MatchSticky || a3.Attribution.BidID != want.BidID {
		t.Fatalf("repeat caller after reuse: %+v", a3.Attribution)
	}
	// a new caller gets the new lease
	_, a4, _ := doCall(t, p, "tok", callBody("c4", r.E164, "", "+14155550111", clock))
	if a4.Match != MatchExact || a4.Attribution.BidID != testClaim(2).BidID {
		t.Fatalf("new caller on reused number: %+v", a4)
	}
	// after the second lease's cooldown, and past the sticky window: none
	clock = clock.Add(3 * time.Hour)
	p.Sweep(clock)
	_, a5, _ := doCall(t, p, "tok", callBody("c5", r.E164, "", "+14155550111", clock))
	if a5.Match != MatchNone || a5.Attribution != nil || !a5.Accept {
		t.Fatalf("call after cooldown: %+v", a5)
	}
	st := p.Stats()
	if st.Pools[0].Unattributed != 1 || st.Calls[MatchExact] != 2 || st.Calls[MatchSticky] != 1 || st.Calls[MatchCooldown] != 1 {
		t.Fatalf("stats %+v %+v", st.Calls, st.Pools[0])
	}
}

func TestCallsSameIDOnce(t *testing.T) {
	p := mustNew(t, onePool(2), nil)
	r := leaseOne(t, p, 1, t0)
	p.clockNow = func() time.Time { return t0.Add(time.Minute) }
	body := callBody("dup", r.E164, "", "+14155550188", t0.Add(time.Minute))
	_, _, raw1 := doCall(t, p, "tok", body)
	_, _, raw2 := doCall(t, p, "tok", body)
	if raw1 != raw2 {
		t.Fatalf("same call id answered differently:\n%s\n%s", raw1, raw2)
	}
	// the event path with the same call id does not count it again
	ev := fmt.Sprintf(`{"call_id":"dup","event_type":"OFFERED","dnis":%q,"ani":"+14155550188","occurred_at":%q}`,
		r.E164, t0.Add(time.Minute).Format(time.RFC3339))
	feedCall(p, kafkaio.Message{Value: []byte(ev)})
	st := p.Stats()
	if st.Calls[MatchExact] != 1 || st.DuplicateCalls != 2 {
		t.Fatalf("calls %v duplicates %d", st.Calls, st.DuplicateCalls)
	}
}

func TestCallEvent(t *testing.T) {
	p := mustNew(t, onePool(2), nil)
	r := leaseOne(t, p, 1, t0)
	p.clockNow = func() time.Time { return t0.Add(time.Minute) }
	mk := func(id, typ string) kafkaio.Message {
		return kafkaio.Message{Topic: events.TopicCall, Value: fmt.Appendf(nil,
			`{"call_id":%q,"event_type":%q,"dnis":%q,"ext":"","ani":"+14155550188","occurred_at":%q}`,
			id, typ, r.E164, t0.Add(time.Minute).Format(time.RFC3339))}
	}
	feedCall(p, mk("e1", "ANSWERED")) // ignored
	if st := p.stateOf(refIndex(r.Ref)); st != stLeased {
		t.Fatalf("ANSWERED changed the number to %s", stateNames[st])
	}
	feedCall(p, mk("e1", "OFFERED"))
	if st := p.stateOf(refIndex(r.Ref)); st != stCooldown {
		t.Fatalf("OFFERED left the number %s", stateNames[st])
	}
	if err := feedCall(p, kafkaio.Message{Value: []byte(`{"call_id":`)}); events.Reason(err) != events.ReasonMalformedJSON {
		t.Fatalf("malformed call event: %v", err)
	}
	// not a tracking number: attributed to nothing, like /v1/calls would
	if err := feedCall(p, kafkaio.Message{Value: []byte(`{"call_id":"x","event_type":"OFFERED","dnis":"123"}`)}); err != nil {
		t.Fatal(err)
	}
	// the HTTP answer for the same call id is the event's
	_, a, _ := doCall(t, p, "tok", callBody("e1", r.E164, "", "+14155550188", t0.Add(time.Minute)))
	if a.Match != MatchExact {
		t.Fatalf("answer %+v", a)
	}
	st := p.Stats()
	if st.Calls[MatchExact] != 1 || st.Calls[MatchNone] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestBlocklist(t *testing.T) {
	cfg := onePool(4)
	cfg.Blocklist = BlocklistConfig{Callers: []string{"+15550001111"}, SpamThreshold: 2, SpamExpiry: time.Hour}
	p := mustNew(t, cfg, nil)
	clock := t0.Add(time.Minute)
	p.clockNow = func() time.Time { return clock }
	r := leaseOne(t, p, 1, t0)
	_, a, _ := doCall(t, p, "tok", callBody("b1", r.E164, "", "+15550001111", clock))
	if a.Accept || a.Reason != "blocklisted" || a.Match != MatchExact || a.Attribution == nil {
		t.Fatalf("configured blocklist: %+v", a)
	}
	// SPAM reports: two distinct calls block the caller; a re-sent outcome counts once
	spam := func(id string) {
		feedOutcome(p, kafkaio.Message{Value: fmt.Appendf(nil, `{"call_id":%q,"disposition":"SPAM","is_final":true}`, id)})
	}
	const ani = "+14155550123"
	for k, id := range []string{"s1", "s2"} {
		doCall(t, p, "tok", callBody(id, "+19995550100", "", ani, clock))
		spam(id)
		spam(id)
		_, a, _ := doCall(t, p, "tok", callBody(id+"-next", "+19995550100", "", ani, clock))
		if blocked := !a.Accept; blocked != (k == 1) {
			t.Fatalf("after %d SPAM calls blocked=%v", k+1, blocked)
		}
	}
	spam("never-seen")
	if err := feedOutcome(p, kafkaio.Message{Value: []byte(`not json`)}); events.Reason(err) != events.ReasonMalformedJSON {
		t.Fatalf("malformed outcome: %v", err)
	}
	st := p.Stats()
	if st.SpamReports != 2 || st.OutcomeUnknownCall != 1 || st.BlockedCalls != 2 {
		t.Fatalf("stats %+v", st)
	}
	// the block expires
	clock = clock.Add(2 * time.Hour)
	_, a, _ = doCall(t, p, "tok", callBody("s3", "+19995550100", "", ani, clock))
	if !a.Accept {
		t.Fatal("SPAM block did not expire")
	}
}

func TestCallFallbackBucket(t *testing.T) {
	cfg := Config{CallsToken: "tok", Pools: []PoolConfig{{
		ID: "p", Numbers: plainNumbers(1), Exhaustion: PolicyFallback,
		Fallback: []FallbackConfig{{CampaignID: "camp-mortgage", Numbers: []string{"+18885550001"}}},
	}}}
	p := mustNew(t, cfg, nil)
	p.Reserve(0, testClaim(0), t0)
	r, ok := p.Reserve(0, testClaim(3), t0)
	if !ok || !r.Fallback {
		t.Fatal("no fallback")
	}
	_, a, _ := doCall(t, p, "tok", callBody("f1", r.E164, "", "+14155550188", t0))
	if a.Match != MatchBucket || a.Attribution.CampaignID != "camp-mortgage" || a.Attribution.PublisherID != testClaim(3).PublisherID {
		t.Fatalf("fallback call: %+v %+v", a, a.Attribution)
	}
}

func TestCallOnHeldNumberAndExtension(t *testing.T) {
	p := mustNew(t, extPool(20), nil)
	r, _ := p.Reserve(0, testClaim(5), t0) // win notice not here yet
	p.clockNow = func() time.Time { return t0.Add(3 * time.Second) }
	_, a, _ := doCall(t, p, "tok", callBody("h1", r.E164, r.Ext, "+14155550188", t0.Add(3*time.Second)))
	if a.Match != MatchExact || a.Attribution.BidID != testClaim(5).BidID {
		t.Fatalf("call on held number: %+v", a)
	}
	if w := p.Win(r.Ref, false, t0.Add(4*time.Second)); w != WinDuplicate {
		t.Fatalf("late notice after the call: %s", w)
	}
	_, a, _ = doCall(t, p, "tok", callBody("h2", r.E164, "", "+14155550188", t0.Add(3*time.Second)))
	if a.Match != MatchNone {
		t.Fatalf("call without the extension: %+v", a)
	}
}

// TestAttributionPublished runs Run and checks the attribution event of a
// call attributed on another goroutine.
func TestAttributionPublished(t *testing.T) {
	pub := &fakePub{}
	p := mustNew(t, onePool(2), pub)
	r := leaseOne(t, p, 1, t0)
	p.clockNow = func() time.Time { return t0.Add(time.Minute) }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()

	doCall(t, p, "tok", callBody("pub1", r.E164, "", "+14155550188", t0.Add(time.Minute)))
	var msgs []pubMsg
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if msgs = pub.topic(events.TopicAttribution); len(msgs) > 0 {
			break
		}
	}
	cancel()
	<-done
	if len(msgs) != 1 || string(msgs[0].key) != "pub1" {
		t.Fatalf("attribution events %v", msgs)
	}
	var ev events.Attribution
	if err := json.Unmarshal(msgs[0].value, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Match != MatchExact || ev.BidID != testClaim(1).BidID || ev.DNIS != r.E164 || !ev.Accepted || ev.Exchange != "xchg" {
		t.Fatalf("event %+v", ev)
	}
}

// TestCooldownFromCallEnd: the ENDED event of the call that ended a lease
// moves the start of the cooldown to the end of the call.
func TestCooldownFromCallEnd(t *testing.T) {
	p := mustNew(t, onePool(1), nil)
	r := leaseOne(t, p, 1, t0)
	start := t0.Add(5 * time.Minute)
	p.clockNow = func() time.Time { return start }
	doCall(t, p, "tok", callBody("long", r.E164, "", "+14155550188", start))
	ended := fmt.Sprintf(`{"call_id":"long","event_type":"ENDED","dnis":%q,"occurred_at":%q,"talk_ms":1200000,"end_reason":"CUSTOMER_HANGUP"}`,
		r.E164, start.Add(20*time.Minute).Format(time.RFC3339))
	p.clockNow = func() time.Time { return start.Add(20 * time.Minute) } // the ENDED event arrives when the call ends
	if err := feedCall(p, kafkaio.Message{Value: []byte(ended)}); err != nil {
		t.Fatal(err)
	}
	p.Sweep(start.Add(31 * time.Minute)) // 30 min after the start: still cooling down
	if st := p.stateOf(refIndex(r.Ref)); st != stCooldown {
		t.Fatalf("state %s 31 min after the call started (20 min call), want cooldown", stateNames[st])
	}
	p.Sweep(start.Add(51 * time.Minute))
	if st := p.stateOf(refIndex(r.Ref)); st != stFree {
		t.Fatalf("state %s 31 min after the call ended, want free", stateNames[st])
	}
}

// TestCallSecondsBeforeReservation: voice platforms send started_at in whole
// seconds from their own clock, so a call in the same second as the
// reservation reads as slightly before it — it still belongs to the lease,
// also after a restart has replayed the lease from its record. A call well
// before the reservation does not.
func TestCallSecondsBeforeReservation(t *testing.T) {
	bid := t0.Add(900 * time.Millisecond) // 12:00:00.9
	pub := &fakePub{}
	p1 := mustNew(t, onePool(3), pub)
	r := leaseOne(t, p1, 1, bid)
	truncated := bid.Truncate(time.Second) // 12:00:00, as the platform sends it

	p2 := mustNew(t, onePool(3), &fakePub{})
	p2.clockNow = func() time.Time { return bid.Add(time.Second) }
	for _, m := range pub.topic(events.TopicLeases) {
		p2.ApplyLeaseEvent(kafkaio.Message{Key: m.key, Value: m.value})
	}
	for name, p := range map[string]*Pools{"live": p1, "replayed": p2} {
		p.clockNow = func() time.Time { return bid.Add(time.Second) }
		_, early, _ := doCall(t, p, "tok", callBody(name+"-early", r.E164, r.Ext, "+14155550100", bid.Add(-time.Minute)))
		if early.Match != MatchNone {
			t.Errorf("%s: a call a minute before the bid matched %q", name, early.Match)
		}
		_, a, _ := doCall(t, p, "tok", callBody(name, r.E164, r.Ext, "+14155550188", truncated))
		if a.Match != MatchExact || a.Attribution == nil || a.Attribution.BidID != testClaim(1).BidID {
			t.Errorf("%s: call at %s for a bid at %s: %+v", name, truncated.Format(time.RFC3339), bid.Format(time.RFC3339Nano), a)
		}
	}
}

// feedCall hands one cc.call.v1 record to the pools as the events consumer
// does (decoded and checked once; the record's Kafka time is the pools' clock unless set).
func feedCall(p *Pools, m kafkaio.Message) error {
	if m.Time.IsZero() {
		m.Time = p.clockNow()
	}
	return kafkaio.NewDispatch[events.Call](kafkaio.Config{}, p.HandleCallEvent)(m)
}

// feedOutcome is feedCall for cc.outcome.v1.
func feedOutcome(p *Pools, m kafkaio.Message) error {
	if m.Time.IsZero() {
		m.Time = p.clockNow()
	}
	return kafkaio.NewDispatch[events.Outcome](kafkaio.Config{}, p.HandleOutcome)(m)
}
