package events

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
)

// Producer publishes asynchronously in sized batches; Publish never blocks.
//
// Goroutines: Publish and the stats are safe from any goroutine; one
// goroutine of the producer's own drains the queue into a kafka.Writer
// (synchronous inside that goroutine, so every failure is seen and counted)
// and retries failed batches with backoff while the queue absorbs new
// records, up to QueueSize.
type Producer struct {
	cfg  Config
	log  zerolog.Logger
	w    *kafka.Writer
	tr   *kafka.Transport
	q    chan record
	warn rateLimited

	closeOnce sync.Once
	closing   chan struct{}
	// writeCtx bounds every write; Close cancels it when its own ctx ends,
	// so a write stuck on a black-holed broker cannot outlive Close.
	writeCtx context.Context
	cancel   context.CancelFunc
	done     chan struct{}
	closed   atomic.Bool

	published     atomic.Uint64 // accepted by Publish
	written       atomic.Uint64 // acknowledged by the broker
	droppedFull   atomic.Uint64 // queue full
	droppedClosed atomic.Uint64 // published after Close, or left when Close's ctx ended
	droppedError  atomic.Uint64 // rejected permanently by the broker
	writeErrors   atomic.Uint64 // failed write attempts (retried)
	batches       atomic.Uint64
}

type record struct {
	topic      string
	key, value []byte
}

// NewProducer builds a producer and starts its writer goroutine; call Close
// to flush and stop it.
func NewProducer(cfg Config, log zerolog.Logger) *Producer {
	cfg.SetDefaults()
	acks, _ := parseAcks(cfg.RequiredAcks)
	tr := newTransport(cfg)
	p := &Producer{
		cfg: cfg,
		log: log.With().Str("component", "kafka_producer").Logger(),
		tr:  tr,
		w: &kafka.Writer{
			Addr:      kafka.TCP(cfg.Brokers...),
			Transport: tr,
			// Murmur2 on the key is the Java client's default partitioner,
			// so callbid and a contact center's own producers agree on where
			// a key lives (compacted topics need that).
			Balancer:   &kafka.Murmur2Balancer{},
			BatchSize:  cfg.BatchSize,
			BatchBytes: cfg.BatchBytes,
			// The producer lingers for cfg.BatchTimeout itself before each
			// WriteMessages; the writer only needs to flush what it got.
			BatchTimeout: time.Millisecond,
			RequiredAcks: acks,
			Async:        false,
			// A few quick attempts inside the writer; the producer's own
			// loop retries beyond that with backoff, without losing records.
			MaxAttempts:            3,
			WriteBackoffMin:        cfg.RetryBackoffMin,
			WriteBackoffMax:        cfg.RetryBackoffMin * 4,
			ReadTimeout:            cfg.RequestTimeout,
			WriteTimeout:           cfg.RequestTimeout,
			AllowAutoTopicCreation: cfg.Topics.AutoCreate,
		},
		q:       make(chan record, cfg.QueueSize),
		warn:    rateLimited{every: 10 * time.Second},
		closing: make(chan struct{}),
		done:    make(chan struct{}),
	}
	p.writeCtx, p.cancel = context.WithCancel(context.Background())
	go p.loop()
	return p
}

// Publish queues a copy of key and value for topic; false when the queue is
// full (or the producer closed) and the event was dropped (counted).
func (p *Producer) Publish(topic string, key, value []byte) bool {
	if p.closed.Load() {
		p.droppedClosed.Add(1)
		return false
	}
	buf := make([]byte, len(key)+len(value))
	copy(buf, key)
	copy(buf[len(key):], value)
	r := record{topic: topic, key: buf[:len(key):len(key)], value: buf[len(key):]}
	if key == nil {
		r.key = nil
	}
	select {
	case p.q <- r:
		p.published.Add(1)
		return true
	default:
		p.droppedFull.Add(1)
		return false
	}
}

// Close flushes what is queued, bounded by ctx; records still queued when
// ctx ends are dropped and counted. Later Publish calls return false.
func (p *Producer) Close(ctx context.Context) error {
	p.closeOnce.Do(func() {
		p.closed.Store(true)
		close(p.closing)
	})
	select {
	case <-p.done:
	case <-ctx.Done():
		p.cancel()
		<-p.done // the loop gives up promptly once writeCtx is done
	}
	p.cancel()
	p.tr.CloseIdleConnections()
	if err := p.w.Close(); err != nil {
		return fmt.Errorf("cannot close the kafka writer: %w", err)
	}
	if n := len(p.q); n > 0 {
		return fmt.Errorf("kafka producer closed with %d records unsent", n)
	}
	return ctx.Err()
}

func (p *Producer) loop() {
	defer close(p.done)
	batch := make([]kafka.Message, 0, p.cfg.BatchSize)
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	for {
		batch = batch[:0]
		select {
		case r := <-p.q:
			batch = append(batch, toMessage(r))
			batch = p.linger(batch, linger)
		case <-p.closing:
			// Drain what is left, then stop.
			for {
				batch = batch[:0]
				batch = p.fill(batch)
				if len(batch) == 0 {
					return
				}
				if !p.write(batch) {
					p.dropRest()
					return
				}
			}
		}
		batch = p.fill(batch)
		if !p.write(batch) {
			p.dropRest()
			return
		}
	}
}

// linger collects records until the batch is full, BatchTimeout has passed
// since its first record, or Close was called.
func (p *Producer) linger(batch []kafka.Message, t *time.Timer) []kafka.Message {
	t.Reset(p.cfg.BatchTimeout)
	defer t.Stop()
	for len(batch) < cap(batch) {
		select {
		case r := <-p.q:
			batch = append(batch, toMessage(r))
		case <-t.C:
			return batch
		case <-p.closing:
			return batch
		}
	}
	return batch
}

// fill adds what is queued without waiting.
func (p *Producer) fill(batch []kafka.Message) []kafka.Message {
	for len(batch) < cap(batch) {
		select {
		case r := <-p.q:
			batch = append(batch, toMessage(r))
		default:
			return batch
		}
	}
	return batch
}

func toMessage(r record) kafka.Message {
	return kafka.Message{Topic: r.topic, Key: r.key, Value: r.value}
}

// write sends batch until every record is acknowledged or rejected for
// good; false when Close's ctx ended first (the rest is dropped).
func (p *Producer) write(batch []kafka.Message) bool {
	ctx := p.writeCtx
	for attempt := 1; ; attempt++ {
		if ctx.Err() != nil {
			p.droppedClosed.Add(uint64(len(batch)))
			return false
		}
		p.batches.Add(1)
		err := p.w.WriteMessages(ctx, batch...)
		if err == nil {
			p.written.Add(uint64(len(batch)))
			if attempt > 1 {
				p.log.Info().Int("attempts", attempt).Msg("kafka writes recovered")
			}
			return true
		}
		p.writeErrors.Add(1)
		resetOnNetworkError(p.tr, err)
		var werrs kafka.WriteErrors
		if errors.As(err, &werrs) && len(werrs) == len(batch) {
			// Keep only the failures worth retrying.
			keep := batch[:0]
			for i, e := range werrs {
				switch {
				case e == nil:
					p.written.Add(1)
				case permanent(e):
					p.droppedError.Add(1)
				default:
					keep = append(keep, batch[i])
				}
			}
			batch = keep
			if len(batch) == 0 {
				return true
			}
		} else if permanent(err) {
			p.droppedError.Add(uint64(len(batch)))
			p.log.Warn().Err(err).Int("records", len(batch)).Msg("kafka rejected a batch; dropped")
			return true
		}
		if n, ok := p.warn.allow(); ok {
			p.log.Warn().Err(err).Int("records", len(batch)).Int("attempt", attempt).Int("queued", len(p.q)).
				Int("suppressed", n).Msg("kafka write failed; retrying")
		}
		if !sleepCtx(ctx, backoff(attempt, p.cfg.RetryBackoffMin, p.cfg.RetryBackoffMax)) {
			p.droppedClosed.Add(uint64(len(batch)))
			return false
		}
	}
}

// permanent reports broker answers that no retry can change.
func permanent(err error) bool {
	return errors.Is(err, kafka.MessageSizeTooLarge) || errors.Is(err, kafka.InvalidTopic) ||
		errors.Is(err, kafka.RecordListTooLarge) || errors.Is(err, kafka.InvalidMessage) ||
		errors.Is(err, kafka.InvalidRecord)
}

func (p *Producer) dropRest() {
	for {
		select {
		case <-p.q:
			p.droppedClosed.Add(1)
		default:
			return
		}
	}
}

// ProducerStats is a point-in-time view of a producer's counters.
type ProducerStats struct {
	Published     uint64 // accepted by Publish
	Written       uint64 // acknowledged by the broker
	DroppedFull   uint64 // Publish found the queue full
	DroppedClosed uint64 // after Close or left when Close gave up
	DroppedError  uint64 // rejected for good by the broker
	WriteErrors   uint64 // failed write attempts, retried
	Queued        int
}

// Stats returns the producer's counters.
func (p *Producer) Stats() ProducerStats {
	return ProducerStats{
		Published: p.published.Load(), Written: p.written.Load(), DroppedFull: p.droppedFull.Load(),
		DroppedClosed: p.droppedClosed.Load(), DroppedError: p.droppedError.Load(),
		WriteErrors: p.writeErrors.Load(), Queued: len(p.q),
	}
}

// RegisterMetrics registers the callbid_events_producer_* series.
func (p *Producer) RegisterMetrics(reg prometheus.Registerer) error {
	u := func(a *atomic.Uint64) func() float64 { return func() float64 { return float64(a.Load()) } }
	dropped := func(reason string, a *atomic.Uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "callbid_events_producer_dropped_total",
			Help: "Records dropped by the producer, by reason.", ConstLabels: prometheus.Labels{"reason": reason}}, u(a))
	}
	cs := []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "callbid_events_producer_published_total", Help: "Records accepted by Publish."}, u(&p.published)),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "callbid_events_producer_written_total", Help: "Records acknowledged by Kafka."}, u(&p.written)),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "callbid_events_producer_write_errors_total", Help: "Failed write attempts (retried)."}, u(&p.writeErrors)),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "callbid_events_producer_batches_total", Help: "Write attempts (batches sent to the writer)."}, u(&p.batches)),
		dropped("queue_full", &p.droppedFull),
		dropped("closed", &p.droppedClosed),
		dropped("rejected", &p.droppedError),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "callbid_events_producer_queued", Help: "Records waiting to be written."}, func() float64 { return float64(len(p.q)) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "callbid_events_producer_queue_capacity", Help: "Queue bound (kafka.queue_size)."}, func() float64 { return float64(cap(p.q)) }),
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("cannot register producer metrics: %w", err)
		}
	}
	return nil
}
