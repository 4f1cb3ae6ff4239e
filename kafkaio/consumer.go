package kafkaio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
)

// Consumer reads one topic, every partition, from the beginning, then follows
// it; it reconnects by itself when the broker goes away. It uses no consumer
// group and commits nothing: every callbid instance needs the whole state, so
// each replays the topic from the first offset at start.
//
// Goroutines: Run starts one fetcher per partition; the handler is called
// from Run's own goroutine only, in offset order per partition. CaughtUp,
// LastMessageAt and the stats are safe from any goroutine.
type Consumer struct {
	cfg      Config
	topic    string
	dispatch func(Message) error
	log      zerolog.Logger
	client   *kafka.Client
	tr       *kafka.Transport
	warn     rateLimited
	bad      badRecords

	caughtUp atomic.Bool
	parts    atomic.Pointer[[]*partState]
	run      runSignals // found and stopped (handled.go)

	messages   atomic.Uint64
	bytes      atomic.Uint64
	errs       atomic.Uint64
	reconnects atomic.Uint64
	skipped    atomic.Uint64 // offsets jumped over after OffsetOutOfRange
	lastMsg    atomic.Int64  // unix nanos of the last handled record
}

// partState is one partition's progress; next and hw are written by its
// fetcher, read by stats.
type partState struct {
	id     int
	end    int64 // end offset seen at start; CaughtUp once handled up to it
	next   atomic.Int64
	hw     atomic.Int64
	caught bool // dispatcher goroutine only
	// handled: every record below it went to the handler (set by the
	// dispatcher); want: an offset someone waits for handled to reach
	// (Handled), so the fetcher passes on batches with no records.
	handled atomic.Int64
	want    atomic.Int64
	waiting waiters // WaitHandled's waiters (handled.go)
}

// fetchBatch is the records of one fetch, handed from a fetcher to the
// dispatcher and back (so buffers are reused).
type fetchBatch struct {
	part    *partState
	msgs    []Message
	spans   []span
	buf     []byte
	atEnd   bool  // the partition had been read up to part.end after this batch
	next    int64 // the offset after this batch
	release chan *fetchBatch
}

// span locates one record's key (buf[k:v]) and value (buf[v:e]).
type span struct{ k, v, e int }

// NewConsumer builds a consumer of topic that calls handle for each raw
// record, in offset order per partition, from one goroutine. Nothing
// connects until Run. Topics with a record type use NewRecordConsumer,
// which decodes once and counts bad records.
func NewConsumer(cfg Config, topic string, handle func(Message), log zerolog.Logger) *Consumer {
	return newConsumer(cfg, topic, func(m Message) error { handle(m); return nil }, log)
}

func newConsumer(cfg Config, topic string, dispatch func(Message) error, log zerolog.Logger) *Consumer {
	if topic == events.TopicLeases {
		// The lease log is mostly the process's own records (a hold batch
		// per partition every few ms), skipped unread: a fetch answered per
		// batch cost a round trip and two wake-ups each. Its consumer waits
		// for what shared pools wait for, unless min_bytes/max_wait say.
		setDefault(&cfg.MinBytes, DefaultSharedMinBytes)
		setDefault(&cfg.MaxWait, DefaultSharedMaxWait)
	}
	cfg.SetDefaults()
	tr := newTransport(cfg)
	c := &Consumer{
		cfg:      cfg,
		topic:    topic,
		dispatch: dispatch,
		log:      log.With().Str("component", "kafka_consumer").Str("topic", topic).Logger(),
		tr:       tr,
		client:   &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Transport: tr, Timeout: cfg.RequestTimeout},
		warn:     rateLimited{every: 10 * time.Second},
		run:      runSignals{found: make(chan struct{}), stopped: make(chan struct{})},
	}
	c.bad.init(topic, &c.log)
	return c
}

func newTransport(cfg Config) *kafka.Transport {
	tr := &kafka.Transport{
		ClientID:    cfg.ClientID,
		DialTimeout: cfg.DialTimeout,
		IdleTimeout: 30 * time.Second,
		// A short metadata TTL lets a restarted broker's new layout be seen
		// quickly; metadata requests are cheap.
		MetadataTTL: 5 * time.Second,
	}
	applySecurity(tr, &cfg) // TLS and SASL (kafka.tls, kafka.sasl)
	return tr
}

// Run consumes until ctx is done. A broker that is down, or a topic that does
// not exist yet, is retried with backoff (warned about at most every 10s);
// Run never returns early because of Kafka.
func (c *Consumer) Run(ctx context.Context) {
	defer c.tr.CloseIdleConnections()
	defer c.run.stop()
	parts, ok := c.discover(ctx)
	if !ok {
		return
	}
	c.parts.Store(&parts)
	c.run.find()
	remaining := 0
	for _, p := range parts {
		if p.next.Load() >= p.end {
			p.caught = true
		} else {
			remaining++
		}
	}
	if remaining == 0 {
		c.caughtUp.Store(true)
	}
	c.log.Info().Int("partitions", len(parts)).Int("partitions_to_replay", remaining).Msg("kafka consumer started")

	batches := make(chan *fetchBatch, 2*len(parts))
	var wg sync.WaitGroup
	for _, p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.fetchLoop(ctx, p, batches)
		}()
	}
	go func() { wg.Wait(); close(batches) }()

	start := time.Now()
	for b := range batches {
		for i := range b.msgs {
			if err := c.dispatch(b.msgs[i]); err != nil {
				c.bad.record(&b.msgs[i], err)
			}
		}
		if n := len(b.msgs); n > 0 {
			c.messages.Add(uint64(n))
			c.lastMsg.Store(time.Now().UnixNano())
		}
		b.part.handled.Store(b.next)
		b.part.waiting.wake(b.next)
		if b.atEnd && !b.part.caught {
			b.part.caught = true
			if remaining--; remaining == 0 {
				c.caughtUp.Store(true)
				c.log.Info().Dur("took", time.Since(start)).Uint64("messages", c.messages.Load()).Msg("kafka consumer caught up")
			}
		}
		b.release <- b
	}
}

// discover finds the partitions and their first and end offsets, retrying
// until it succeeds or ctx is done.
func (c *Consumer) discover(ctx context.Context) ([]*partState, bool) {
	for attempt := 0; ; attempt++ {
		if attempt > 0 && !sleepCtx(ctx, backoff(attempt, c.cfg.RetryBackoffMin, c.cfg.RetryBackoffMax)) {
			return nil, false
		}
		parts, err := c.tryDiscover(ctx)
		if err == nil {
			if attempt > 0 {
				c.reconnects.Add(1)
			}
			return parts, true
		}
		if ctx.Err() != nil {
			return nil, false
		}
		c.errs.Add(1)
		// The transport answers metadata from its cache; start afresh so
		// a topic or broker that just appeared is seen at once.
		c.tr.CloseIdleConnections()
		if n, ok := c.warn.allow(); ok {
			c.log.Warn().Err(err).Int("attempt", attempt+1).Int("suppressed", n).Msg("kafka consumer cannot start yet; retrying")
		}
	}
}

func (c *Consumer) tryDiscover(ctx context.Context) ([]*partState, error) {
	md, err := c.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{c.topic}})
	if err != nil {
		return nil, fmt.Errorf("cannot read metadata: %w", err)
	}
	var ids []int
	for _, t := range md.Topics {
		if t.Name != c.topic {
			continue
		}
		if t.Error != nil {
			if errors.Is(t.Error, kafka.UnknownTopicOrPartition) && c.cfg.Topics.AutoCreate {
				if err := createTopics(ctx, c.client, c.cfg, c.topic); err != nil {
					return nil, err
				}
				return nil, fmt.Errorf("topic %q did not exist; created it", c.topic)
			}
			return nil, fmt.Errorf("topic %q: %w", c.topic, t.Error)
		}
		for _, p := range t.Partitions {
			ids = append(ids, p.ID)
		}
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("topic %q has no partitions", c.topic)
	}
	reqs := make([]kafka.OffsetRequest, 0, 2*len(ids))
	for _, id := range ids {
		reqs = append(reqs, kafka.FirstOffsetOf(id), kafka.LastOffsetOf(id))
	}
	lo, err := c.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{c.topic: reqs}})
	if err != nil {
		return nil, fmt.Errorf("cannot list offsets: %w", err)
	}
	byID := make(map[int]kafka.PartitionOffsets, len(ids))
	for _, p := range lo.Topics[c.topic] {
		if p.Error != nil {
			return nil, fmt.Errorf("cannot list offsets of partition %d: %w", p.Partition, p.Error)
		}
		byID[p.Partition] = p
	}
	parts := make([]*partState, 0, len(ids))
	for _, id := range ids {
		po, ok := byID[id]
		if !ok {
			return nil, fmt.Errorf("no offsets listed for partition %d", id)
		}
		p := &partState{id: id, end: po.LastOffset}
		p.next.Store(po.FirstOffset)
		p.handled.Store(po.FirstOffset)
		p.hw.Store(po.LastOffset)
		parts = append(parts, p)
	}
	return parts, nil
}

// fetchLoop fetches one partition from p.next, forever, handing batches to
// the dispatcher. Two batches circulate so fetching overlaps handling.
func (c *Consumer) fetchLoop(ctx context.Context, p *partState, out chan<- *fetchBatch) {
	free := make(chan *fetchBatch, 2)
	for range 2 {
		free <- &fetchBatch{part: p, release: free}
	}
	failures := 0
	for {
		var b *fetchBatch
		select {
		case b = <-free:
		case <-ctx.Done():
			return
		}
		err := c.fetchOnce(ctx, p, b)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			free <- b
			failures++
			c.errs.Add(1)
			resetOnNetworkError(c.tr, err)
			if n, ok := c.warn.allow(); ok {
				c.log.Warn().Err(err).Int("partition", p.id).Int64("offset", p.next.Load()).Int("failures", failures).
					Int("suppressed", n).Msg("kafka fetch failed; retrying")
			}
			if !sleepCtx(ctx, backoff(failures, c.cfg.RetryBackoffMin, c.cfg.RetryBackoffMax)) {
				return
			}
			continue
		}
		if failures > 0 {
			failures = 0
			c.reconnects.Add(1)
			c.log.Info().Int("partition", p.id).Int64("offset", p.next.Load()).Msg("kafka fetch recovered")
		}
		if len(b.msgs) == 0 && !b.atEnd && p.handled.Load() >= p.want.Load() {
			free <- b
			continue
		}
		if b.atEnd {
			// Report reaching the end once; later batches need not carry it.
			p.end = -1
		}
		select {
		case out <- b:
		case <-ctx.Done():
			return
		}
	}
}

// fetchOnce fills b with the records at p.next and advances p.next.
func (c *Consumer) fetchOnce(ctx context.Context, p *partState, b *fetchBatch) error {
	b.msgs, b.spans, b.buf, b.atEnd = b.msgs[:0], b.spans[:0], b.buf[:0], false
	offset := p.next.Load()
	res, err := c.client.Fetch(ctx, &kafka.FetchRequest{
		Topic: c.topic, Partition: p.id, Offset: offset,
		MinBytes: int64(c.cfg.MinBytes), MaxBytes: int64(c.cfg.MaxBytes), MaxWait: c.cfg.MaxWait,
	})
	if err != nil {
		return err
	}
	if cl, ok := res.Records.(io.Closer); ok {
		defer cl.Close()
	}
	if res.Error != nil {
		if errors.Is(res.Error, kafka.OffsetOutOfRange) {
			return c.resetOffset(ctx, p, offset)
		}
		return res.Error
	}
	p.hw.Store(res.HighWatermark)
	next := offset
	for {
		r, err := res.Records.ReadRecord()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			// A partial trailing batch ends the set; keep what was read.
			if len(b.msgs) > 0 && errors.Is(err, io.ErrUnexpectedEOF) {
				break
			}
			return fmt.Errorf("cannot read records: %w", err)
		}
		if r.Offset < offset {
			closeBytes(r.Key, r.Value)
			continue // batches may start before the requested offset
		}
		k0 := len(b.buf)
		if b.buf, err = appendBytes(b.buf, r.Key); err != nil {
			closeBytes(r.Value)
			return err
		}
		v0 := len(b.buf)
		if b.buf, err = appendBytes(b.buf, r.Value); err != nil {
			return err
		}
		b.msgs = append(b.msgs, Message{Topic: c.topic, Partition: p.id, Offset: r.Offset, Time: r.Time})
		b.spans = append(b.spans, span{k0, v0, len(b.buf)})
		next = r.Offset + 1
	}
	// Key and Value point into b.buf only once it has stopped growing.
	for i := range b.msgs {
		s, m := b.spans[i], &b.msgs[i]
		m.Key, m.Value = b.buf[s.k:s.v:s.v], b.buf[s.v:s.e:s.e]
		if s.k == s.v {
			m.Key = nil
		}
	}
	c.bytes.Add(uint64(len(b.buf)))
	if next == offset && res.HighWatermark > offset && len(b.msgs) == 0 {
		// Only control records or compacted-away offsets below the high
		// watermark: nothing to hand over, so step to the watermark.
		next = res.HighWatermark
	}
	p.next.Store(next)
	b.next = next
	if p.end >= 0 && (next >= p.end || res.HighWatermark >= p.end && len(b.msgs) == 0 && next >= res.HighWatermark) {
		b.atEnd = true
	}
	return nil
}

// resetOffset handles OffsetOutOfRange: before the log start (retention or
// compaction removed records) it skips forward; past the end (the broker
// lost its log) it replays from the first offset, which is safe because
// handlers ignore what they already have by seq or key.
func (c *Consumer) resetOffset(ctx context.Context, p *partState, offset int64) error {
	lo, err := c.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{
		c.topic: {kafka.FirstOffsetOf(p.id), kafka.LastOffsetOf(p.id)}}})
	if err != nil {
		return fmt.Errorf("offset %d out of range and cannot list offsets: %w", offset, err)
	}
	for _, po := range lo.Topics[c.topic] {
		if po.Partition != p.id || po.Error != nil {
			continue
		}
		to := po.FirstOffset
		if offset < po.FirstOffset {
			c.skipped.Add(uint64(po.FirstOffset - offset))
		}
		c.log.Warn().Int("partition", p.id).Int64("offset", offset).Int64("first", po.FirstOffset).Int64("last", po.LastOffset).
			Int64("resume_at", to).Msg("kafka offset out of range; resuming at the first offset")
		p.next.Store(to)
		if p.end > po.LastOffset {
			p.end = po.LastOffset
		}
		return nil
	}
	return fmt.Errorf("offset %d out of range and partition %d not listed", offset, p.id)
}

// appendBytes appends the whole of src (a record key or value; nil for
// none) to dst and closes src. Closing matters: kafka-go's fetched keys and
// values hold references to the response's 64 KiB pages, which go back to
// its page pool only once every reference is closed; without it every
// Kafka request (fetch or produce) took a new page, 15 MB/s of garbage at
// 31,000 bids/s (two thirds of callbid's allocation) and so most of its GC
// cycles.
func appendBytes(dst []byte, src kafka.Bytes) ([]byte, error) {
	if src == nil {
		return dst, nil
	}
	defer src.Close()
	n := src.Len()
	l := len(dst)
	dst = slices.Grow(dst, n)[:l+n]
	if _, err := io.ReadFull(src, dst[l:]); err != nil {
		return dst[:l], fmt.Errorf("cannot read record bytes: %w", err)
	}
	return dst, nil
}

// closeBytes closes record keys or values that are not read (see
// appendBytes).
func closeBytes(bs ...kafka.Bytes) {
	for _, b := range bs {
		if b != nil {
			b.Close()
		}
	}
}

// CaughtUp reports whether the consumer has handled every record up to the
// end offsets it saw at start (so replayed state is complete). An empty
// topic is caught up as soon as it is found.
func (c *Consumer) CaughtUp() bool { return c.caughtUp.Load() }

// LastMessageAt is when the handler last got a record (zero before any).
func (c *Consumer) LastMessageAt() time.Time {
	n := c.lastMsg.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// ConsumerStats is a point-in-time view of a consumer's counters.
type ConsumerStats struct {
	Messages   uint64 // records handed to the handler (bad ones included)
	Bad        uint64 // records skipped as bad (callbid_events_bad_total)
	Bytes      uint64 // key+value bytes handed over
	Errors     uint64 // failed requests (each retried)
	Reconnects uint64 // recoveries after failures
	Lag        int64  // records behind the high watermark, all partitions
	CaughtUp   bool
}

// Stats returns the consumer's counters.
func (c *Consumer) Stats() ConsumerStats {
	return ConsumerStats{
		Messages: c.messages.Load(), Bad: c.bad.total.Load(), Bytes: c.bytes.Load(), Errors: c.errs.Load(),
		Reconnects: c.reconnects.Load(), Lag: c.Lag(), CaughtUp: c.CaughtUp(),
	}
}

// Lag is how many records the consumer is behind the high watermarks of its
// last fetches (-1 before the partitions are known).
func (c *Consumer) Lag() int64 {
	pp := c.parts.Load()
	if pp == nil {
		return -1
	}
	var lag int64
	for _, p := range *pp {
		if d := p.hw.Load() - p.next.Load(); d > 0 {
			lag += d
		}
	}
	return lag
}

// RegisterMetrics registers callbid_events_consumer_* series labelled with
// the topic.
func (c *Consumer) RegisterMetrics(reg prometheus.Registerer) error {
	labels := prometheus.Labels{"topic": c.topic}
	u := func(a *atomic.Uint64) func() float64 { return func() float64 { return float64(a.Load()) } }
	cs := []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "callbid_events_consumer_messages_total", Help: "Kafka records handed to the handler.", ConstLabels: labels}, u(&c.messages)),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "callbid_events_consumer_bytes_total", Help: "Key and value bytes of the records handed to the handler.", ConstLabels: labels}, u(&c.bytes)),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "callbid_events_consumer_errors_total", Help: "Failed Kafka requests of the consumer (each retried).", ConstLabels: labels}, u(&c.errs)),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "callbid_events_consumer_reconnects_total", Help: "Recoveries after failed Kafka requests.", ConstLabels: labels}, u(&c.reconnects)),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "callbid_events_consumer_skipped_offsets_total", Help: "Offsets skipped because they had left the log.", ConstLabels: labels}, u(&c.skipped)),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "callbid_events_consumer_lag", Help: "Records behind the high watermark, all partitions.", ConstLabels: labels}, func() float64 { return float64(c.Lag()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "callbid_events_consumer_caught_up", Help: "1 once the replay from the beginning reached the end offsets seen at start.", ConstLabels: labels}, func() float64 {
			if c.CaughtUp() {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "callbid_events_consumer_last_message_timestamp_seconds", Help: "Unix time of the last record handed to the handler.", ConstLabels: labels}, func() float64 {
			return float64(c.lastMsg.Load()) / 1e9
		}),
	}
	cs = append(cs, c.bad.vec)
	for _, col := range cs {
		if err := reg.Register(col); err != nil {
			return fmt.Errorf("cannot register consumer metrics for %q: %w", c.topic, err)
		}
	}
	return nil
}

// resetOnNetworkError drops the transport's connection pools after a
// network failure or a stale view of the cluster. kafka-go keeps a failed pool's error until its next
// metadata refresh (random within MetadataTTL), which would delay noticing a
// broker that came back by seconds; a fresh pool dials at once.
func resetOnNetworkError(tr *kafka.Transport, err error) {
	var kerr kafka.Error
	if !errors.As(err, &kerr) || kerr == kafka.UnknownTopicOrPartition || kerr == kafka.NotLeaderForPartition ||
		kerr == kafka.LeaderNotAvailable {
		tr.CloseIdleConnections()
	}
}

func backoff(attempt int, lo, hi time.Duration) time.Duration {
	d := lo
	for i := 1; i < attempt && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	// Jitter keeps many instances from reconnecting in lockstep.
	return d/2 + rand.N(d/2+1)
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// rateLimited lets one log line through per interval and counts the rest.
type rateLimited struct {
	every      time.Duration
	last       atomic.Int64
	suppressed atomic.Int64
}

func (r *rateLimited) allow() (suppressed int, ok bool) {
	now := time.Now().UnixNano()
	last := r.last.Load()
	if now-last < int64(r.every) || !r.last.CompareAndSwap(last, now) {
		r.suppressed.Add(1)
		return 0, false
	}
	return int(r.suppressed.Swap(0)), true
}

// EndOffsets lists the current end offsets (the offset the next record
// will get) of the given partitions of the topic.
func (c *Consumer) EndOffsets(ctx context.Context, partitions []int) (map[int]int64, error) {
	reqs := make([]kafka.OffsetRequest, 0, len(partitions))
	for _, id := range partitions {
		reqs = append(reqs, kafka.LastOffsetOf(id))
	}
	lo, err := c.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{c.topic: reqs}})
	if err != nil {
		return nil, fmt.Errorf("cannot list the end offsets of %s: %w", c.topic, err)
	}
	ends := make(map[int]int64, len(partitions))
	for _, po := range lo.Topics[c.topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("cannot list the end offset of %s partition %d: %w", c.topic, po.Partition, po.Error)
		}
		ends[po.Partition] = po.LastOffset
	}
	for _, id := range partitions {
		if _, ok := ends[id]; !ok {
			return nil, fmt.Errorf("no end offset listed for %s partition %d", c.topic, id)
		}
	}
	return ends, nil
}

// Handled reports whether every record of partition id below offset end
// has been handed to the handler (the fetcher also counts offsets it stepped
// over, compacted away or control records, once the handler has had every
// record before them).
func (c *Consumer) Handled(id int, end int64) bool {
	p := c.partition(id)
	if p == nil {
		return false
	}
	if p.handled.Load() >= end {
		return true
	}
	p.wantAtLeast(end)
	return false
}
