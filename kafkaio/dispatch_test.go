package kafkaio

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// syncBuffer is a log sink written by the consumer's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A record consumer over the broker: bad records are skipped, counted in
// callbid_events_bad_total{topic,reason} and logged once per 10 s with
// topic, partition, offset and reason; good ones reach the handlers once,
// typed, each handler seeing the same value.
func TestRecordConsumerCountsAndLogsBadRecords(t *testing.T) {
	e := startBroker(t, "127.0.0.1:0", "")
	defer e.Close()
	cfg := testConfig(e.Addr())
	p := NewProducer(cfg, zerolog.Nop())
	good := `{"call_id":"ok-1","disposition":"SALE","is_final":true,"occurred_at":"2026-11-23T12:00:00Z"}`
	for _, v := range []string{
		good,
		`{"call_id":"bad-1","disposition":"MAYBE","occurred_at":"2026-11-23T12:00:00Z"}`,
		`{"call_id":"bad-2","disposition":"SALE","occurred_at":"9999-01-01T00:00:00Z"}`,
		`not json`,
		"\x00\x00\x00\x00\x01" + strings.Replace(good, "ok-1", "ok-2", 1),
	} {
		if !p.Publish(events.TopicOutcome, []byte("k"), []byte(v)) { // one key: one partition, in order
			t.Fatal("dropped")
		}
	}
	closeProducer(t, p)

	var logs syncBuffer
	var mu sync.Mutex
	var a, b []string
	c := NewRecordConsumer[events.Outcome](cfg, zerolog.New(&logs),
		func(o *events.Outcome) error { mu.Lock(); a = append(a, o.CallID); mu.Unlock(); return nil },
		func(o *events.Outcome) error { mu.Lock(); b = append(b, o.CallID); mu.Unlock(); return nil })
	reg := prometheus.NewRegistry()
	if err := c.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	waitFor(t, 10*time.Second, "caught up", c.CaughtUp)
	cancel()
	<-done

	mu.Lock()
	if strings.Join(a, ",") != "ok-1,ok-2" || strings.Join(b, ",") != "ok-1,ok-2" {
		t.Errorf("handlers saw %v and %v, want ok-1,ok-2 each", a, b)
	}
	mu.Unlock()
	if c.Topic() != events.TopicOutcome {
		t.Errorf("topic %q", c.Topic())
	}
	want := map[string]float64{events.ReasonUnknownDisposition: 1, events.ReasonFutureTime: 1, events.ReasonMalformedJSON: 1}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "callbid_events_bad_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["topic"] != events.TopicOutcome {
				t.Errorf("labels %v", labels)
			}
			got[labels["reason"]] = m.GetCounter().GetValue()
		}
	}
	for r, n := range want {
		if got[r] != n {
			t.Errorf("callbid_events_bad_total{topic=%q,reason=%q} = %v, want %v (all %v)", events.TopicOutcome, r, got[r], n, got)
		}
	}
	if br := c.BadRecords(); len(br) != 3 || br[events.ReasonFutureTime] != 1 {
		t.Errorf("BadRecords %v", br)
	}
	if st := c.Stats(); st.Bad != 3 || st.Messages != 5 {
		t.Errorf("stats %+v", st)
	}
	// One warn line (the next two are suppressed within 10 s), naming where.
	var line map[string]any
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	n := 0
	for _, l := range lines {
		if strings.Contains(l, "bad Kafka record skipped") {
			n++
			if err := json.Unmarshal([]byte(l), &line); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n != 1 || line["topic"] != events.TopicOutcome || line["reason"] != events.ReasonUnknownDisposition ||
		line["partition"] == nil || line["offset"] != float64(1) || line["level"] != "warn" {
		t.Errorf("%d warn lines, last %v\n%s", n, line, logs.String())
	}
}

// A missing occurred_at is the record's Kafka timestamp, for every handler.
func TestDispatchMissingTimeFromRecord(t *testing.T) {
	written := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	var got time.Time
	d := NewDispatch[events.Call](Config{}, func(c *events.Call) error { got = c.OccurredAt; return nil })
	if err := d(Message{Value: []byte(`{"call_id":"c","event_type":"OFFERED"}`), Time: written}); err != nil {
		t.Fatal(err)
	}
	if !got.Equal(written) {
		t.Fatalf("occurred_at %v, want the record time %v", got, written)
	}
	// kafka-go reports a record without a timestamp as 1969: no time.
	err := d(Message{Value: []byte(`{"call_id":"c","event_type":"OFFERED"}`), Time: time.UnixMilli(-1)})
	if events.Reason(err) != events.ReasonMissingTime {
		t.Fatalf("no timestamp anywhere: %v", err)
	}
}

// One decode, every handler in order; a handler's bad record stops the rest.
func TestDispatchHandsOneValueToEveryHandler(t *testing.T) {
	var seen []string
	h := func(name string, err error) func(*events.Outcome) error {
		return func(o *events.Outcome) error { seen = append(seen, name+":"+o.CallID); return err }
	}
	d := NewDispatch[events.Outcome](Config{}, h("a", nil), h("b", events.Bad(events.ReasonOther, "no")), h("c", nil))
	err := d(Message{Value: []byte(`{"call_id":"k","disposition":"SALE","occurred_at":"2026-11-23T12:00:00Z"}`)})
	if events.Reason(err) != events.ReasonOther || strings.Join(seen, ",") != "a:k,b:k" {
		t.Fatalf("err %v seen %v", err, seen)
	}
}
