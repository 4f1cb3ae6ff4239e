package reports

import (
	"sync"
	"testing"
	"time"

	"github.com/callbid/callbid/channel"
	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/kafkaio"
	"github.com/rs/zerolog"
)

type capPub struct {
	mu   sync.Mutex
	msgs []kafkaio.Message
}

func (p *capPub) Publish(topic string, key, value []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, kafkaio.Message{Topic: topic, Key: key, Value: value})
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

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func newTest(t *testing.T, cfg Config) (*Reports, *capPub, *time.Time) {
	t.Helper()
	pub := &capPub{}
	now := t0
	r, err := New(cfg, pub, nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	r.SetClock(func() time.Time { return now })
	r.SetSkills([]string{"mortgage"})
	return r, pub, &now
}

// TestBidCountersSurviveRestart: bids and matching requests counted on the
// bid path come back in a new process by replaying callbid.bids.v1, in the
// report, the totals and the open demand interval; a process following the
// topic live does not count its own records twice.
func TestBidCountersSurviveRestart(t *testing.T) {
	cfg := Config{DemandInterval: time.Hour}
	f1, pub, now := newTest(t, cfg)
	f1.Tick(*now) // open the demand interval, as the feed's Run does
	at := now.Add(10 * time.Minute)
	for i := range 30 {
		f1.Seen("mortgage", at.UnixNano())
		pubID := "pub-1"
		if i%3 == 0 {
			pubID = "pub-2"
		}
		f1.Bid(Key{Hour: at.Unix() / 3600, Campaign: "c1", Publisher: pubID, Exchange: "ex-a"}, "mortgage", 0, 0, at.UnixNano())
	}
	for range 12 {
		f1.Seen("mortgage", at.UnixNano()) // seen, not bid
	}
	f1.Flush(at)
	f1.Flush(at) // nothing new: nothing published
	msgs := pub.topic(events.TopicBids)
	if len(msgs) != 1 {
		t.Fatalf("%d tally records published, want 1", len(msgs))
	}

	// Following its own topic live changes nothing.
	for _, m := range msgs {
		f1.HandleBids(m)
	}
	want, err := f1.Report(Query{GroupBy: "publisher"})
	if err != nil {
		t.Fatal(err)
	}
	if seen, bids := f1.Totals(); bids != 30 || seen != 42 || want.Total.Bids != 30 {
		t.Fatalf("own records counted twice: bids %d seen %d, report bids %d", bids, seen, want.Total.Bids)
	}

	// A new process replays the topic before its first demand tick.
	f2, _, now2 := newTest(t, cfg)
	*now2 = at.Add(time.Minute)
	for _, m := range msgs {
		f2.HandleBids(m)
	}
	f2.HandleBids(kafkaio.Message{Topic: events.TopicBids, Value: []byte("{not json")})
	f2.mu.Lock()
	f2.demandLocked(*now2)
	seen, bids := f2.demand.acc["mortgage"].seen, f2.demand.acc["mortgage"].bids
	f2.mu.Unlock()
	got, err := f2.Report(Query{GroupBy: "publisher"})
	if err != nil {
		t.Fatal(err)
	}
	if s, b := f2.Totals(); b != 30 || s != 42 {
		t.Errorf("after replay: bids %d seen %d, want 30 and 42", b, s)
	}
	if seen != 42 || bids != 30 {
		t.Errorf("after replay: open demand interval seen %d bids %d, want 42 and 30", seen, bids)
	}
	if len(got.Rows) != len(want.Rows) || got.Total.Bids != want.Total.Bids {
		t.Fatalf("report after replay %+v, want %+v", got.Rows, want.Rows)
	}
	for i := range want.Rows {
		if got.Rows[i].Key != want.Rows[i].Key || got.Rows[i].Bids != want.Rows[i].Bids {
			t.Errorf("row %d: %s %d bids, want %s %d", i, got.Rows[i].Key, got.Rows[i].Bids, want.Rows[i].Key, want.Rows[i].Bids)
		}
	}
	if m := f2.Malformed(); m["bad_json"] != 1 {
		t.Errorf("malformed tally not counted: %v", m)
	}
}

// TestCallsAreUpserts: a call's contribution replaced by a new one (sign
// −1 then +1) leaves the row with only the new one.
func TestCallsAreUpserts(t *testing.T) {
	r, _, now := newTest(t, Config{})
	k := Key{Hour: now.Unix() / 3600, Campaign: "c1", Publisher: "p1", Exchange: "x1"}
	r.Win(k, "mortgage", 4_000_000, "USD", *now, 0.05, 0.02)
	first := Call{Calls: 1}
	r.AddCall(k, first, 1)
	sale := Call{Calls: 1, Qualified: 1, Sales: 1, Revenue: 90_000_000}
	r.AddCall(k, first, -1)
	r.AddCall(k, sale, 1)
	v, err := r.Report(Query{GroupBy: "campaign"})
	if err != nil {
		t.Fatal(err)
	}
	if tot := v.Total; tot.Wins != 1 || tot.Calls != 1 || tot.QualifiedCalls != 1 || tot.Sales != 1 || tot.Revenue != 90 || tot.Spend != 0.004 || v.Currency != "USD" {
		t.Fatalf("total %+v currency %q", tot, v.Currency)
	}
}

// A chat invitation's bids are their own tally rows and come back as
// chat rows in another process; rows without a channel are calls.
func TestTallyKeepsChannels(t *testing.T) {
	f1, pub, now := newTest(t, Config{DemandInterval: time.Hour})
	k := Key{Hour: now.Unix() / 3600, Campaign: "c", Publisher: "p", Exchange: "x"}
	f1.Bid(k, "mortgage", 0, 0, now.UnixNano())
	k.Channel = channel.Chat
	f1.Bid(k, "mortgage", 0, 0, now.UnixNano())
	f1.Bid(k, "mortgage", 0, 0, now.UnixNano())
	f1.Flush(*now)
	f2, _, _ := newTest(t, Config{DemandInterval: time.Hour})
	for _, m := range pub.topic(events.TopicBids) {
		f2.HandleBids(m)
	}
	rep, err := f2.Report(Query{GroupBy: "channel"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != 2 || rep.Rows[0].Key != "chat" || rep.Rows[0].Bids != 2 || rep.Rows[1].Key != "voice" || rep.Rows[1].Bids != 1 {
		t.Fatalf("replayed rows by channel %+v, want chat 2 bids, voice 1", rep.Rows)
	}
}
