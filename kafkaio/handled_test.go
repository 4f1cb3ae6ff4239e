package kafkaio

import (
	"context"
	"testing"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/rs/zerolog"
)

// TestHandledUpToEndOffsets: Handled turns true for a partition only once
// the handler has had every record below the end offset EndOffsets listed
// (numbers/gained.go waits on it before reserving a gained partition).
func TestHandledUpToEndOffsets(t *testing.T) {
	e := startBroker(t, "127.0.0.1:0", "")
	defer e.Close()
	cfg := testConfig(e.Addr())
	p := NewProducer(cfg, zerolog.Nop())
	publishN(t, p, events.TopicCall, 0, 300)
	closeProducer(t, p)

	col := newCollector()
	gate := make(chan struct{})
	c := runConsumer(t, cfg, events.TopicCall, func(m Message) {
		<-gate
		col.handle(m)
	})
	ids := []int{0, 1, 2}
	var ends map[int]int64
	waitFor(t, 5*time.Second, "end offsets", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		var err error
		ends, err = c.EndOffsets(ctx, ids)
		return err == nil
	})
	var total int64
	for _, k := range ids {
		total += ends[k]
		if ends[k] > 0 && c.Handled(k, ends[k]) {
			t.Errorf("partition %d handled up to %d while the handler has had nothing", k, ends[k])
		}
	}
	if total != 300 {
		t.Fatalf("end offsets %v, want 300 records in all", ends)
	}
	close(gate)
	for _, k := range ids {
		waitFor(t, 5*time.Second, "partition handled", func() bool { return c.Handled(k, ends[k]) })
		col.mu.Lock()
		last, ok := col.lastOff[k]
		col.mu.Unlock()
		if ends[k] > 0 && (!ok || last != ends[k]-1) {
			t.Errorf("partition %d: Handled up to %d with the last handled record at %d", k, ends[k], last)
		}
	}
	if _, err := c.EndOffsets(context.Background(), []int{7}); err == nil {
		t.Error("an end offset for a partition the topic does not have")
	}
}
