package events

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

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
		if !p.Publish(TopicOutcome, []byte("k"), []byte(v)) { // one key: one partition, in order
			t.Fatal("dropped")
		}
	}
	closeProducer(t, p)

	var logs syncBuffer
	var mu sync.Mutex
	var a, b []string
	c := NewRecordConsumer[Outcome](cfg, zerolog.New(&logs),
		func(o *Outcome) error { mu.Lock(); a = append(a, o.CallID); mu.Unlock(); return nil },
		func(o *Outcome) error { mu.Lock(); b = append(b, o.CallID); mu.Unlock(); return nil })
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
	if c.Topic() != TopicOutcome {
		t.Errorf("topic %q", c.Topic())
	}
	want := map[string]float64{ReasonUnknownDisposition: 1, ReasonFutureTime: 1, ReasonMalformedJSON: 1}
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
			if labels["topic"] != TopicOutcome {
				t.Errorf("labels %v", labels)
			}
			got[labels["reason"]] = m.GetCounter().GetValue()
		}
	}
	for r, n := range want {
		if got[r] != n {
			t.Errorf("callbid_events_bad_total{topic=%q,reason=%q} = %v, want %v (all %v)", TopicOutcome, r, got[r], n, got)
		}
	}
	if br := c.BadRecords(); len(br) != 3 || br[ReasonFutureTime] != 1 {
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
	if n != 1 || line["topic"] != TopicOutcome || line["reason"] != ReasonUnknownDisposition ||
		line["partition"] == nil || line["offset"] != float64(1) || line["level"] != "warn" {
		t.Errorf("%d warn lines, last %v\n%s", n, line, logs.String())
	}
}
