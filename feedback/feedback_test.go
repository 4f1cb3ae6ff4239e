package feedback

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callbid/callbid/capacity"
	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/hitrate"
	"github.com/callbid/callbid/kafkaio"
	"github.com/callbid/callbid/pacing"
	"github.com/callbid/callbid/reports"
	"github.com/rs/zerolog"
)

type capPub struct {
	mu   sync.Mutex
	msgs []kafkaio.Message
}

func (p *capPub) Publish(topic string, key, value []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, kafkaio.Message{Topic: topic, Key: append([]byte(nil), key...), Value: append([]byte(nil), value...)})
	return true
}

func (p *capPub) topic(t string) []kafkaio.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []kafkaio.Message
	for _, m := range p.msgs {
		if m.Topic == t {
			out = append(out, m)
		}
	}
	return out
}

type fixedHeadroom struct {
	perMin  float64
	waiting bool
}

func (h *fixedHeadroom) Load(string) (capacity.Load, bool) {
	return capacity.Load{LambdaMax: h.perMin, WaitingTooLong: h.waiting}, true
}

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func newTest(t *testing.T, cfg Config) (*Feedback, *capPub, *time.Time) {
	t.Helper()
	pub := &capPub{}
	now := t0
	h := &fixedHeadroom{perMin: 10}
	f := mustNew(t, cfg, []Campaign{{ID: "c1", Skill: "mortgage", PriorCallRate: 0.01, PriorClose: 0.1}}, h, pub)
	testHeadroom[f] = h
	f.clock = func() time.Time { return now }
	return f, pub, &now
}

func msg(topic string, v any) kafkaio.Message {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return kafkaio.Message{Topic: topic, Value: b}
}

func imp(bid, pub, exch string, price int64, at time.Time) kafkaio.Message {
	return msg(events.TopicImpressions, events.Impression{BidID: bid, Kind: "win", CampaignID: "c1", PublisherID: pub,
		Exchange: exch, Skill: "mortgage", PriceMicros: price, Currency: "USD", At: at})
}

func attr(call, bid, pub, exch string, won, started time.Time) kafkaio.Message {
	return msg(events.TopicAttribution, events.Attribution{CallID: call, DNIS: "+18005550100", StartedAt: started,
		Match: "exact", Accepted: true, CampaignID: "c1", PublisherID: pub, Exchange: exch, BidID: bid, WonAt: won,
		Skill: "mortgage", IPHash: 77, IFAHash: 88})
}

func ended(call string, talk time.Duration, at time.Time) kafkaio.Message {
	return msg(events.TopicCall, events.Call{CallID: call, EventType: "ENDED", OccurredAt: at, TalkMS: talk.Milliseconds()})
}

func outcome(call, disp string, final bool, rev int64, at time.Time) kafkaio.Message {
	return msg(events.TopicOutcome, events.Outcome{CallID: call, Disposition: disp, IsFinal: final,
		Revenue: events.Money{AmountMicros: rev, Currency: "USD"}, OccurredAt: at})
}

// scenario is a known set of events: 4 wins on two publishers and two
// exchanges, 3 calls (one qualified sale, one qualified no-sale, one short
// call), a provisional outcome replaced by a final one, duplicates of
// everything and an out-of-order outcome.
func scenario() []kafkaio.Message {
	h := t0.Add(-3 * time.Hour)
	return []kafkaio.Message{
		imp("b1", "p1", "x1", 2_000_000, h),
		imp("b2", "p1", "x1", 3_000_000, h.Add(time.Minute)),
		imp("b3", "p2", "x2", 4_000_000, h.Add(2*time.Minute)),
		imp("b4", "p2", "x2", 5_000_000, h.Add(70*time.Minute)), // next hour
		msg(events.TopicImpressions, events.Impression{BidID: "b1", Kind: "bill", CampaignID: "c1", PublisherID: "p1",
			Exchange: "x1", PriceMicros: 2_000_000, At: h.Add(time.Second)}), // bill of a won bid: same impression
		imp("b2", "p1", "x1", 3_000_000, h.Add(time.Minute)),                 // duplicate
		outcome("k1", "CALLBACK_REQUESTED", false, 0, h.Add(20*time.Minute)), // before its call: kept
		attr("k1", "b1", "p1", "x1", h, h.Add(5*time.Minute)),
		ended("k1", 3*time.Minute, h.Add(9*time.Minute)),
		outcome("k1", "SALE", true, 150_000_000, h.Add(2*time.Hour)),
		outcome("k1", "NO_SALE", false, 0, h.Add(3*time.Hour)), // later but not final: final stays
		attr("k2", "b3", "p2", "x2", h.Add(2*time.Minute), h.Add(10*time.Minute)),
		ended("k2", 2*time.Minute, h.Add(13*time.Minute)),
		outcome("k2", "NO_SALE", true, 0, h.Add(30*time.Minute)),
		attr("k3", "b4", "p2", "x2", h.Add(70*time.Minute), h.Add(75*time.Minute)),
		ended("k3", 10*time.Second, h.Add(76*time.Minute)),                        // below min talk time
		attr("k2", "b3", "p2", "x2", h.Add(2*time.Minute), h.Add(10*time.Minute)), // duplicate
		ended("k2", 2*time.Minute, h.Add(13*time.Minute)),                         // duplicate
	}
}

func feed(f *Feedback, msgs []kafkaio.Message) {
	for _, m := range msgs {
		switch m.Topic {
		case events.TopicImpressions:
			f.HandleImpression(m)
		case events.TopicAttribution:
			feedAttr(f, m)
		case events.TopicCall:
			feedCall(f, m)
		case events.TopicOutcome:
			feedOutcome(f, m)
		}
	}
}

func TestReportTotalsAddUp(t *testing.T) {
	f, _, now := newTest(t, Config{})
	feed(f, scenario())
	f.RecordBid("c1", "mortgage", "p1", "x1", 2_500_000, 0, now.Add(-3*time.Hour))
	f.RecordBid("c1", "mortgage", "p2", "x2", 2_500_000, 0, now.Add(-3*time.Hour))
	f.drain()
	for _, g := range []string{"campaign", "publisher", "exchange", "hour"} {
		rep, err := buildReport(f, time.Time{}, time.Time{}, g)
		if err != nil {
			t.Fatal(err)
		}
		tot := rep.Total
		if tot.Bids != 2 || tot.Wins != 4 || tot.Calls != 3 || tot.QualifiedCalls != 2 || tot.Sales != 1 {
			t.Fatalf("group_by=%s total = %+v, want bids 2 wins 4 calls 3 qualified 2 sales 1", g, tot)
		}
		if tot.Spend != 0.014 || tot.Revenue != 150 {
			t.Fatalf("group_by=%s spend %v revenue %v, want 0.014 and 150", g, tot.Spend, tot.Revenue)
		}
		var sum reports.Row
		for _, r := range rep.Rows {
			sum.Bids += r.Bids
			sum.Wins += r.Wins
			sum.Calls += r.Calls
			sum.QualifiedCalls += r.QualifiedCalls
			sum.Sales += r.Sales
		}
		if sum.Bids != tot.Bids || sum.Wins != tot.Wins || sum.Calls != tot.Calls || sum.QualifiedCalls != tot.QualifiedCalls || sum.Sales != tot.Sales {
			t.Fatalf("group_by=%s rows add to %+v, total is %+v", g, sum, tot)
		}
		if *tot.CallRate != 0.5 || *tot.CloseRate != 0.5 || *tot.CPA != 0.014 || *tot.CostPerCall != 0.007 {
			t.Fatalf("group_by=%s ratios %v %v %v %v", g, *tot.CallRate, *tot.CloseRate, *tot.CPA, *tot.CostPerCall)
		}
	}
	rep, _ := buildReport(f, time.Time{}, time.Time{}, "publisher")
	if len(rep.Rows) != 2 || rep.Rows[0].Key != "p1" || rep.Rows[0].Wins != 2 || rep.Rows[0].Sales != 1 || rep.Rows[1].Calls != 2 || rep.Rows[1].QualifiedCalls != 1 {
		t.Fatalf("publisher rows = %+v", rep.Rows)
	}
	// The hour filter keeps the first hour only.
	h := t0.Add(-3 * time.Hour)
	rep, _ = buildReport(f, h, h.Add(time.Hour), "campaign")
	if rep.Total.Wins != 3 || rep.Total.Calls != 2 {
		t.Fatalf("first hour total = %+v, want wins 3 calls 2", rep.Total)
	}
	st := f.Stats()
	if st.Duplicates[events.TopicImpressions] != 2 || st.Duplicates[events.TopicAttribution] != 1 || st.Duplicates[events.TopicOutcome] != 1 {
		t.Fatalf("duplicates = %v", st.Duplicates)
	}
}

func TestReplayIsIdempotentAndRestoresRates(t *testing.T) {
	var evs []kafkaio.Message
	h := t0.Add(-5 * time.Hour)
	for i := range 3000 {
		at := h.Add(time.Duration(i) * time.Second)
		bid := "b" + itoa(i)
		evs = append(evs, imp(bid, "p1", "x1", 1_000_000, at))
		if i%25 == 0 { // 4% call rate, all qualified
			call := "k" + itoa(i)
			evs = append(evs, attr(call, bid, "p1", "x1", at, at.Add(2*time.Minute)), ended(call, time.Minute, at.Add(4*time.Minute)))
		}
	}
	a, _, _ := newTest(t, Config{})
	feed(a, evs)
	a.tick(t0)
	// A restart replays every topic; duplicated delivery and reordering
	// (all calls before all impressions) must land on the same numbers.
	b, _, _ := newTest(t, Config{})
	var calls, imps []kafkaio.Message
	for _, m := range evs {
		if m.Topic == events.TopicImpressions {
			imps = append(imps, m)
		} else {
			calls = append(calls, m)
		}
	}
	feed(b, calls)
	feed(b, imps)
	feed(b, evs)
	b.tick(t0)
	ra, _ := a.HitRates().CallRates("c1", "p1")
	rb, _ := b.HitRates().CallRates("c1", "p1")
	if math.Abs(ra-rb) > 1e-12*ra || math.Abs(a.HitRates().HitRate("c1", "p1")-b.HitRates().HitRate("c1", "p1")) > 1e-12 {
		t.Fatalf("replayed rates differ: %v vs %v", ra, rb)
	}
	if ra < 0.02 || a.HitRates().HitRate("c1", "p1") <= 2 {
		t.Fatalf("rate %.4f / factor %.2f did not move from the 1%% prior toward the observed 4%%", ra, a.HitRates().HitRate("c1", "p1"))
	}
	x, _ := buildReport(a, time.Time{}, time.Time{}, "campaign")
	y, _ := buildReport(b, time.Time{}, time.Time{}, "campaign")
	jx, _ := json.Marshal(x.Total)
	jy, _ := json.Marshal(y.Total)
	if x.Total.Wins != 3000 || x.Total.Calls != 120 || string(jx) != string(jy) {
		t.Fatalf("report after replay %+v, first run %+v", y.Total, x.Total)
	}
	if HitRateUnseen := a.HitRates().HitRate("c1", "nobody"); HitRateUnseen != 1 {
		t.Fatalf("unseen publisher factor %v, want 1", HitRateUnseen)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestDelayAwareDenominator(t *testing.T) {
	// 1000 wins one minute ago: almost none of their calls can have come, so
	// the rate must stay near the prior instead of collapsing to 0.
	f, _, now := newTest(t, Config{})
	for i := range 1000 {
		f.HandleImpression(imp("b"+itoa(i), "p1", "x1", 1_000_000, now.Add(-time.Minute)))
	}
	f.tick(*now)
	r, _ := f.HitRates().CallRates("c1", "p1")
	if r < 0.009 {
		t.Fatalf("fresh impressions counted as failures: rate %.4f, prior 0.01", r)
	}
	// Two hours later, with no calls, they are failures.
	*now = now.Add(3 * time.Hour)
	f.tick(*now)
	r2, _ := f.HitRates().CallRates("c1", "p1")
	if r2 > 0.006 {
		t.Fatalf("matured impressions without calls: rate %.4f, want well below the prior", r2)
	}
}

func TestProvisionalOutcomeAndReemission(t *testing.T) {
	f, pub, now := newTest(t, Config{})
	won := now.Add(-10 * time.Minute)
	feed(f, []kafkaio.Message{imp("b1", "p1", "x1", 1_000_000, won), attr("k1", "b1", "p1", "x1", won, won.Add(time.Minute)),
		ended("k1", time.Minute, won.Add(3*time.Minute))})
	// sales evidence from the published close rate: (prior·s + sales)/(s + qualified)
	sales := func(at time.Time) float64 {
		f.tick(at)
		for _, p := range f.HitRates().Rates(hitrate.RatesQuery{Campaign: "c1", Now: at}).Publishers {
			if p.Publisher == "p1" {
				return p.CloseRate*(20+p.Qualified) - 0.1*20
			}
		}
		return 0
	}
	feedOutcome(f, outcome("k1", "FOLLOW_UP_EXPECTED", false, 0, won.Add(4*time.Minute)))
	prov := sales(now.Add(3 * time.Second))
	if prov < 1e-6 {
		t.Fatal("a provisional outcome credited no sale")
	}
	feedOutcome(f, outcome("k1", "SALE", true, 99_000_000, won.Add(5*time.Minute)))
	if s := sales(now.Add(6 * time.Second)); s <= prov || s > 1.001*prov/f.cfg.ProvisionalSaleCredit {
		t.Fatalf("final SALE: sales %v (provisional was %v)", s, prov)
	}
	out := pub.topic(events.TopicAttribution)
	if len(out) != 2 {
		t.Fatalf("re-emitted %d attributions, want 2 (one per outcome change)", len(out))
	}
	var a events.Attribution
	if err := json.Unmarshal(out[1].Value, &a); err != nil || a.Disposition != "SALE" || !a.IsFinal || a.Revenue.AmountMicros != 99_000_000 || a.BidID != "b1" || a.TalkMS != 60000 {
		t.Fatalf("re-emitted %+v (%v)", a, err)
	}
	// Consuming our own emissions (and the same outcome again) emits nothing.
	for _, m := range out {
		feedAttr(f, m)
	}
	feedOutcome(f, outcome("k1", "SALE", true, 99_000_000, won.Add(5*time.Minute)))
	if n := len(pub.topic(events.TopicAttribution)); n != 2 {
		t.Fatalf("consuming our own re-emission emitted again: %d", n)
	}
	// A fresh instance replaying the attribution topic (with our emissions)
	// and then the outcomes does not re-emit either.
	g, pub2, _ := newTest(t, Config{})
	feedAttr(g, attr("k1", "b1", "p1", "x1", won, won.Add(time.Minute)))
	feedAttr(g, out[1])
	feedCall(g, ended("k1", time.Minute, won.Add(3*time.Minute)))
	feedOutcome(g, outcome("k1", "SALE", true, 99_000_000, won.Add(5*time.Minute)))
	if n := len(pub2.topic(events.TopicAttribution)); n != 0 {
		t.Fatalf("replay re-emitted %d attributions", n)
	}
}

func TestOrphansAndMalformed(t *testing.T) {
	f, _, now := newTest(t, Config{OrphanTTL: time.Minute})
	feedOutcome(f, outcome("ghost", "SALE", true, 1, now.Add(-time.Hour)))
	// Bad contact-center records never reach feedback: the consumer's one
	// decoder rejects them (counted in callbid_events_bad_total).
	for v, want := range map[string]string{`{`: events.ReasonMalformedJSON, `{"call_id":""}`: events.ReasonMissingCallID,
		`{"call_id":"x","disposition":"MAYBE","occurred_at":"2026-01-01T00:00:00Z"}`:                               events.ReasonUnknownDisposition,
		`{"call_id":"x","disposition":"SALE"}`:                                                                     events.ReasonMissingTime,
		`{"call_id":"x","disposition":"SALE","occurred_at":"2026-01-01T00:00:00Z","revenue":{"amount_micros":-1}}`: events.ReasonNegativeRevenue,
		`{"call_id":"x","disposition":"SALE","occurred_at":"9999-01-01T00:00:00Z"}`:                                events.ReasonFutureTime,
	} {
		if got := events.Reason(feedOutcome(f, kafkaio.Message{Topic: events.TopicOutcome, Value: []byte(v)})); got != want {
			t.Errorf("outcome %s: reason %q, want %q", v, got, want)
		}
	}
	f.HandleImpression(kafkaio.Message{Value: []byte(`{"bid_id":"b","kind":"win","at":"2026-01-01T00:00:00Z"}`)})
	f.HandleImpression(kafkaio.Message{Value: []byte(`[]`)})
	if got := events.Reason(feedCall(f, kafkaio.Message{Value: []byte(`{"call_id":"c","event_type":"RINGING","occurred_at":"2026-01-01T00:00:00Z"}`)})); got != events.ReasonUnknownEventType {
		t.Errorf("call RINGING: reason %q", got)
	}
	if got := events.Reason(feedAttr(f, kafkaio.Message{Value: []byte(`{"call_id":"c"}`)})); got != events.ReasonMissingTime {
		t.Errorf("attribution without started_at: reason %q", got)
	}
	*now = now.Add(2 * time.Minute)
	f.tick(*now)
	st := f.Stats()
	if st.Orphans != 1 {
		t.Fatalf("orphans = %d, want 1", st.Orphans)
	}
	want := map[string]int64{
		"callbid.impressions.v1/missing_campaign": 1, "callbid.impressions.v1/bad_json": 1,
	}
	for k, v := range want {
		if st.Malformed[k] != v {
			t.Errorf("malformed[%s] = %d, want %d (all: %v)", k, st.Malformed[k], v, st.Malformed)
		}
	}
}

func TestPacingControllerAndCommitted(t *testing.T) {
	cfg := Config{}
	cfg.Pacing.Participation.CautiousCallRate = 0.01 // the campaign's prior: no cautious uplift here
	f, _, now := newTest(t, cfg)
	h := testHeadroom[f]
	h.perMin = 1
	// 2000 wins in the last minute at a 1% call rate: ~20 calls pending, far
	// above a headroom of 1 call/min.
	for i := range 2000 {
		f.HandleImpression(imp("b"+itoa(i), "p1", "x1", 1_000_000, now.Add(-time.Duration(i%60)*time.Second)))
	}
	for range 60 {
		*now = now.Add(time.Second)
		f.tick(*now)
	}
	// No call has come yet, so the time to call beyond the wins' age is the
	// cautious tail (hitrate/atrisk.go): the 20 pending calls are spread
	// over up to the 2 h horizon, a committed rate well under 20 / 4.2 min.
	c := f.Pacer().CommittedCalls("mortgage")
	if c < 0.3 || c > 6 {
		t.Fatalf("committed %.2f calls/min; want 20 pending calls over a mean delay of 4–60 min", c)
	}
	m, stop := f.Pacer().Pacing("mortgage")
	if m >= 0.5 || stop {
		t.Fatalf("pacing multiplier %.3f stop %v after a minute 4x over headroom", m, stop)
	}
	h.waiting = true
	*now = now.Add(time.Second)
	f.tick(*now)
	if _, stop := f.Pacer().Pacing("mortgage"); !stop {
		t.Fatal("no hard stop while calls wait too long")
	}
	// Plenty of headroom: μ decays and the multiplier returns to 1.
	h.perMin, h.waiting = 1000, false
	for range 3600 {
		*now = now.Add(time.Second)
		f.tick(*now)
	}
	if m, _ := f.Pacer().Pacing("mortgage"); m != 1 {
		t.Fatalf("multiplier %.3f with ample headroom, want 1", m)
	}
	if m, stop := f.Pacer().Pacing("unknown-skill"); m != 1 || stop {
		t.Fatal("unknown skill is not neutral")
	}
}

func TestDemandFeed(t *testing.T) {
	f, pub, now := newTest(t, Config{Pacing: pacing.Config{Participation: pacing.ParticipationConfig{CautiousCallRate: 0.01}}, Reports: reports.Config{DemandInterval: time.Minute}})
	*now = t0
	f.tick(*now) // opens the interval [10:00, 10:01)
	f.RecordSeen("mortgage", "x1", now.Add(time.Second))
	f.RecordSeen("mortgage", "x1", now.Add(2*time.Second))
	f.RecordBid("c1", "mortgage", "p1", "x1", 1_000_000, 0, now.Add(2*time.Second))
	f.drain()
	f.HandleImpression(imp("b1", "p1", "x1", 3_000_000, now.Add(3*time.Second)))
	*now = now.Add(time.Minute)
	f.tick(*now)
	out := pub.topic(events.TopicDemand)
	if len(out) != 1 || string(out[0].Key) != "mortgage" {
		t.Fatalf("demand events %v", out)
	}
	var d reports.Demand
	if err := json.Unmarshal(out[0].Value, &d); err != nil {
		t.Fatal(err)
	}
	if d.RequestsSeen != 2 || d.Bids != 1 || d.Wins != 1 || d.Spend.AmountMicros != 3000 || d.ProjectedCalls != 0.01 || !d.IntervalStart.Equal(t0) {
		t.Fatalf("demand = %+v", d)
	}
}

func TestRecordQueueDropsWhenFull(t *testing.T) {
	f, _, now := newTest(t, Config{RecordQueue: 2})
	for range 5 {
		f.RecordBid("c1", "mortgage", "p1", "x1", 1, 0, *now)
	}
	if st := f.Stats(); st.RecordsDropped != 3 {
		t.Fatalf("dropped %d, want 3", st.RecordsDropped)
	}
	f.drain()
	rep, _ := buildReport(f, time.Time{}, time.Time{}, "campaign")
	if rep.Total.Bids != 2 || rep.RecordsDropped != 3 {
		t.Fatalf("report bids %d dropped %d", rep.Total.Bids, rep.RecordsDropped)
	}
}

func TestReportWriters(t *testing.T) {
	f, _, _ := newTest(t, Config{})
	feed(f, scenario())
	get := func(from, to, groupBy, format string) (*bytes.Buffer, error) {
		q, csv, err := reports.ParseQuery(from, to, groupBy, format)
		if err != nil {
			return nil, err
		}
		v, err := f.Reports().Report(q)
		if err != nil {
			return nil, err
		}
		var b bytes.Buffer
		if csv {
			return &b, v.WriteCSV(&b)
		}
		return &b, v.WriteJSON(&b)
	}
	body, err := get("", "", "exchange", "")
	var rep reports.View
	if err != nil || json.Unmarshal(body.Bytes(), &rep) != nil || len(rep.Rows) != 2 || rep.Total.Wins != 4 {
		t.Fatalf("json: %v %s", err, body)
	}
	body, err = get("", "", "publisher", "csv")
	lines := strings.Split(strings.TrimSpace(body.String()), "\n")
	if err != nil || len(lines) != 4 || !strings.HasPrefix(lines[0], "publisher,bids,wins,spend,calls,qualified_calls,sales,revenue,cost_per_call,cpa,call_rate,close_rate") ||
		!strings.HasPrefix(lines[3], "total,0,4,0.014000,3,2,1,150.000000,") {
		t.Fatalf("csv: %v\n%s", err, body)
	}
	for _, q := range [][4]string{{"", "", "device", ""}, {"yesterday", "", "", ""}, {"", "", "", "xml"}, {"", "2026", "", ""}} {
		if _, err := get(q[0], q[1], q[2], q[3]); err == nil {
			t.Errorf("%q: no error", q)
		}
	}
}

// buildReport is the report of f's rows as GET /v1/report builds it.
func buildReport(f *Feedback, from, to time.Time, groupBy string) (reports.View, error) {
	return f.Reports().Report(reports.Query{From: from, To: to, GroupBy: groupBy})
}

func TestConfigValidate(t *testing.T) {
	var zero Config
	if err := zero.Validate(); err != nil {
		t.Fatalf("zero config: %v", err)
	}
	neg := -1.0
	bad := Config{MinTalkTime: -time.Second, HitRate: hitrate.Config{MinFactor: 5, MaxFactor: 2, PriorStrength: -1}}
	bad.Pacing.Pacing.Target = 2
	bad.Pacing.Pacing.Proportional = &neg
	bad.Traffic.BlockedRanges = []string{"10.0.0.0/8", "10.0.0.0/99"}
	bad.HitRate.TimeToCall.DefaultMean = 3 * time.Hour
	err := bad.Validate()
	for _, want := range []string{"min_talk_time:", "min_factor: 5 is above max_factor 2", "prior_strength:", "pacing.target:",
		"pacing.proportional:", "traffic.blocked_ranges[1]:", "time_to_call.default_mean:"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) || len(joined.Unwrap()) != 7 {
		t.Errorf("want 7 joined errors, got %v", err)
	}
}

func TestDedupeWindowExpires(t *testing.T) {
	f, _, now := newTest(t, Config{DedupeWindow: 10 * time.Minute})
	f.HandleImpression(imp("old", "p1", "x1", 1, now.Add(-time.Hour)))
	f.HandleImpression(imp("new", "p1", "x1", 1, *now))
	*now = now.Add(2 * time.Minute)
	f.tick(*now)
	if len(f.seenBids) != 1 {
		t.Fatalf("%d bid ids kept, want 1 (the one inside the window)", len(f.seenBids))
	}
	f.HandleImpression(imp("new", "p1", "x1", 1, now.Add(-2*time.Minute)))
	if f.Stats().Wins != 2 {
		t.Fatal("a duplicate inside the window counted")
	}
}

// feedCall hands one cc.call.v1 record to feedback as the events consumer
// does: decoded and checked once, then HandleCall. It returns the error the
// consumer would count.
func feedCall(f *Feedback, m kafkaio.Message) error {
	return kafkaio.NewDispatch[events.Call](kafkaio.Config{}, f.HandleCall)(m)
}

// feedAttr is feedCall for callbid.attribution.v1.
func feedAttr(f *Feedback, m kafkaio.Message) error {
	return kafkaio.NewDispatch[events.Attribution](kafkaio.Config{}, f.HandleAttribution)(m)
}

func (f *Feedback) feedAttr(m kafkaio.Message) {
	if err := feedAttr(f, m); err != nil {
		panic(err)
	}
}

// feedOutcome is feedCall for cc.outcome.v1.
func feedOutcome(f *Feedback, m kafkaio.Message) error {
	return kafkaio.NewDispatch[events.Outcome](kafkaio.Config{}, f.HandleOutcome)(m)
}

// The sim sends through these (its send takes a func(kafkaio.Message)).
func (f *Feedback) feedCall(m kafkaio.Message) {
	if err := feedCall(f, m); err != nil {
		panic(err)
	}
}

func (f *Feedback) feedOutcome(m kafkaio.Message) {
	if err := feedOutcome(f, m); err != nil {
		panic(err)
	}
}

// mustNew is New for tests: a config error fails the test.
func mustNew(tb testing.TB, cfg Config, camps []Campaign, cc pacing.Capacity, pub Publisher) *Feedback {
	tb.Helper()
	f, err := New(cfg, camps, cc, pub, zerolog.Nop())
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

// testHeadroom is the capacity view newTest gave each feed.
var testHeadroom = map[*Feedback]*fixedHeadroom{}
