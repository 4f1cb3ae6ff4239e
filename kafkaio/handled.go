package kafkaio

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// WaitHandled lets a caller wait for the consumer's progress instead of
// polling Handled (numbers/gained.go waits for a gained lease partition):
// the dispatcher wakes a partition's waiters when it moves handled past
// their offset, and checks one atomic counter when nobody waits.

// ErrConsumerStopped means Run returned before the records waited for
// were handled.
var ErrConsumerStopped = errors.New("the kafka consumer stopped")

// runSignals tells waiters that Run has found the partitions (found) and
// that it has returned (stopped).
type runSignals struct {
	found, stopped     chan struct{}
	findOnce, stopOnce sync.Once
}

func (r *runSignals) find() { r.findOnce.Do(func() { close(r.found) }) }
func (r *runSignals) stop() { r.stopOnce.Do(func() { close(r.stopped) }) }

// waiters are the WaitHandled calls on one partition.
type waiters struct {
	n    atomic.Int32 // len(list): the dispatcher skips the lock at 0
	mu   sync.Mutex
	list []waiter // under mu
}

type waiter struct {
	end int64
	ch  chan struct{} // closed once handled reaches end
}

func (w *waiters) add(end int64) chan struct{} {
	ch := make(chan struct{})
	w.mu.Lock()
	w.list = append(w.list, waiter{end, ch})
	w.n.Store(int32(len(w.list)))
	w.mu.Unlock()
	return ch
}

func (w *waiters) remove(ch chan struct{}) {
	w.mu.Lock()
	w.list = slices.DeleteFunc(w.list, func(x waiter) bool { return x.ch == ch })
	w.n.Store(int32(len(w.list)))
	w.mu.Unlock()
}

// wake releases the waiters whose offset handled has reached; the
// dispatcher calls it after every batch. A waiter registers (n) before it
// reads handled, and the dispatcher stores handled before it reads n, so
// one of the two sees the other.
func (w *waiters) wake(handled int64) {
	if w.n.Load() == 0 {
		return
	}
	w.mu.Lock()
	w.list = slices.DeleteFunc(w.list, func(x waiter) bool {
		if x.end <= handled {
			close(x.ch)
			return true
		}
		return false
	})
	w.n.Store(int32(len(w.list)))
	w.mu.Unlock()
}

// wantAtLeast asks the fetcher to pass on batches with no records until
// handled reaches end, so a gap at the end of the partition (compacted
// offsets, control records) still moves handled.
func (p *partState) wantAtLeast(end int64) {
	for w := p.want.Load(); w < end && !p.want.CompareAndSwap(w, end); w = p.want.Load() {
	}
}

// partition is partition id's state; nil before Run has found the
// partitions, or when the topic has no such partition.
func (c *Consumer) partition(id int) *partState {
	ps := c.parts.Load()
	if ps == nil {
		return nil
	}
	for _, p := range *ps {
		if p.id == id {
			return p
		}
	}
	return nil
}

// WaitHandled returns nil once every record of partition id below offset
// end has been handed to the handler (Handled turns true); an error when
// ctx ends first, when Run returns first (ErrConsumerStopped), or when the
// topic has no partition id. It may be called before Run has found the
// partitions, from any goroutine.
func (c *Consumer) WaitHandled(ctx context.Context, id int, end int64) error {
	select {
	case <-c.run.found:
	default:
		select {
		case <-c.run.found:
		case <-c.run.stopped:
			return ErrConsumerStopped
		case <-ctx.Done():
			return fmt.Errorf("cannot wait for %s partition %d to be read: %w", c.topic, id, ctx.Err())
		}
	}
	p := c.partition(id)
	if p == nil {
		return fmt.Errorf("cannot wait for %s partition %d to be read: the topic has no such partition", c.topic, id)
	}
	if p.handled.Load() >= end {
		return nil
	}
	ch := p.waiting.add(end)
	p.wantAtLeast(end)
	if p.handled.Load() >= end {
		p.waiting.remove(ch)
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		p.waiting.remove(ch)
		return fmt.Errorf("cannot wait for %s partition %d to be read: %w", c.topic, id, ctx.Err())
	case <-c.run.stopped:
		p.waiting.remove(ch)
		if p.handled.Load() >= end {
			return nil
		}
		return ErrConsumerStopped
	}
}
