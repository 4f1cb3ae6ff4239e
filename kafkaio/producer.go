package kafkaio

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
)

// DurableTopics are the topics whose records are never dropped: they have a
// lane of their own that queues without bound, retries every record until
// the broker acknowledges it with the configured acks, and tells each
// publisher when its record is durable (see Durable).
var DurableTopics = []string{events.TopicLeases}

// Producer publishes asynchronously in sized batches; Publish never blocks.
//
// Every topic has its own lane: a queue, a kafka.Writer over its own
// connections and one writer goroutine, so records of one topic never wait
// on another topic's failure (a topic that does not exist, a partition
// without a leader). A droppable lane holds up to QueueSize records and
// drops (counted) beyond that; a durable lane (DurableTopics) never drops.
//
// Goroutines: Publish, Durable and the stats are safe from any goroutine;
// each lane's goroutine drains its queue into its writer (synchronously, so
// every failure is seen and counted; a durable lane sends one produce
// request per partition leader for all the partitions a batch touches,
// produce.go) and retries failed batches with backoff while the queue
// absorbs new records. A batch is retried until it is
// written before the lane takes the next one, so records of one key stay in
// order.
type Producer struct {
	cfg  Config
	acks kafka.RequiredAcks
	log  zerolog.Logger

	mu      sync.Mutex                       // serialises lane creation
	lanes   atomic.Pointer[map[string]*lane] // copy on write
	closing chan struct{}
	closed  atomic.Bool
	once    sync.Once
	// writeCtx bounds every write; Close cancels it when its own ctx ends,
	// so a write stuck on a black-holed broker cannot outlive Close.
	writeCtx context.Context
	cancel   context.CancelFunc

	published     atomic.Uint64 // accepted by Publish
	written       atomic.Uint64 // acknowledged by the broker
	droppedFull   atomic.Uint64 // queue full
	droppedClosed atomic.Uint64 // published after Close, or left when Close's ctx ended
	droppedError  atomic.Uint64 // rejected permanently by the broker
	writeErrors   atomic.Uint64 // failed write attempts (retried)
	batches       atomic.Uint64
}

type record struct {
	key, value []byte
	seq        uint64 // durable lanes: 1, 2, …
	at         int64  // durable lanes: unix nanos when queued
}

// lane is one topic's queue, writer and goroutine.
type lane struct {
	p       *Producer
	topic   string
	durable bool
	tr      *kafka.Transport
	w       *kafka.Writer
	warn    rateLimited
	done    chan struct{}

	q chan record // droppable lanes

	// durable lanes: an unbounded FIFO, guarded by mu.
	mu       sync.Mutex
	dq       []record
	nextSeq  uint64
	inflight int64         // queue time of the oldest record being written; 0 when none
	ackCh    chan struct{} // closed and replaced whenever acked advances
	wake     chan struct{} // cap 1: records queued
	acked    atomic.Uint64 // every record with seq ≤ acked is written
	failing  atomic.Bool   // the last write attempt failed
	lastErr  atomic.Pointer[string]
	stopped  atomic.Bool // the goroutine ended; unacked records will not be written
	// parts is the topic's partition count as the broker last reported it
	// (0 until known; watchPartitions keeps it).
	parts atomic.Int32
	prod  producer // durable lanes: the produce requests (produce.go)
}

// NewProducer builds a producer and starts the lanes of DurableTopics; the
// lane of any other topic starts on its first Publish. Call Close to flush
// and stop it.
func NewProducer(cfg Config, log zerolog.Logger) *Producer {
	cfg.SetDefaults()
	acks, _ := parseAcks(cfg.RequiredAcks)
	p := &Producer{
		cfg:     cfg,
		acks:    acks,
		log:     log.With().Str("component", "kafka_producer").Logger(),
		closing: make(chan struct{}),
	}
	p.writeCtx, p.cancel = context.WithCancel(context.Background())
	m := map[string]*lane{}
	for _, t := range DurableTopics {
		m[t] = p.newLane(t, true)
	}
	p.lanes.Store(&m)
	go p.warnDrops(10 * time.Second)
	return p
}

// warnDrops logs, every period until Close, how many records Publish dropped
// because a topic's queue was full: Publish itself must not log (it runs on
// the bid and notice paths), so the count is looked at here.
func (p *Producer) warnDrops(period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	var last uint64
	for {
		select {
		case <-p.closing:
			return
		case <-t.C:
			if n := p.droppedFull.Load(); n != last {
				p.log.Warn().Uint64("dropped", n-last).Uint64("total", n).
					Msg("kafka producer queue full: records dropped (kafka.queue_size; is the broker slow or down?)")
				last = n
			}
		}
	}
}

// writerBatchSize bounds the kafka.Writer's batch (see newLane).
const writerBatchSize = 64

func (p *Producer) newLane(topic string, durable bool) *lane {
	cfg := p.cfg
	tr := newTransport(cfg)
	l := &lane{
		p: p, topic: topic, durable: durable, tr: tr,
		w: &kafka.Writer{
			Addr:      kafka.TCP(cfg.Brokers...),
			Topic:     topic,
			Transport: tr,
			// Murmur2 on the key is the Java client's default partitioner,
			// so callbid and a contact center's own producers agree on where
			// a key lives (compacted topics need that).
			Balancer: &kafka.Murmur2Balancer{},
			// kafka-go allocates room for BatchSize messages (≈150 bytes
			// each) per partition batch, however few it holds: 150 KB per
			// write at the default 1000, most of callbid's garbage and so
			// of its GC time. The lane still hands it up to cfg.BatchSize
			// records per write; the writer sends them in batches of this.
			BatchSize:  min(cfg.BatchSize, writerBatchSize),
			BatchBytes: cfg.BatchBytes,
			// The lane lingers for cfg.BatchTimeout itself before each
			// WriteMessages; the writer only needs to flush what it got.
			BatchTimeout: time.Millisecond,
			RequiredAcks: p.acks,
			Async:        false,
			// A few quick attempts inside the writer; the lane retries
			// beyond that with backoff, without losing records.
			MaxAttempts:            3,
			WriteBackoffMin:        cfg.RetryBackoffMin,
			WriteBackoffMax:        cfg.RetryBackoffMin * 4,
			ReadTimeout:            cfg.RequestTimeout,
			WriteTimeout:           cfg.RequestTimeout,
			AllowAutoTopicCreation: cfg.Topics.AutoCreate,
		},
		warn: rateLimited{every: 10 * time.Second},
		done: make(chan struct{}),
	}
	if durable {
		l.ackCh = make(chan struct{})
		l.wake = make(chan struct{}, 1)
		go l.runDurable()
		go l.watchPartitions(time.Second, time.Minute)
	} else {
		l.q = make(chan record, cfg.QueueSize)
		go l.run()
	}
	return l
}

// lane returns topic's lane, starting it on first use; nil after Close.
func (p *Producer) lane(topic string) *lane {
	if l := (*p.lanes.Load())[topic]; l != nil {
		return l
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	old := *p.lanes.Load()
	if l := old[topic]; l != nil {
		return l
	}
	if p.closed.Load() {
		return nil
	}
	m := make(map[string]*lane, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	l := p.newLane(topic, false)
	m[topic] = l
	p.lanes.Store(&m)
	return l
}

func copyRecord(key, value []byte) record {
	buf := make([]byte, len(key)+len(value))
	copy(buf, key)
	copy(buf[len(key):], value)
	r := record{key: buf[:len(key):len(key)], value: buf[len(key):]}
	if key == nil {
		r.key = nil
	}
	if value == nil {
		r.value = nil // a tombstone stays one
	}
	return r
}

// Publish queues a copy of key and value for topic; false when the topic's
// queue is full (or the producer closed) and the event was dropped
// (counted). A record of a durable topic is never dropped while the
// producer is open.
func (p *Producer) Publish(topic string, key, value []byte) bool {
	if p.closed.Load() {
		p.droppedClosed.Add(1)
		return false
	}
	l := p.lane(topic)
	if l == nil {
		p.droppedClosed.Add(1)
		return false
	}
	if l.durable {
		return l.append(key, value) != 0
	}
	select {
	case l.q <- copyRecord(key, value):
		p.published.Add(1)
		return true
	default:
		p.droppedFull.Add(1)
		return false
	}
}

// Durable is the never-dropping writer of one durable topic.
type Durable struct{ l *lane }

// Durable returns the durable writer of topic, nil when topic is not one of
// DurableTopics.
func (p *Producer) Durable(topic string) *Durable {
	l := (*p.lanes.Load())[topic]
	if l == nil || !l.durable {
		return nil
	}
	return &Durable{l}
}

// Partitions is the topic's partition count as the broker last reported
// it, 0 until known (it is looked up when the producer starts and every
// minute). Records are spread over partitions by the murmur2 of their key
// (Partitioner), so a writer that must put a record beside another key's
// records can find a key of the same partition.
func (d *Durable) Partitions() int { return int(d.l.parts.Load()) }

// ErrNotWritten means a durable record was not acknowledged: the producer
// closed first, or the caller's ctx ended first.
var ErrNotWritten = errors.New("the record is not acknowledged by kafka yet")

// Append queues a copy of key and value and returns its sequence number
// (records are written in that order). It never blocks and never drops; 0
// means the producer is closed and the record was not taken.
func (d *Durable) Append(key, value []byte) uint64 { return d.l.append(key, value) }

// Acked reports whether record seq (and every one before it) is written.
func (d *Durable) Acked(seq uint64) bool { return seq != 0 && d.l.acked.Load() >= seq }

// Wait returns nil once record seq is written with the configured acks, or
// an error wrapping ErrNotWritten when ctx ends or the producer stopped
// first.
func (d *Durable) Wait(ctx context.Context, seq uint64) error {
	l := d.l
	for {
		if seq != 0 && l.acked.Load() >= seq {
			return nil
		}
		if seq == 0 || l.stopped.Load() {
			return fmt.Errorf("%s record %d: the producer closed: %w", l.topic, seq, ErrNotWritten)
		}
		l.mu.Lock()
		ch := l.ackCh
		l.mu.Unlock()
		if l.acked.Load() >= seq {
			return nil
		}
		select {
		case <-ch:
		case <-l.done:
		case <-ctx.Done():
			return fmt.Errorf("%s record %d: %w (%w)", l.topic, seq, ErrNotWritten, ctx.Err())
		}
	}
}

// DurableHealth is the state of a durable lane.
type DurableHealth struct {
	Pending   int           // records queued or being written
	Oldest    time.Duration // age of the oldest of them (0 when none)
	Failing   bool          // the last write attempt failed
	LastError string        // of the last failed attempt
	Stopped   bool          // the producer closed
}

// Health returns the lane's state at now.
func (d *Durable) Health(now time.Time) DurableHealth { return d.l.health(now) }

func (l *lane) health(now time.Time) DurableHealth {
	l.mu.Lock()
	h := DurableHealth{Pending: int(l.nextSeq - l.acked.Load())}
	oldest := l.inflight
	if oldest == 0 && len(l.dq) > 0 {
		oldest = l.dq[0].at
	}
	l.mu.Unlock()
	if oldest != 0 {
		h.Oldest = max(0, time.Duration(now.UnixNano()-oldest))
	}
	h.Failing = l.failing.Load()
	if e := l.lastErr.Load(); e != nil && h.Failing {
		h.LastError = *e
	}
	h.Stopped = l.stopped.Load()
	return h
}

func (l *lane) append(key, value []byte) uint64 {
	r := copyRecord(key, value)
	r.at = time.Now().UnixNano()
	l.mu.Lock()
	if l.p.closed.Load() || l.stopped.Load() {
		l.mu.Unlock()
		l.p.droppedClosed.Add(1)
		return 0
	}
	l.nextSeq++
	r.seq = l.nextSeq
	l.dq = append(l.dq, r)
	l.mu.Unlock()
	l.p.published.Add(1)
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return r.seq
}

// watchPartitions keeps parts: it asks the broker every retry until it
// knows the topic's partitions, then every refresh, until Close.
func (l *lane) watchPartitions(retry, refresh time.Duration) {
	cl := &kafka.Client{Addr: l.w.Addr, Transport: l.tr, Timeout: l.p.cfg.RequestTimeout}
	for {
		wait := retry
		ctx, cancel := context.WithTimeout(l.p.writeCtx, l.p.cfg.RequestTimeout)
		md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{l.topic}})
		cancel()
		if err == nil {
			for _, t := range md.Topics {
				if t.Name == l.topic && t.Error == nil && len(t.Partitions) > 0 {
					l.parts.Store(int32(len(t.Partitions)))
					wait = refresh
				}
			}
		}
		select {
		case <-l.p.closing:
			return
		case <-time.After(wait):
		}
	}
}

// Close flushes what is queued, bounded by ctx: every lane flushes at once,
// each on its own connections, so the lease log does not wait behind
// droppable records. Records still queued when ctx ends are dropped and
// counted, and the error says how many records of each durable topic were
// left unwritten. Later Publish calls return false.
func (p *Producer) Close(ctx context.Context) error {
	p.once.Do(func() {
		p.mu.Lock()
		p.closed.Store(true)
		p.mu.Unlock()
		close(p.closing)
	})
	lanes := *p.lanes.Load()
	all := make(chan struct{})
	go func() {
		for _, l := range lanes {
			<-l.done
		}
		close(all)
	}()
	select {
	case <-all:
	case <-ctx.Done():
		p.cancel()
		<-all // every lane gives up promptly once writeCtx is done
	}
	p.cancel()
	var errs []error
	unsent := 0
	names := make([]string, 0, len(lanes))
	for t := range lanes {
		names = append(names, t)
	}
	sort.Strings(names)
	for _, t := range names {
		l := lanes[t]
		l.tr.CloseIdleConnections()
		if err := l.w.Close(); err != nil {
			errs = append(errs, fmt.Errorf("cannot close the kafka writer of %s: %w", t, err))
		}
		if l.durable {
			if n := l.nextSeq - l.acked.Load(); n > 0 {
				errs = append(errs, fmt.Errorf("%d %s records were not written", n, t))
			}
		} else {
			unsent += len(l.q)
		}
	}
	if unsent > 0 {
		errs = append(errs, fmt.Errorf("kafka producer closed with %d records unsent", unsent))
	}
	if len(errs) == 0 {
		return ctx.Err()
	}
	return errors.Join(errs...)
}

// run is a droppable lane's goroutine.
func (l *lane) run() {
	defer close(l.done)
	defer l.stopped.Store(true)
	batch := make([]kafka.Message, 0, l.p.cfg.BatchSize)
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	for {
		batch = batch[:0]
		select {
		case r := <-l.q:
			batch = append(batch, toMessage(r))
			batch = l.linger(batch, linger)
		case <-l.p.closing:
			// Drain what is left, then stop.
			for {
				batch = l.fill(batch[:0])
				if len(batch) == 0 {
					return
				}
				if !l.write(batch) {
					l.dropRest()
					return
				}
			}
		}
		batch = l.fill(batch)
		if !l.write(batch) {
			l.dropRest()
			return
		}
	}
}

// linger collects records until the batch is full, BatchTimeout has passed
// since its first record, or Close was called.
func (l *lane) linger(batch []kafka.Message, t *time.Timer) []kafka.Message {
	t.Reset(l.p.cfg.BatchTimeout)
	defer t.Stop()
	for len(batch) < cap(batch) {
		select {
		case r := <-l.q:
			batch = append(batch, toMessage(r))
		case <-t.C:
			return batch
		case <-l.p.closing:
			return batch
		}
	}
	return batch
}

// fill adds what is queued without waiting.
func (l *lane) fill(batch []kafka.Message) []kafka.Message {
	for len(batch) < cap(batch) {
		select {
		case r := <-l.q:
			batch = append(batch, toMessage(r))
		default:
			return batch
		}
	}
	return batch
}

func toMessage(r record) kafka.Message { return kafka.Message{Key: r.key, Value: r.value} }

func (l *lane) dropRest() {
	for {
		select {
		case <-l.q:
			l.p.droppedClosed.Add(1)
		default:
			return
		}
	}
}

// runDurable is a durable lane's goroutine: it takes records in sequence
// order, writes each batch until the broker acknowledges all of it, then
// advances acked.
func (l *lane) runDurable() {
	defer close(l.done)
	batch := make([]record, 0, l.p.cfg.BatchSize)
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	defer func() {
		l.mu.Lock()
		l.stopped.Store(true)
		left := l.nextSeq - l.acked.Load()
		l.mu.Unlock()
		if left > 0 {
			l.p.droppedClosed.Add(left)
			l.p.log.Error().Str("topic", l.topic).Uint64("unwritten", left).
				Msg("kafka producer stopped with durable records unwritten")
		}
	}()
	for {
		l.mu.Lock()
		empty := len(l.dq) == 0
		var oldest int64
		if !empty {
			oldest = l.dq[0].at
		}
		l.mu.Unlock()
		if empty {
			select {
			case <-l.wake:
				continue
			case <-l.p.closing:
				l.mu.Lock()
				empty = len(l.dq) == 0
				l.mu.Unlock()
				if empty {
					return
				}
			}
		}
		// Linger until the oldest record has waited BatchTimeout, so a
		// burst shares one produce request, and so do the records queued
		// while the last request was out (a hold pass every 5 ms sent them
		// in a request of their own as soon as it returned: a third more
		// produce requests, each a round trip and wake-ups). No record
		// waits longer than BatchTimeout plus a request in flight, as
		// before.
		if wait := time.Duration(oldest + int64(l.p.cfg.BatchTimeout) - time.Now().UnixNano()); wait > 0 && !empty {
			select {
			case <-l.p.closing:
			default:
				linger.Reset(wait)
				select {
				case <-linger.C:
				case <-l.p.closing:
					linger.Stop()
				}
			}
		}
		l.mu.Lock()
		n := min(len(l.dq), cap(batch))
		if n == 0 {
			l.mu.Unlock()
			continue
		}
		batch = append(batch[:0], l.dq[:n]...)
		last, first := l.dq[n-1].seq, l.dq[0].at
		clear(l.dq[:n])
		l.dq = l.dq[n:]
		if len(l.dq) == 0 {
			l.dq = nil // let the backing array go after a burst
		}
		l.inflight = first
		l.mu.Unlock()
		if !l.produceBatch(batch) {
			return
		}
		l.mu.Lock()
		l.inflight = 0
		l.acked.Store(last)
		close(l.ackCh)
		l.ackCh = make(chan struct{})
		l.mu.Unlock()
	}
}

// write sends a droppable lane's batch until every record is acknowledged
// or rejected for good; false when Close's ctx ended first (the rest is
// dropped). Durable lanes write with produceBatch (produce.go), which
// retries even answers that look permanent: a lease record must not be
// lost, and the operator sees the error and the growing pending gauge.
func (l *lane) write(batch []kafka.Message) bool {
	p := l.p
	ctx := p.writeCtx
	for attempt := 1; ; attempt++ {
		if ctx.Err() != nil {
			p.droppedClosed.Add(uint64(len(batch)))
			return false
		}
		p.batches.Add(1)
		err := l.w.WriteMessages(ctx, batch...)
		if err == nil {
			p.written.Add(uint64(len(batch)))
			if l.failing.Swap(false) {
				p.log.Info().Str("topic", l.topic).Int("attempts", attempt).Msg("kafka writes recovered")
			}
			return true
		}
		p.writeErrors.Add(1)
		msg := err.Error()
		l.lastErr.Store(&msg)
		l.failing.Store(true)
		resetOnNetworkError(l.tr, err)
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
				l.failing.Store(false)
				return true
			}
		} else if permanent(err) {
			p.droppedError.Add(uint64(len(batch)))
			p.log.Warn().Err(err).Str("topic", l.topic).Int("records", len(batch)).Msg("kafka rejected a batch; dropped")
			l.failing.Store(false)
			return true
		}
		if n, ok := l.warn.allow(); ok {
			p.log.Warn().Err(err).Str("topic", l.topic).Int("records", len(batch)).Int("attempt", attempt).
				Int("queued", l.queued()).Int("suppressed", n).Msg(hint(l.topic, err, "kafka write failed; retrying"))
		}
		if !sleepCtx(ctx, backoff(attempt, p.cfg.RetryBackoffMin, p.cfg.RetryBackoffMax)) {
			p.droppedClosed.Add(uint64(len(batch)))
			return false
		}
	}
}

// hint adds what to do to a write failure the operator can fix.
func hint(topic string, err error, msg string) string {
	if errors.Is(err, kafka.UnknownTopicOrPartition) {
		return msg + ": topic " + topic + " does not exist (create it, or set kafka.topics.auto_create)"
	}
	return msg
}

func (l *lane) queued() int {
	if !l.durable {
		return len(l.q)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.dq)
}

// permanent reports broker answers that no retry can change.
func permanent(err error) bool {
	return errors.Is(err, kafka.MessageSizeTooLarge) || errors.Is(err, kafka.InvalidTopic) ||
		errors.Is(err, kafka.RecordListTooLarge) || errors.Is(err, kafka.InvalidMessage) ||
		errors.Is(err, kafka.InvalidRecord)
}

// ProducerStats is a point-in-time view of a producer's counters.
type ProducerStats struct {
	Published     uint64 // accepted by Publish
	Written       uint64 // acknowledged by the broker
	DroppedFull   uint64 // Publish found the queue full
	DroppedClosed uint64 // after Close or left when Close gave up
	DroppedError  uint64 // rejected for good by the broker
	WriteErrors   uint64 // failed write attempts, retried
	Queued        int    // waiting in every lane
	// Topics lists the lanes that are failing right now (the last write
	// attempt failed), with the error.
	Failing map[string]string
}

// Stats returns the producer's counters.
func (p *Producer) Stats() ProducerStats {
	st := ProducerStats{
		Published: p.published.Load(), Written: p.written.Load(), DroppedFull: p.droppedFull.Load(),
		DroppedClosed: p.droppedClosed.Load(), DroppedError: p.droppedError.Load(),
		WriteErrors: p.writeErrors.Load(),
	}
	for t, l := range *p.lanes.Load() {
		st.Queued += l.queued()
		if l.failing.Load() {
			if st.Failing == nil {
				st.Failing = map[string]string{}
			}
			if e := l.lastErr.Load(); e != nil {
				st.Failing[t] = *e
			}
		}
	}
	return st
}

// FailingTopics names the lanes whose last write failed, for readiness
// ("callbid.bids.v1: [3] Unknown Topic Or Partition …"), sorted.
func (p *Producer) FailingTopics() []string {
	var out []string
	for t, e := range p.Stats().Failing {
		out = append(out, t+": "+strings.TrimSpace(e))
	}
	sort.Strings(out)
	return out
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
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "callbid_events_producer_queued", Help: "Records waiting to be written, every topic."}, func() float64 { return float64(p.Stats().Queued) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "callbid_events_producer_queue_capacity", Help: "Queue bound of each droppable topic (kafka.queue_size)."}, func() float64 { return float64(p.cfg.QueueSize) }),
	}
	for _, t := range DurableTopics {
		d := p.Durable(t)
		lbl := prometheus.Labels{"topic": t}
		cs = append(cs,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "callbid_events_producer_durable_pending", ConstLabels: lbl,
				Help: "Records of a never-dropped topic queued or being written, not yet acknowledged."},
				func() float64 { return float64(d.Health(time.Now()).Pending) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "callbid_events_producer_durable_oldest_seconds", ConstLabels: lbl,
				Help: "Age of the oldest record of a never-dropped topic not yet acknowledged (0 when none)."},
				func() float64 { return d.Health(time.Now()).Oldest.Seconds() }),
		)
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("cannot register producer metrics: %w", err)
		}
	}
	return nil
}

// Partitioner returns the partition function of the producer's balancer
// for a topic of n partitions: murmur2 of the key, as the Java client, so
// another process can tell where a keyed record goes. The function is for
// one goroutine.
func Partitioner(n int) func(key []byte) int {
	parts := make([]int, n)
	for k := range parts {
		parts[k] = k
	}
	bal := &kafka.Murmur2Balancer{}
	return func(key []byte) int { return bal.Balance(kafka.Message{Key: key}, parts...) }
}
