package kafkaio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	metadataAPI "github.com/segmentio/kafka-go/protocol/metadata"
	produceAPI "github.com/segmentio/kafka-go/protocol/produce"
)

// A durable lane writes each batch with one produce request per partition
// leader, carrying every partition the batch touches. kafka.Writer sends
// one request per partition (its partitionWriter goroutines, timers and
// round trips each): a hold pass writes one record to each lease
// partition every 5 ms, so with 4 partitions that was 800 produce
// requests a second and most of the Kafka client's CPU in callbid. The
// records go to the partitions the Writer's balancer would choose
// (murmur2 of the key), in queue order within each partition, and a
// partition's records count as written only once its leader acknowledged
// them with the configured acks; a partition that failed is sent again
// (with backoff) while the ones that succeeded are not.

// recordOverhead approximates a record's framing in a record batch, as
// kafka-go's Message.totalSize does, for the batch-bytes bound.
const recordOverhead = 70

// produceBatch sends recs (sequence order) until every record is
// acknowledged; false when Close's ctx ended first. It is the durable
// lane's counterpart of write.
func (l *lane) produceBatch(recs []record) bool {
	p := l.p
	ctx := p.writeCtx
	pending := recs
	for attempt := 1; ; attempt++ {
		if ctx.Err() != nil {
			return false
		}
		p.batches.Add(1)
		left, err := l.produceOnce(ctx, pending)
		p.written.Add(uint64(len(pending) - len(left)))
		pending = left
		if err == nil && len(pending) == 0 {
			if l.failing.Swap(false) {
				p.log.Info().Str("topic", l.topic).Int("attempts", attempt).Msg("kafka writes recovered")
			}
			return true
		}
		if err == nil {
			// The batch-bytes bound left records for another request:
			// not a failure, send them at once.
			attempt = 0
			continue
		}
		p.writeErrors.Add(1)
		msg := err.Error()
		l.lastErr.Store(&msg)
		l.failing.Store(true)
		resetOnNetworkError(l.tr, err)
		if n, ok := l.warn.allow(); ok {
			p.log.Error().Err(err).Str("topic", l.topic).Int("records", len(pending)).Int("attempt", attempt).
				Int("queued", l.queued()).Int("suppressed", n).Msg(hint(l.topic, err, "kafka write failed; retrying"))
		}
		if !sleepCtx(ctx, backoff(attempt, p.cfg.RetryBackoffMin, p.cfg.RetryBackoffMax)) {
			return false
		}
	}
}

// produceOnce sends one round of produce requests for recs and returns the
// records not yet acknowledged (in order): those of failed partitions, and
// those beyond a partition's batch-bytes bound. err is the first failure.
func (l *lane) produceOnce(ctx context.Context, recs []record) ([]record, error) {
	pr := &l.prod
	leaders, err := pr.leaders(ctx, l)
	if err != nil {
		return recs, err
	}
	n := len(leaders)
	pr.assign(recs, n, int(l.p.cfg.BatchBytes))

	// One request per leader broker.
	pr.reqs = pr.reqs[:0]
	for part := range n {
		if len(pr.take[part]) == 0 {
			continue
		}
		r := pr.requestFor(leaders[part], l)
		r.parts = append(r.parts, int32(part))
	}
	var wg sync.WaitGroup
	for k := 1; k < len(pr.reqs); k++ {
		wg.Add(1)
		go func(r *leaderReq) {
			defer wg.Done()
			l.send(ctx, r)
		}(pr.reqs[k])
	}
	if len(pr.reqs) > 0 {
		l.send(ctx, pr.reqs[0])
	}
	wg.Wait()

	// Keep, in sequence order, every record whose partition failed or
	// that was left for the next request. Filtering in place is safe: the
	// requests are done, and a kept record moves only to a lower index.
	var first error
	failed := pr.failed[:0]
	for range n {
		failed = append(failed, false)
	}
	for _, r := range pr.reqs {
		for k, part := range r.parts {
			if e := r.errs[k]; e != nil {
				failed[part] = true
				if first == nil {
					first = e
				}
			}
		}
	}
	pr.failed = failed
	left := recs[:0]
	for i := range recs {
		if part := pr.partOf[i]; failed[part] || !pr.taken[i] {
			left = append(left, recs[i])
		}
	}
	clear(recs[len(left):])
	pr.recs = nil
	return left, first
}

// producer is a durable lane's produce state; only the lane's goroutine
// touches it.
type producer struct {
	bal    kafka.Murmur2Balancer
	parts  []int     // 0…n-1, for the balancer
	partOf []int32   // partition of each record of the round
	taken  []bool    // the record goes in this round's request
	take   [][]int32 // per partition: indexes of its records this round
	size   []int     // per partition: bytes taken this round
	failed []bool    // per partition
	reqs   []*leaderReq
	spare  []*leaderReq
	recs   []record // the round's records, for the readers
}

// leaderReq is one produce request: the partitions led by one broker.
type leaderReq struct {
	leader   int32
	parts    []int32
	errs     []error
	answered []bool
	readers  []partReader
	recs     []record // the request's records, partition after partition
}

// partReader hands one partition's records of a round to the encoder.
type partReader struct {
	recs  []record
	i     int
	rec   kafka.Record
	key   bytesCloser
	value bytesCloser
}

type bytesCloser struct{ bytes.Reader }

func (*bytesCloser) Close() error { return nil }

func (r *partReader) ReadRecord() (*kafka.Record, error) {
	if r.i >= len(r.recs) {
		return nil, io.EOF
	}
	rec := &r.recs[r.i]
	r.i++
	r.rec = kafka.Record{}
	if rec.key != nil {
		r.key.Reset(rec.key)
		r.rec.Key = &r.key
	}
	if rec.value != nil {
		r.value.Reset(rec.value)
		r.rec.Value = &r.value
	}
	return &r.rec, nil
}

// leaders returns the leader broker of each of the topic's partitions
// (index = partition) from the transport's metadata cache, as the Writer
// asks for its partition count.
func (pr *producer) leaders(ctx context.Context, l *lane) ([]int32, error) {
	m, err := l.tr.RoundTrip(ctx, l.w.Addr, &metadataAPI.Request{
		TopicNames: []string{l.topic}, AllowAutoTopicCreation: l.p.cfg.Topics.AutoCreate})
	if err != nil {
		return nil, err
	}
	for _, t := range m.(*metadataAPI.Response).Topics {
		if t.Name != l.topic {
			continue
		}
		if t.ErrorCode != 0 {
			return nil, kafka.Error(t.ErrorCode)
		}
		if len(t.Partitions) == 0 {
			break
		}
		out := make([]int32, len(t.Partitions))
		for _, p := range t.Partitions {
			if int(p.PartitionIndex) >= len(out) || p.PartitionIndex < 0 {
				return nil, fmt.Errorf("metadata of %s: partition %d of %d", l.topic, p.PartitionIndex, len(out))
			}
			out[p.PartitionIndex] = p.LeaderID
		}
		return out, nil
	}
	return nil, kafka.UnknownTopicOrPartition
}

// assign puts each record on its partition and takes, per partition, the
// records up to batchBytes (at least one) in order.
func (pr *producer) assign(recs []record, n, batchBytes int) {
	if len(pr.parts) != n {
		pr.parts = make([]int, n)
		for k := range pr.parts {
			pr.parts[k] = k
		}
		pr.take = make([][]int32, n)
		pr.size = make([]int, n)
	}
	for k := range pr.take {
		pr.take[k] = pr.take[k][:0]
		pr.size[k] = 0
	}
	pr.partOf = pr.partOf[:0]
	pr.taken = pr.taken[:0]
	pr.recs = recs
	for i := range recs {
		part := int32(pr.bal.Balance(kafka.Message{Key: recs[i].key}, pr.parts...))
		pr.partOf = append(pr.partOf, part)
		sz := len(recs[i].key) + len(recs[i].value) + recordOverhead
		// A partition stops taking at its first record over the bound, so
		// the records it takes stay a prefix (its order).
		ok := len(pr.take[part]) == 0 || pr.size[part] >= 0 && pr.size[part]+sz <= batchBytes
		if ok {
			pr.take[part] = append(pr.take[part], int32(i))
			pr.size[part] += sz
		} else {
			pr.size[part] = -1
		}
		pr.taken = append(pr.taken, ok)
	}
}

// requestFor returns the round's request to leader, adding it if new.
func (pr *producer) requestFor(leader int32, l *lane) *leaderReq {
	for _, r := range pr.reqs {
		if r.leader == leader {
			return r
		}
	}
	var r *leaderReq
	if len(pr.spare) > len(pr.reqs) {
		r = pr.spare[len(pr.reqs)]
	} else {
		r = &leaderReq{}
		pr.spare = append(pr.spare, r)
	}
	r.leader = leader
	r.parts = r.parts[:0]
	pr.reqs = append(pr.reqs, r)
	return r
}

// send writes r's partitions in one produce request and sets r.errs (one
// per partition, nil when acknowledged).
func (l *lane) send(ctx context.Context, r *leaderReq) {
	pr := &l.prod
	r.errs, r.answered, r.readers, r.recs = r.errs[:0], r.answered[:0], r.readers[:0], r.recs[:0]
	for _, part := range r.parts {
		r.errs = append(r.errs, nil)
		r.answered = append(r.answered, false)
		for _, i := range pr.take[part] {
			r.recs = append(r.recs, pr.recs[i])
		}
	}
	parts := make([]produceAPI.RequestPartition, len(r.parts))
	at := 0
	for k, part := range r.parts {
		n := len(pr.take[part])
		r.readers = append(r.readers, partReader{recs: r.recs[at : at+n]})
		at += n
		parts[k] = produceAPI.RequestPartition{Partition: part, RecordSet: protocol.RecordSet{Records: &r.readers[k]}}
	}
	timeout := l.p.cfg.RequestTimeout
	req := &produceAPI.Request{
		Acks:    int16(l.p.acks),
		Timeout: int32(timeout.Milliseconds()),
		Topics:  []produceAPI.RequestTopic{{Topic: l.topic, Partitions: parts}},
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	m, err := l.tr.RoundTrip(rctx, l.w.Addr, req)
	if err != nil {
		for k := range r.errs {
			r.errs[k] = err
		}
		// The transport may still encode the request after a timeout:
		// leave it these buffers and make new ones for the next request.
		r.readers, r.recs = nil, nil
		return
	}
	if l.p.acks == kafka.RequireNone || m == nil {
		return
	}
	res, ok := m.(*produceAPI.Response)
	if !ok {
		err := fmt.Errorf("kafka answered a produce request with %T", m)
		for k := range r.errs {
			r.errs[k] = err
		}
		return
	}
	// Every partition sent must be answered; one not in the answer failed.
	for _, t := range res.Topics {
		if t.Topic != l.topic {
			continue
		}
		for _, pp := range t.Partitions {
			for k, part := range r.parts {
				if part == pp.Partition {
					r.answered[k] = true
					if pp.ErrorCode != 0 {
						r.errs[k] = partitionError(pp.ErrorCode, pp.ErrorMessage)
					}
				}
			}
		}
	}
	for k := range r.parts {
		if !r.answered[k] {
			r.errs[k] = errNoAnswer
		}
	}
}

var errNoAnswer = errors.New("kafka did not answer for the partition")

func partitionError(code int16, msg string) error {
	if msg == "" {
		return kafka.Error(code)
	}
	return fmt.Errorf("%w: %s", kafka.Error(code), msg)
}
