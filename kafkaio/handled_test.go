package kafkaio

import (
	"context"
	"errors"
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

// TestWaitHandled: WaitHandled blocks while the handler holds the records
// back and returns once they are handled, woken by the dispatcher (no
// polling); it gives up when its context ends or Run returns, and it may
// be called before Run has found the partitions.
func TestWaitHandled(t *testing.T) {
	e := startBroker(t, "127.0.0.1:0", "")
	defer e.Close()
	cfg := testConfig(e.Addr())
	p := NewProducer(cfg, zerolog.Nop())
	publishN(t, p, events.TopicCall, 0, 300)
	closeProducer(t, p)

	gate := make(chan struct{})
	c := NewConsumer(cfg, events.TopicCall, func(Message) { <-gate }, zerolog.Nop())
	// Called before Run: it waits for the partitions to be found.
	early := make(chan error, 1)
	go func() { early <- c.WaitHandled(context.Background(), 0, 1) }()
	ctx, stop := context.WithCancel(context.Background())
	runDone := make(chan struct{})
	go func() { c.Run(ctx); close(runDone) }()
	defer func() { stop(); <-runDone }()

	var ends map[int]int64
	for ends == nil {
		lctx, cancel := context.WithTimeout(context.Background(), time.Second)
		ends, _ = c.EndOffsets(lctx, []int{0, 1, 2})
		cancel()
	}
	k := 0
	for ends[k] == 0 {
		k++
	}
	// A wait that ends with its context while the handler is held.
	cctx, cancel := context.WithCancel(context.Background())
	cancelled := make(chan error, 1)
	go func() { cancelled <- c.WaitHandled(cctx, k, ends[k]) }()
	cancel()
	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled wait: %v", err)
	}
	waits := make(chan error, len(ends))
	for id, end := range ends {
		go func() { waits <- c.WaitHandled(context.Background(), id, end) }()
	}
	select {
	case err := <-waits:
		t.Fatalf("a wait returned (%v) while the handler had not had the records", err)
	case err := <-early:
		t.Fatalf("the early wait returned (%v) while the handler had not had the records", err)
	default:
	}
	close(gate)
	for range ends {
		if err := <-waits; err != nil {
			t.Error(err)
		}
	}
	for id, end := range ends {
		if !c.Handled(id, end) {
			t.Errorf("partition %d: WaitHandled returned before Handled up to %d", id, end)
		}
	}
	if err := <-early; err != nil {
		t.Error(err)
	}
	if err := c.WaitHandled(context.Background(), 7, 1); err == nil {
		t.Error("a wait for a partition the topic does not have")
	}
	// Run returns: a wait for records that will never come ends.
	stopped := make(chan error, 1)
	go func() { stopped <- c.WaitHandled(context.Background(), k, ends[k]+1000) }()
	stop()
	<-runDone
	if err := <-stopped; !errors.Is(err, ErrConsumerStopped) {
		t.Errorf("a wait when Run returned: %v", err)
	}
}
