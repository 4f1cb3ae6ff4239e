package kafkaio

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// NewRecordConsumer builds the consumer of record type T's topic. Each
// record is decoded and checked once (Schema Registry framing stripped, the
// time limits of cfg applied) and the typed value handed to each handler in
// order, from the consumer's goroutine. The value is reused for the next
// record: handlers copy what must outlive the call (strings may be kept;
// slices may not).
//
// A record that fails decoding or Check, or that a handler returns a
// *BadEvent for (a seq jump), is skipped — later handlers do not see it —
// counted in callbid_events_bad_total{topic,reason} and logged (rate-limited)
// with its partition, offset and reason. It is skipped the same way when the
// topic is replayed after a restart.
func NewRecordConsumer[T any, P events.Inbound[T]](cfg Config, log zerolog.Logger, handlers ...func(*T) error) *Consumer {
	return newConsumer(cfg, events.TopicOf[T, P](), NewDispatch[T, P](cfg, handlers...), log)
}

// NewDispatch is the per-record step of NewRecordConsumer: it decodes one
// record as T and hands it to the handlers, returning the error that makes
// it bad. It is for one goroutine (it reuses its parser and value).
func NewDispatch[T any, P events.Inbound[T]](cfg Config, handlers ...func(*T) error) func(Message) error {
	cfg.SetDefaults()
	d := events.NewDecoder[T, P]()
	skew := cfg.MaxFutureSkew
	return func(m Message) error {
		ev, err := d.Decode(m.Value, events.Limits{Now: time.Now(), Written: m.Time, MaxFutureSkew: skew})
		if err != nil {
			return err
		}
		for _, h := range handlers {
			if err := h(ev); err != nil {
				return err
			}
		}
		return nil
	}
}

// badRecords counts and logs a consumer's bad records.
type badRecords struct {
	topic string
	log   *zerolog.Logger
	vec   *prometheus.CounterVec
	total atomic.Uint64
	warn  rateLimited

	mu       sync.Mutex
	byReason map[string]uint64
}

func (b *badRecords) init(topic string, log *zerolog.Logger) {
	b.topic, b.log = topic, log
	b.vec = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name:        "callbid_events_bad_total",
		Help:        "Kafka records skipped as bad (malformed, failing a check, far in the future), by reason.",
		ConstLabels: prometheus.Labels{"topic": topic},
	}, []string{"reason"})
	b.warn.every = 10 * time.Second
	b.byReason = map[string]uint64{}
}

// record counts one bad record; called from the dispatching goroutine.
func (b *badRecords) record(m *Message, err error) {
	reason := events.Reason(err)
	if reason == "" {
		reason = events.ReasonOther
	}
	b.total.Add(1)
	b.vec.WithLabelValues(reason).Inc()
	b.mu.Lock()
	b.byReason[reason]++
	b.mu.Unlock()
	if n, ok := b.warn.allow(); ok {
		b.log.Warn().Int("partition", m.Partition).Int64("offset", m.Offset).Str("reason", reason).Err(err).
			Int("suppressed", n).Msg("bad Kafka record skipped")
	}
}

// BadRecords returns the bad records skipped so far, by reason.
func (c *Consumer) BadRecords() map[string]uint64 {
	c.bad.mu.Lock()
	defer c.bad.mu.Unlock()
	out := make(map[string]uint64, len(c.bad.byReason))
	for k, v := range c.bad.byReason {
		out[k] = v
	}
	return out
}

// Topic is the topic the consumer reads.
func (c *Consumer) Topic() string { return c.topic }
