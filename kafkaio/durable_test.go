package kafkaio

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/callbid/callbid/events"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kfake"
)

// TestLeasesFlowWithATopicMissing: on a cluster without auto-create where
// one of callbid's topics does not exist, records of that topic fail (and
// say so) while lease records are written and acknowledged, each in order.
func TestLeasesFlowWithATopicMissing(t *testing.T) {
	c := leaseCluster(t, 3)
	cfg := testConfig(c.ListenAddrs()[0])
	p := NewProducer(cfg, zerolog.Nop())
	col := newCollector()
	cons := runConsumer(t, cfg, events.TopicLeases, col.handle)
	waitFor(t, 5*time.Second, "caught up on the lease log", cons.CaughtUp)

	// The missing topic first, so a shared queue would put it ahead.
	for i := range 50 {
		if !p.Publish(events.TopicBids, []byte("k"), []byte(strconv.Itoa(i))) {
			t.Fatal("bids record dropped")
		}
	}
	d := p.Durable(events.TopicLeases)
	if d == nil {
		t.Fatal("no durable lane for the lease log")
	}
	var last uint64
	for i := range 200 {
		last = d.Append([]byte("+1800555"+strconv.Itoa(1000+i%20)), []byte(strconv.Itoa(i)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Wait(ctx, last); err != nil {
		t.Fatalf("lease records not acknowledged while %s is missing: %v", events.TopicBids, err)
	}
	if !d.Acked(1) || !d.Acked(last) || d.Acked(last+1) {
		t.Errorf("Acked: 1=%v last=%v last+1=%v", d.Acked(1), d.Acked(last), d.Acked(last+1))
	}
	waitFor(t, 5*time.Second, "200 lease records consumed", func() bool { return col.n() == 200 })
	if col.disorder != 0 {
		t.Errorf("%d lease records out of order", col.disorder)
	}
	waitFor(t, 10*time.Second, "the missing topic reported as failing", func() bool {
		_, failing := p.Stats().Failing[events.TopicBids]
		return failing
	})
	if h := d.Health(time.Now()); h.Pending != 0 || h.Failing || h.Oldest != 0 {
		t.Errorf("lease lane health %+v, want nothing pending", h)
	}
	if got := p.FailingTopics(); len(got) != 1 {
		t.Errorf("FailingTopics = %q, want only %s", got, events.TopicBids)
	}

	// The operator creates the topic: its records follow.
	if err := c.CreateTopic(events.TopicBids, 1, nil); err != nil {
		t.Fatal(err)
	}
	bids := newCollector()
	runConsumer(t, cfg, events.TopicBids, bids.handle)
	waitFor(t, 20*time.Second, "the 50 held bids records", func() bool { return bids.n() == 50 })
	closeProducer(t, p)
}

// TestDurableNeverDropsAndWaitsOutAnOutage: with the broker down, a durable
// lane keeps every record however many (no queue bound), reports the age of
// the oldest and the failure, and writes them all once a broker is back.
func TestDurableNeverDropsAndWaitsOutAnOutage(t *testing.T) {
	addr := freePort(t)
	cfg := testConfig(addr)
	cfg.QueueSize = 10
	p := NewProducer(cfg, zerolog.Nop())
	d := p.Durable(events.TopicLeases)
	var last uint64
	for i := range 100 { // ten times the droppable queue bound
		last = d.Append([]byte("k"+strconv.Itoa(i%7)), []byte(strconv.Itoa(i)))
	}
	waitFor(t, 10*time.Second, "the lane to report the failed write", func() bool { return d.Health(time.Now()).Failing })
	h := d.Health(time.Now())
	if h.Pending != 100 || h.Oldest <= 0 || h.LastError == "" {
		t.Fatalf("health during the outage %+v", h)
	}
	short, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	err := d.Wait(short, last)
	cancel()
	if err == nil {
		t.Fatal("Wait returned nil with the broker down")
	}
	e := startBroker(t, addr, "")
	defer e.Close()
	col := newCollector()
	runConsumer(t, cfg, events.TopicLeases, col.handle)
	ctx, cancel2 := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel2()
	if err := d.Wait(ctx, last); err != nil {
		t.Fatalf("after the broker came back: %v", err)
	}
	waitFor(t, 10*time.Second, "100 records consumed", func() bool { return col.n() == 100 })
	// The lease topic's partition count is known once the broker answers
	// (numbers batches holds by partition with it).
	waitFor(t, 10*time.Second, "the partition count", func() bool { return d.Partitions() > 0 })
	if st := p.Stats(); st.DroppedFull != 0 || st.DroppedClosed != 0 {
		t.Errorf("stats %+v: durable records dropped", st)
	}
	closeProducer(t, p)
	if d.Append([]byte("k"), []byte("late")) != 0 {
		t.Error("Append after Close accepted a record")
	}
}

// TestDurableOneRequestForAllPartitions: a durable lane sends a batch that
// spans partitions in one produce request per leader, each record in the
// partition Partitioner names, in order per partition; a partition's share
// over batch_bytes goes in the next request; a failed request is sent
// again and every record lands exactly once.
func TestDurableOneRequestForAllPartitions(t *testing.T) {
	c := leaseCluster(t, 4)
	var produces, perRequest atomic.Int64
	failOnce := atomic.Bool{}
	failOnce.Store(true)
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		pr := req.(*kmsg.ProduceRequest)
		produces.Add(1)
		n := 0
		for _, tp := range pr.Topics {
			n += len(tp.Partitions)
		}
		perRequest.Store(max(perRequest.Load(), int64(n)))
		if !failOnce.Swap(false) {
			return nil, nil, false
		}
		// The first request fails for every partition: nothing written.
		resp := pr.ResponseKind().(*kmsg.ProduceResponse)
		for _, tp := range pr.Topics {
			rt := kmsg.NewProduceResponseTopic()
			rt.Topic = tp.Topic
			for _, pp := range tp.Partitions {
				rp := kmsg.NewProduceResponseTopicPartition()
				rp.Partition = pp.Partition
				rp.ErrorCode = 6 // NOT_LEADER_FOR_PARTITION: retriable
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil, true
	})
	cfg := testConfig(c.ListenAddrs()[0])
	cfg.BatchBytes = 2000 // about 20 of these records per partition and request
	cfg.BatchTimeout = 20 * time.Millisecond
	p := NewProducer(cfg, zerolog.Nop())
	d := p.Durable(events.TopicLeases)

	type rec struct {
		part int
		off  int64
		val  int
	}
	var mu sync.Mutex
	got := map[string][]rec{}
	cons := runConsumer(t, cfg, events.TopicLeases, func(m Message) {
		v, _ := strconv.Atoi(string(m.Value))
		mu.Lock()
		got[string(m.Key)] = append(got[string(m.Key)], rec{m.Partition, m.Offset, v})
		mu.Unlock()
	})
	waitFor(t, 5*time.Second, "caught up on the lease log", cons.CaughtUp)
	const n = 400
	var last uint64
	for i := range n {
		last = d.Append([]byte("+1800555"+strconv.Itoa(1000+i%40)), []byte(strconv.Itoa(i)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Wait(ctx, last); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "every record consumed", func() bool {
		mu.Lock()
		defer mu.Unlock()
		k := 0
		for _, v := range got {
			k += len(v)
		}
		return k >= n
	})
	partOf := Partitioner(4)
	mu.Lock()
	defer mu.Unlock()
	total := 0
	for key, rs := range got {
		total += len(rs)
		for i, r := range rs {
			if want := partOf([]byte(key)); r.part != want {
				t.Fatalf("%s in partition %d, Partitioner says %d", key, r.part, want)
			}
			if i > 0 && (r.val <= rs[i-1].val || r.off <= rs[i-1].off) {
				t.Fatalf("%s: record %d after %d (offsets %d, %d)", key, r.val, rs[i-1].val, r.off, rs[i-1].off)
			}
		}
	}
	if total != n {
		t.Errorf("%d records consumed, want %d (each exactly once)", total, n)
	}
	if perRequest.Load() < 2 {
		t.Errorf("at most %d partitions in one produce request, want several", perRequest.Load())
	}
	if st := p.Stats(); st.WriteErrors == 0 || st.Written != n {
		t.Errorf("stats %+v: want a failed attempt and %d written", st, n)
	}
	closeProducer(t, p)
}

// leaseCluster starts a one-broker kfake cluster with the compacted lease
// topic in the given partitions, closed when the test ends.
func leaseCluster(t *testing.T, partitions int32) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(int(partitions)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if err := c.CreateTopic(events.TopicLeases, partitions, map[string]string{"cleanup.policy": "compact"}); err != nil {
		t.Fatal(err)
	}
	return c
}
