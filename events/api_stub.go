package events

// This file fixes the signatures other packages code against. The events
// helper replaces the bodies (and may move them); the signatures stay.

import (
	"context"
	"time"

	"github.com/rs/zerolog"
)

// Topic names (CONTRACTS §3, plus callbid's own internal topics).
const (
	TopicAgentState  = "cc.agent-state.v1"
	TopicCall        = "cc.call.v1"
	TopicOutcome     = "cc.outcome.v1"
	TopicAttribution = "callbid.attribution.v1"
	TopicDemand      = "callbid.demand.v1"
	// TopicLeases is compacted, keyed by number(+ext): lease and release
	// events replayed at start so leases survive a restart.
	TopicLeases = "callbid.leases.v1"
	// TopicImpressions carries won and billed impressions from the notice
	// handler, keyed by bid id; feedback replays it to rebuild hit rates.
	TopicImpressions = "callbid.impressions.v1"
)

// Message is one Kafka record handed to a consumer's handler. Key and Value
// are valid only during the handler call.
type Message struct {
	Topic     string
	Partition int
	Offset    int64
	Key       []byte
	Value     []byte
	Time      time.Time
}

// Config is the kafka section of the config file (yaml key "kafka").
type Config struct {
	// Brokers are host:port addresses. Empty with Embedded.Enabled means the
	// in-process kfake broker.
	Brokers  []string       `yaml:"brokers"`
	Embedded EmbeddedConfig `yaml:"embedded"`
}

// EmbeddedConfig controls the in-process Kafka-protocol broker (kfake) used
// by the demo default and by tests.
type EmbeddedConfig struct {
	Enabled bool   `yaml:"enabled"`
	Listen  string `yaml:"listen"` // loopback host:port; ":0"-style picks a free port
}

// Validate reports every problem with its field path relative to "kafka".
func (c *Config) Validate() error { return nil }

// Consumer reads one topic, every partition, from the beginning, then follows
// it; it reconnects by itself when the broker goes away.
type Consumer struct{}

// NewConsumer builds a consumer of topic that calls handle for each record,
// in offset order per partition, from one goroutine.
func NewConsumer(cfg Config, topic string, handle func(Message), log zerolog.Logger) *Consumer {
	return &Consumer{}
}

// Run consumes until ctx is done.
func (c *Consumer) Run(ctx context.Context) {}

// CaughtUp reports whether the consumer has read up to the end offsets it saw
// at start (so replayed state is complete).
func (c *Consumer) CaughtUp() bool { return false }

// Producer publishes asynchronously in sized batches; Publish never blocks.
type Producer struct{}

// NewProducer builds a producer.
func NewProducer(cfg Config, log zerolog.Logger) *Producer { return &Producer{} }

// Publish queues a copy of key and value for topic; false when the queue is
// full and the event was dropped (counted).
func (p *Producer) Publish(topic string, key, value []byte) bool { return false }

// Close flushes what is queued, bounded by ctx.
func (p *Producer) Close(ctx context.Context) error { return nil }
