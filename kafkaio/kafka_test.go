package kafkaio

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// testConfig is tuned for fast failure detection against a local broker.
func testConfig(addr string) Config {
	return Config{
		Brokers:         []string{addr},
		DialTimeout:     300 * time.Millisecond,
		RequestTimeout:  2 * time.Second,
		MaxWait:         100 * time.Millisecond,
		BatchTimeout:    2 * time.Millisecond,
		RetryBackoffMin: 10 * time.Millisecond,
		RetryBackoffMax: 200 * time.Millisecond,
	}
}

func startBroker(t testing.TB, listen, dataDir string) *testBroker {
	t.Helper()
	return startEmbedded(t, EmbeddedConfig{Enabled: true, Listen: listen, Partitions: 3, DataDir: dataDir}, events.AllTopics)
}

func freePort(t *testing.T) string {
	t.Helper()
	// Tests stop a broker and start it again on the same address, so the
	// port is picked below the kernel's ephemeral range (32768+ on Linux):
	// there no outgoing connection of a parallel test can take it while the
	// broker is down.
	for range 200 {
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(20000+rand.IntN(12000)))
		if err != nil {
			continue
		}
		addr := ln.Addr().String()
		ln.Close()
		return addr
	}
	t.Fatal("no free port below the ephemeral range")
	return ""
}

// collector records what a consumer's handler saw.
type collector struct {
	mu       sync.Mutex
	byKey    map[string]int
	lastOff  map[int]int64
	count    int
	disorder int
}

func newCollector() *collector {
	return &collector{byKey: map[string]int{}, lastOff: map[int]int64{}}
}

func (c *collector) handle(m Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if last, ok := c.lastOff[m.Partition]; ok && m.Offset <= last {
		c.disorder++
	}
	c.lastOff[m.Partition] = m.Offset
	c.byKey[string(m.Key)+"="+string(m.Value)]++
	c.count++
}

func (c *collector) n() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.count
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func runConsumer(t *testing.T, cfg Config, topic string, h func(Message)) *Consumer {
	t.Helper()
	c := NewConsumer(cfg, topic, h, testLog)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("consumer Run did not return after cancel")
		}
	})
	return c
}

func closeProducer(t *testing.T, p *Producer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Errorf("producer close: %v", err)
	}
}

func publishN(t *testing.T, p *Producer, topic string, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if !p.Publish(topic, []byte("agent-"+strconv.Itoa(i%37)), []byte(strconv.Itoa(i))) {
			t.Fatalf("publish %d dropped", i)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	e := startBroker(t, "127.0.0.1:0", "")
	defer e.Close()
	cfg := testConfig(e.Addr())
	p := NewProducer(cfg, zerolog.Nop())
	col := newCollector()
	c := runConsumer(t, cfg, events.TopicAgentState, col.handle)
	waitFor(t, 5*time.Second, "caught up on an empty topic", c.CaughtUp)

	publishN(t, p, events.TopicAgentState, 0, 200)
	waitFor(t, 5*time.Second, "200 records consumed", func() bool { return col.n() == 200 })
	closeProducer(t, p)

	for i := range 200 {
		k := "agent-" + strconv.Itoa(i%37) + "=" + strconv.Itoa(i)
		if col.byKey[k] != 1 {
			t.Errorf("record %q seen %d times, want 1", k, col.byKey[k])
		}
	}
	if col.disorder != 0 {
		t.Errorf("%d records out of offset order", col.disorder)
	}
	// Same key, same partition: Murmur2 keeps per-agent order.
	if len(col.lastOff) < 2 {
		t.Errorf("records landed on %d partitions; expected the key hash to spread them", len(col.lastOff))
	}
	st := c.Stats()
	if st.Messages != 200 || st.Bytes == 0 || st.Lag != 0 {
		t.Errorf("stats %+v, want 200 messages, bytes > 0, lag 0", st)
	}
	if c.LastMessageAt().IsZero() {
		t.Error("LastMessageAt is zero after messages")
	}
	if ps := p.Stats(); ps.Written != 200 || ps.DroppedFull != 0 {
		t.Errorf("producer stats %+v, want 200 written, none dropped", ps)
	}
}

func TestReplayCaughtUp(t *testing.T) {
	e := startBroker(t, "127.0.0.1:0", "")
	defer e.Close()
	cfg := testConfig(e.Addr())
	p := NewProducer(cfg, zerolog.Nop())
	publishN(t, p, events.TopicCall, 0, 3000)
	closeProducer(t, p)

	// CaughtUp must not turn true before every record present at start has
	// been handled.
	col := newCollector()
	var cp atomic.Pointer[Consumer]
	var early atomic.Bool
	started := make(chan struct{})
	c := runConsumer(t, cfg, events.TopicCall, func(m Message) {
		<-started
		if cp.Load().CaughtUp() {
			early.Store(true)
		}
		col.handle(m)
	})
	cp.Store(c)
	close(started)
	waitFor(t, 5*time.Second, "caught up", c.CaughtUp)
	if n := col.n(); n != 3000 {
		t.Fatalf("caught up after %d records, want 3000", n)
	}
	if early.Load() {
		t.Error("CaughtUp was true while replayed records were still being handled")
	}
	if col.disorder != 0 {
		t.Errorf("%d records out of offset order", col.disorder)
	}
}

func TestBrokerDownAtStart(t *testing.T) {
	addr := freePort(t)
	cfg := testConfig(addr)
	col := newCollector()
	c := runConsumer(t, cfg, events.TopicAgentState, col.handle)
	p := NewProducer(cfg, zerolog.Nop())
	publishN(t, p, events.TopicAgentState, 0, 50) // held in the queue while the broker is down

	waitFor(t, 10*time.Second, "an error counted while the broker is down", func() bool { return c.Stats().Errors > 0 })
	if c.CaughtUp() {
		t.Fatal("CaughtUp with no broker")
	}
	e := startBroker(t, addr, "")
	defer e.Close()
	waitFor(t, 10*time.Second, "50 records after the broker appeared", func() bool { return col.n() == 50 })
	waitFor(t, time.Second, "caught up", c.CaughtUp)
	closeProducer(t, p)
	if c.Stats().Reconnects == 0 {
		t.Error("no reconnect counted")
	}
}

func TestBrokerRestart(t *testing.T) {
	dir := t.TempDir()
	e := startBroker(t, "127.0.0.1:0", dir)
	addr := e.Addr()
	cfg := testConfig(addr)
	col := newCollector()
	c := runConsumer(t, cfg, events.TopicAgentState, col.handle)
	p := NewProducer(cfg, zerolog.Nop())
	publishN(t, p, events.TopicAgentState, 0, 100)
	waitFor(t, 5*time.Second, "first 100 records", func() bool { return col.n() == 100 })

	e.Close()
	publishN(t, p, events.TopicAgentState, 100, 200)
	waitFor(t, 10*time.Second, "a write error while the broker is down", func() bool { return p.Stats().WriteErrors > 0 })
	e2 := startBroker(t, addr, dir)
	defer e2.Close()

	waitFor(t, 10*time.Second, "records 100-199 after the restart", func() bool {
		col.mu.Lock()
		defer col.mu.Unlock()
		for i := 100; i < 200; i++ {
			if col.byKey["agent-"+strconv.Itoa(i%37)+"="+strconv.Itoa(i)] == 0 {
				return false
			}
		}
		return true
	})
	closeProducer(t, p)
	dups := 0
	for _, n := range col.byKey {
		dups += n - 1
	}
	if dups != 0 {
		t.Errorf("%d duplicate records across the restart", dups)
	}
	if c.Stats().Reconnects == 0 {
		t.Error("consumer counted no reconnect")
	}
	if p.Stats().WriteErrors == 0 {
		t.Error("producer counted no write error while the broker was down")
	}
}

func TestTopicAppearsLater(t *testing.T) {
	e := startEmbedded(t, EmbeddedConfig{Enabled: true, Partitions: 2}, nil)
	defer e.Close()
	cfg := testConfig(e.Addr())
	col := newCollector()
	c := runConsumer(t, cfg, "late.topic", col.handle)
	waitFor(t, 10*time.Second, "a failed discovery while the topic is missing", func() bool { return c.Stats().Errors > 0 })
	if c.CaughtUp() {
		t.Fatal("CaughtUp before the topic exists")
	}
	if err := EnsureTopics(context.Background(), cfg, "late.topic"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "caught up once the topic exists", c.CaughtUp)
	p := NewProducer(cfg, zerolog.Nop())
	publishN(t, p, "late.topic", 0, 10)
	waitFor(t, 5*time.Second, "10 records", func() bool { return col.n() == 10 })
	closeProducer(t, p)
}

func TestProducerQueueFull(t *testing.T) {
	cfg := testConfig(freePort(t))
	cfg.QueueSize = 10
	cfg.BatchSize = 5
	p := NewProducer(cfg, zerolog.Nop())
	accepted := 0
	for i := range 100 {
		if p.Publish(events.TopicCall, []byte("k"), []byte(fmt.Sprint(i))) {
			accepted++
		}
	}
	st := p.Stats()
	// The queue holds 10 and the writer goroutine may hold one batch of 5.
	if accepted < 10 || accepted > 15 {
		t.Errorf("accepted %d of 100 with queue_size 10 and batch_size 5", accepted)
	}
	if st.DroppedFull != uint64(100-accepted) {
		t.Errorf("DroppedFull = %d, want %d", st.DroppedFull, 100-accepted)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := p.Close(ctx); err == nil {
		t.Error("Close with the broker down returned no error")
	}
	if p.Publish(events.TopicCall, nil, []byte("x")) {
		t.Error("Publish after Close accepted")
	}
	st = p.Stats()
	if st.Written != 0 || st.DroppedClosed != uint64(accepted)+1 {
		t.Errorf("after close: %+v, want nothing written and %d dropped as closed", st, accepted+1)
	}
}

var testLog = zerolog.Nop()

// A broker that comes back without its log (in-memory kfake) puts the
// consumer's next offset past the end; it resumes at the first offset.
func TestBrokerLostItsLog(t *testing.T) {
	e := startBroker(t, "127.0.0.1:0", "")
	addr := e.Addr()
	cfg := testConfig(addr)
	col := newCollector()
	c := runConsumer(t, cfg, events.TopicAgentState, col.handle)
	p := NewProducer(cfg, zerolog.Nop())
	publishN(t, p, events.TopicAgentState, 0, 60)
	waitFor(t, 5*time.Second, "60 records", func() bool { return col.n() == 60 })
	e.Close()
	e2 := startBroker(t, addr, "")
	defer e2.Close()
	publishN(t, p, events.TopicAgentState, 1000, 1010)
	waitFor(t, 10*time.Second, "10 records on the fresh broker", func() bool { return col.n() == 70 })
	closeProducer(t, p)
	if !c.CaughtUp() {
		t.Error("CaughtUp went false")
	}
}

func TestRegisterMetrics(t *testing.T) {
	e := startBroker(t, "127.0.0.1:0", "")
	defer e.Close()
	cfg := testConfig(e.Addr())
	reg := prometheus.NewRegistry()
	p := NewProducer(cfg, zerolog.Nop())
	c1 := NewConsumer(cfg, events.TopicAgentState, func(Message) {}, zerolog.Nop())
	c2 := NewConsumer(cfg, events.TopicCall, func(Message) {}, zerolog.Nop())
	for _, r := range []interface {
		RegisterMetrics(prometheus.Registerer) error
	}{p, c1, c2} {
		if err := r.RegisterMetrics(reg); err != nil {
			t.Fatal(err)
		}
	}
	p.Publish(events.TopicCall, nil, []byte("x"))
	closeProducer(t, p)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, mf := range mfs {
		got[mf.GetName()] = len(mf.GetMetric())
	}
	if got["callbid_events_consumer_messages_total"] != 2 || got["callbid_events_producer_dropped_total"] != 3 ||
		got["callbid_events_producer_written_total"] != 1 || got["callbid_events_consumer_lag"] != 2 {
		t.Errorf("metrics %v", got)
	}
}

// A broker that accepts connections and never answers must not hold Close
// beyond its ctx.
func TestProducerCloseWithBlackholedBroker(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 1)
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
			select {
			case accepted <- struct{}{}:
			default:
			}
		}
	}()
	cfg := testConfig(ln.Addr().String())
	cfg.RequestTimeout = 30 * time.Second
	p := NewProducer(cfg, zerolog.Nop())
	p.Publish(events.TopicCall, []byte("k"), []byte("v"))
	<-accepted // the producer is talking to the broker that never answers
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := p.Close(ctx); err == nil {
		t.Error("Close reported success with nothing written")
	}
	// Close must return on its ctx, not on the 30 s request timeout; the
	// margin is wide so that a loaded machine does not fail it.
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("Close took %s with a 200ms ctx", d)
	}
	if st := p.Stats(); st.DroppedClosed != 1 {
		t.Errorf("stats %+v, want the record dropped as closed", st)
	}
}
