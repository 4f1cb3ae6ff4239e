package docs_test

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callbid/callbid/ccsim"
	"github.com/callbid/callbid/docs"
	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/numbers"
	"github.com/rs/zerolog"
)

// schemaOf is the schema of each topic's values.
var schemaOf = map[string]string{
	events.TopicAgentState:  "agent-state",
	events.TopicCall:        "call",
	events.TopicOutcome:     "outcome",
	events.TopicAttribution: "attribution",
	events.TopicDemand:      "demand",
	events.TopicLeases:      "lease",
	events.TopicImpressions: "impression",
	events.TopicBids:        "bids",
	events.TopicSchedule:    "schedule",
}

var exampleRE = regexp.MustCompile("(?s)<!-- example: ([a-z-]+) -->\n```json\n(.*?)\n```")

func spec(t *testing.T) string {
	t.Helper()
	b, err := docs.Files.ReadFile("events.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDocExamplesMatchSchemas: every example in events.md is valid against
// its schema, and every schema has an example.
func TestDocExamplesMatchSchemas(t *testing.T) {
	md := spec(t)
	seen := map[string]int{}
	for _, m := range exampleRE.FindAllStringSubmatch(md, -1) {
		name, body := m[1], m[2]
		seen[name]++
		// Examples are wrapped for reading; JSON does not mind the newlines.
		if err := docs.StrictValidate(name, []byte(body)); err != nil {
			t.Errorf("example of %s: %v", name, err)
		}
	}
	for _, name := range docs.Schemas() {
		if seen[name] == 0 {
			t.Errorf("schemas/%s.schema.json has no example in events.md", name)
		}
	}
	if n := strings.Count(md, "<!-- example:"); n != len(exampleRE.FindAllString(md, -1)) {
		t.Errorf("%d example markers but only %d are followed by a json block", n, len(exampleRE.FindAllString(md, -1)))
	}
}

// TestDocCoversEveryTopic: each topic callbid uses has a section, a row in
// the table with its cleanup policy, and a schema.
func TestDocCoversEveryTopic(t *testing.T) {
	md := spec(t)
	for _, topic := range events.AllTopics {
		if !strings.Contains(md, "\n## "+topic+"\n") {
			t.Errorf("events.md has no section for %s", topic)
		}
		row := regexp.MustCompile("\\| `" + regexp.QuoteMeta(topic) + "` \\|[^\n]*\n").FindString(md)
		if row == "" {
			t.Errorf("events.md's table has no row for %s", topic)
			continue
		}
		if compact := strings.Contains(row, "**compact**"); compact != events.Compacted(topic) {
			t.Errorf("table says compacted=%v for %s, events.Compacted says %v", compact, topic, events.Compacted(topic))
		}
		if name := schemaOf[topic]; !slices.Contains(docs.Schemas(), name) || !strings.Contains(row, "schemas/"+name+".schema.json") {
			t.Errorf("%s: row does not link its schema %q: %s", topic, name, row)
		}
	}
	if len(schemaOf) != len(events.AllTopics) {
		t.Errorf("schemaOf covers %d topics, events.AllTopics has %d", len(schemaOf), len(events.AllTopics))
	}
}

// TestSchemasRejectBadRecords: the schemas carry the contract's rules, so a
// record that breaks one fails.
func TestSchemasRejectBadRecords(t *testing.T) {
	for _, c := range []struct{ schema, value, why string }{
		{"agent-state", `{"event_type":"LOGIN","occurred_at":"2026-11-23T13:05:00Z","routing_state":"AVAILABLE"}`, "no agent_id"},
		{"agent-state", `{"agent_id":"a","event_type":"LOGIN","occurred_at":"2026-11-23T13:05:00Z"}`, "LOGIN without routing_state"},
		{"agent-state", `{"agent_id":"a","event_type":"STATE_CHANGE","occurred_at":"2026-11-23T13:05:00Z","routing_state":"LUNCH"}`, "unknown state"},
		{"agent-state", `{"agent_id":"a","event_type":"HEARTBEAT","occurred_at":"2026-11-23T13:05:00Z","skills":[{"name":"x","proficiency":6}]}`, "proficiency above 5"},
		{"agent-state", `{"agent_id":"a","seq":-1,"event_type":"HEARTBEAT","occurred_at":"2026-11-23T13:05:00Z"}`, "negative seq"},
		{"agent-state", `{"agent_id":"a","event_type":"HEARTBEAT","occurred_at":"yesterday"}`, "occurred_at not RFC 3339"},
		{"agent-state", `{"agent_id":"a","event_type":"STATE_CHANGE","occurred_at":"2026-11-23T13:05:00Z","routing_state":"BUSY","next_routing_state":"BUSY"}`, "next_routing_state BUSY"},
		{"call", `{"call_id":"c","event_type":"RINGING","occurred_at":"2026-11-23T13:05:00Z"}`, "unknown event type"},
		{"call", `{"call_id":"c","event_type":"ENDED","occurred_at":"2026-11-23T13:05:00Z","talk_ms":-5}`, "negative talk_ms"},
		{"outcome", `{"call_id":"c","disposition":"MAYBE","occurred_at":"2026-11-23T13:05:00Z"}`, "unknown disposition"},
		{"outcome", `{"call_id":"c","disposition":"SALE","occurred_at":"2026-11-23T13:05:00Z","revenue":{"amount_micros":-1,"currency":"USD"}}`, "negative revenue"},
		{"impression", `{"bid_id":"b","kind":"click","campaign_id":"c","price_micros":1,"currency":"USD","at":"2026-11-23T13:05:00Z"}`, "unknown kind"},
		{"attribution", `{"call_id":"c","dnis":"+18005550110","started_at":"2026-11-23T13:05:00Z","match":"maybe","accepted":true}`, "unknown match"},
		{"lease", `{"o":"i","pool":"p","gen":1,"st":"leased"}`, "leased without its lease fields"},
		{"lease", `{"o":"i","pool":"p","gen":1,"st":"parked"}`, "parked is internal, written as free"},
		{"lease", `{"o":"i","pool":"p","gen":1,"st":"held"}`, "a hold carries its attribution"},
		{"bids", `{"o":"i","at":"2026-11-23T13:05:00Z","seen":1}`, "no bids"},
		{"demand", `{"skill":"mortgage"}`, "missing counters"},
	} {
		if err := docs.Validate(c.schema, []byte(c.value)); err == nil {
			t.Errorf("%s: %s (%s) passed its schema", c.schema, c.value, c.why)
		}
	}
	// Unknown fields are ignored by consumers (Validate) but are drift in
	// callbid's own output (StrictValidate).
	v := []byte(`{"call_id":"c","disposition":"SALE","occurred_at":"2026-11-23T13:05:00Z","crm":"x"}`)
	if err := docs.Validate("outcome", v); err != nil {
		t.Errorf("an unknown field must be accepted: %v", err)
	}
	if err := docs.StrictValidate("outcome", v); err == nil {
		t.Error("StrictValidate accepted an undeclared field")
	}
	// uint64 hashes above 2^53 are valid and kept exact.
	if err := docs.StrictValidate("impression", []byte(`{"bid_id":"b","kind":"bill","campaign_id":"c","price_micros":1,"currency":"USD","at":"2026-11-23T13:05:00Z","ip_hash":18446744073709551615}`)); err != nil {
		t.Error(err)
	}
}

// capture is a publisher that records what would go to Kafka.
type capture struct {
	mu   sync.Mutex
	msgs map[string][][]byte
	// attributed is signalled (when set) on each attribution record.
	attributed chan struct{}
}

func (c *capture) Publish(topic string, _, value []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.msgs == nil {
		c.msgs = map[string][][]byte{}
	}
	c.msgs[topic] = append(c.msgs[topic], append([]byte(nil), value...))
	if topic == events.TopicAttribution && c.attributed != nil {
		select {
		case c.attributed <- struct{}{}:
		default:
		}
	}
	return true
}

func (c *capture) topic(t string) [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.msgs[t])
}

// TestSimulatorOutputMatchesSchemas: the simulated contact center's agent
// states and calls, as it streams them, meet the inbound schemas.
func TestSimulatorOutputMatchesSchemas(t *testing.T) {
	cfg := ccsim.DemoConfig()
	cfg.Shift.LoginSpread = time.Second
	sim, err := ccsim.New(cfg, time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	var pub capture
	for range 3000 { // enough simulated time for logins, state changes and calls
		sim.Step(&pub)
	}
	for topic, min := range map[string]int{events.TopicAgentState: 50, events.TopicCall: 5} {
		vals := pub.topic(topic)
		if len(vals) < min {
			t.Fatalf("simulator published %d %s records, want at least %d", len(vals), topic, min)
		}
		for _, v := range vals {
			if err := docs.StrictValidate(schemaOf[topic], v); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestEventTypesMatchSchemas: the events package's record types, marshalled
// as the producers marshal them, meet their schemas (impressions come from
// the bidder's notice handler exactly so).
func TestEventTypesMatchSchemas(t *testing.T) {
	at := time.Date(2026, 11, 23, 13, 5, 0, 0, time.UTC)
	for schema, v := range map[string]any{
		"impression": events.Impression{BidID: "b-1", Kind: events.ImpressionWin, CampaignID: "mortgage-refi", PublisherID: "pub-1",
			Exchange: "demo", Skill: "mortgage", PriceMicros: 12_500_000, Currency: "USD", At: at, IPHash: 1<<63 + 12345},
		"outcome": events.Outcome{CallID: "c-1", Disposition: events.DispositionSale, IsFinal: true,
			Revenue: events.Money{AmountMicros: 5_000_000, Currency: "USD"}, OccurredAt: at},
		"call": events.Call{CallID: "c-1", EventType: events.CallEnded, DNIS: "+18005550110", OccurredAt: at, TalkMS: 1000, EndReason: events.EndCustomerHangup},
		"attribution": events.Attribution{CallID: "c-1", DNIS: "+18005550110", StartedAt: at, Match: "exact", Accepted: true,
			CampaignID: "mortgage-refi", PriceCPM: 12.5, WonAt: at, Disposition: events.DispositionSale, IsFinal: true,
			Revenue: &events.Money{AmountMicros: 1, Currency: "USD"}, TalkMS: 10},
	} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := docs.StrictValidate(schema, b); err != nil {
			t.Error(err)
		}
	}
}

// TestOwnRecordEncodersMatchSchemas: callbid's own records, as the
// events encoders write them for the producers (the bidder's impressions,
// numbers' leases, feedback's tallies and demand), meet their schemas, and
// read back through the events decoders.
func TestOwnRecordEncodersMatchSchemas(t *testing.T) {
	at := time.Date(2026, 11, 23, 13, 5, 0, 0, time.UTC)
	lease := events.Lease{Owner: "5c1f0e9a2b7d4c11", Pool: "mortgage-tollfree", Gen: 7, State: events.LeaseLeased,
		ReservedAt: at.UnixNano(), WonAt: at.UnixNano() + 1e9, LeaseEnd: at.UnixNano() + 9e11, Campaign: "mortgage-refi",
		Publisher: "pub-1", Exchange: "demo", Skill: "mortgage", RequestID: []byte("req-1"), ImpID: []byte("1"),
		BidID: []byte("b-1"), SiteOrApp: []byte("site-42"), PriceMicros: 12_500_000, IPHash: 1<<63 + 7, Creative: "cr-1",
		Currency: "USD", Country: "USA", Region: "CA", DeviceType: 4, ClearingMicros: 9_750_000, ANI: "+14155550188"}
	held, free := lease, events.Lease{Owner: "5c1f0e9a2b7d4c11", Pool: "mortgage-tollfree", Gen: 8, State: events.LeaseFree}
	held.State, held.WonAt, held.LeaseEnd, held.ANI = events.LeaseHeld, 0, 0, ""
	tally := events.Tally{Instance: "5c1f0e9a2b7d4c11", At: at, Seen: 912, Bids: 201,
		Rows: []events.TallyRow{{Hour: 498733, Campaign: "mortgage-refi", Publisher: "pub-1", Exchange: "demo", Bids: 201},
			{Hour: 498733, Campaign: "mortgage-refi", Publisher: "pub-1", Exchange: "demo", Bids: 12, Channel: "chat"}},
		Demand: []events.TallyDemand{{Skill: "mortgage", Start: at.Unix() - 300, Seen: 912, Bids: 201}}}
	demand := events.Demand{Skill: "mortgage", IntervalStart: at.Add(-15 * time.Minute), IntervalEnd: at, RequestsSeen: 912,
		Bids: 201, Wins: 40, Spend: events.Money{AmountMicros: 412_000_000, Currency: "USD"}, ProjectedCalls: 62.4,
		ProjectedQualifiedCalls: 41.1, CommittedCallsPerMin: 3.9, PacingMultiplier: 0.82,
		Projection: []events.Projected{{IntervalStart: at, IntervalEnd: at.Add(15 * time.Minute), Calls: 60.2},
			{Channel: "chat", IntervalStart: at, IntervalEnd: at.Add(15 * time.Minute), Calls: 4.5}}}
	imp := events.Impression{BidID: "b-1", Kind: events.ImpressionBill, CampaignID: "mortgage-refi", PublisherID: "pub-1",
		Exchange: "demo", Skill: "mortgage", PriceMicros: 12_500_000, Currency: "USD", At: at, IPHash: 1<<63 + 12345, Channel: "chat"}
	for _, c := range []struct {
		schema string
		value  []byte
		decode func([]byte) error
	}{
		{"lease", events.AppendLease(nil, &lease), func(b []byte) error { return events.DecodeLease(b, new(events.Lease)) }},
		{"lease", events.AppendLease(nil, &held), func(b []byte) error { return events.DecodeLease(b, new(events.Lease)) }},
		{"lease", events.AppendLease(nil, &free), func(b []byte) error { return events.DecodeLease(b, new(events.Lease)) }},
		{"impression", events.AppendImpression(nil, &imp), func(b []byte) error { return events.DecodeImpression(b, new(events.Impression)) }},
		{"bids", events.AppendTally(nil, &tally), func(b []byte) error { return events.DecodeTally(b, new(events.Tally)) }},
		{"demand", events.AppendDemand(nil, &demand), func(b []byte) error { return events.DecodeDemand(b, new(events.Demand)) }},
	} {
		if err := docs.StrictValidate(c.schema, c.value); err != nil {
			t.Errorf("%s: %v\n%s", c.schema, err, c.value)
		}
		if err := c.decode(c.value); err != nil {
			t.Errorf("%s: decoding its own output: %v", c.schema, err)
		}
	}
}

// TestNumbersOutputMatchesSchemas: the lease records numbers writes for a
// leased, a cooling and a freed number, and the attribution it publishes for
// a call, meet their schemas.
func TestNumbersOutputMatchesSchemas(t *testing.T) {
	pub := capture{attributed: make(chan struct{}, 1)}
	p, err := numbers.New(numbers.Config{CallsToken: "tok", Pools: []numbers.PoolConfig{
		{ID: "plain", Numbers: []string{"+18005550110"}},
		{ID: "ext", Extensions: []numbers.ExtensionRange{{Number: "+18005550120", From: 100, To: 101}}},
	}}, &pub, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	now := time.Now()
	var dnis string
	for idx := range 2 {
		r, ok := p.Reserve(idx, &numbers.Claim{CampaignID: "mortgage-refi", PublisherID: "pub-1", SiteOrApp: "site-42",
			Exchange: "demo", RequestID: "req-1", ImpID: "1", BidID: "b-1", Skill: "mortgage", PriceMicros: 12_500_000,
			IPHash: 1<<63 + 7}, now)
		if !ok {
			t.Fatalf("pool %d: no number", idx)
		}
		p.Win(r.Ref, false, now)
		if idx == 0 {
			dnis = r.E164
		}
	}
	// A call to the plain number: attribution, and the lease ends (cooldown).
	if err := p.HandleCallEvent(&events.Call{CallID: "c-1", EventType: events.CallOffered, DNIS: dnis, ANI: "+14155550188", OccurredAt: now}); err != nil {
		t.Fatal(err)
	}
	select { // published from Run's goroutine
	case <-pub.attributed:
	case <-time.After(10 * time.Second):
		t.Fatal("no attribution published within 10s")
	}
	p.Sweep(now.Add(2 * time.Hour)) // leases and cooldowns over: free records

	states := map[string]int{}
	for _, v := range pub.topic(events.TopicLeases) {
		if err := docs.StrictValidate("lease", v); err != nil {
			t.Error(err)
		}
		var rec struct{ St string }
		_ = json.Unmarshal(v, &rec)
		states[rec.St]++
	}
	t.Logf("lease records by state: %v", states)
	for _, st := range []string{"leased", "cooldown", "free"} {
		if states[st] == 0 {
			t.Errorf("no %q lease record among %v: the test did not exercise it", st, states)
		}
	}
	for _, v := range pub.topic(events.TopicAttribution) {
		if err := docs.StrictValidate("attribution", v); err != nil {
			t.Error(err)
		}
	}
}
