package embedbroker

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/kafkaio"
	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
)

// The demo broker holds its log in callbid's memory: history topics are
// capped by size, and the compacted state topics (leases) are never cut.
func TestHistoryTopicsAreCappedStateTopicsAreNot(t *testing.T) {
	b, err := Start(kafkaio.EmbeddedConfig{Partitions: 1, RetentionBytes: 64 << 10},
		[]string{events.TopicImpressions, events.TopicLeases}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cfg := kafkaio.Config{Brokers: []string{b.Addr()}}
	p := kafkaio.NewProducer(cfg, zerolog.Nop())
	value := make([]byte, 1024)
	for i := range value {
		value[i] = 'x'
	}
	const n = 1000 // 1 MiB per topic, 16× the cap
	for i := range n {
		key := []byte(fmt.Sprintf("k-%d", i))
		if !p.Publish(events.TopicImpressions, key, value) {
			t.Fatal("impression publish dropped")
		}
		if !p.Publish(events.TopicLeases, key, value) {
			t.Fatal("lease publish dropped")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	b.c.ApplyRetention() // what the broker's cleaner tick does every 30 s

	cl := &kafka.Client{Addr: kafka.TCP(b.Addr())}
	res, err := cl.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{
		events.TopicImpressions: {kafka.FirstOffsetOf(0), kafka.LastOffsetOf(0)},
		events.TopicLeases:      {kafka.FirstOffsetOf(0), kafka.LastOffsetOf(0)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	span := func(topic string) (first, last int64) {
		for _, po := range res.Topics[topic] {
			if po.Error != nil {
				t.Fatalf("%s: %v", topic, po.Error)
			}
			first, last = po.FirstOffset, po.LastOffset
		}
		return
	}
	if first, last := span(events.TopicImpressions); last != n || last-first > 128 {
		t.Errorf("impressions kept offsets %d-%d of %d: want at most ~64 KiB (64 records) kept", first, last, n)
	}
	if first, last := span(events.TopicLeases); first != 0 || last != n {
		t.Errorf("leases kept offsets %d-%d of %d: a compacted state topic must not be cut by size", first, last, n)
	}
}
