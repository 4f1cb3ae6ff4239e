package numbers

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callbid/callbid/kafkaio"
	"github.com/prometheus/client_golang/prometheus"
)

// LeaseLog is the never-dropping writer of events.TopicLeases
// (*kafkaio.Durable, which New picks up from a publisher that offers it).
// Records are written in Append order.
type LeaseLog interface {
	// Append queues a record and returns its sequence number; 0 when the
	// writer is closed.
	Append(key, value []byte) uint64
	// Acked reports whether record seq and every one before it is written.
	Acked(seq uint64) bool
	// Wait returns nil once record seq is written, or an error when ctx
	// ends or the writer stopped first.
	Wait(ctx context.Context, seq uint64) error
	// Health is the writer's state at now.
	Health(now time.Time) kafkaio.DurableHealth
}

// ErrLeaseNotDurable means a win or billing notice's lease record was not
// acknowledged by Kafka within numbers.durable_timeout.
var ErrLeaseNotDurable = errors.New("the lease record is not durable yet")

// ErrNotHeld means the number has no reservation of this generation in
// this process: it moved on to another impression, or the reservation is
// an earlier process's that never reached the lease log. There is no lease
// of this ref to wait for.
var ErrNotHeld = errors.New("the reservation is not held by this process")

const (
	// unwritten is the leaseSeq of a record the closed writer refused.
	unwritten = math.MaxUint64
	// holdLogInterval is how often Run writes new holds to the lease log
	// and checks its health.
	holdLogInterval = 5 * time.Millisecond
	// floorMaxAge: a replayed record older than this says nothing a notice
	// token (valid 24h at most) can be compared with, and its generation
	// may be a full 32-bit cycle away.
	floorMaxAge = 30 * time.Hour
)

// durableState is what Pools keeps about the lease log.
type durableState struct {
	mu      sync.Mutex // guards maxGen and seenGen (replay)
	maxGen  uint32
	seenGen bool

	holdMu      sync.Mutex // one LogHolds at a time
	holdScratch []int32    // under holdMu
	// under holdMu: each shard's reservation count when LogHolds last
	// logged it (shards of all pools in order); only a reservation adds a
	// hold not yet logged, so a shard whose count has not moved is skipped
	// without reading its held tail (a cache miss per shard per pass).
	holdSeen []uint64
	lastPass int64 // under holdMu: unix nanos of Run's last batch pass

	// Hold batches (holdbatch.go), guarded by batchMu.
	batchMu      sync.Mutex
	batches      []holdBatch // one per lease-topic partition
	partOf       func(key []byte) int
	batchNum     uint64 // batches written by this process
	batchKey     []byte
	tombs        []tomb        // batch keys to delete, oldest first
	lastBatchSeq atomic.Uint64 // lease-log sequence of the latest batch
	holdBatches  atomic.Uint64 // batches written

	lastWarn      atomic.Int64 // unix nanos of the last restore-collision warning
	down          atomic.Bool
	refusedNoBids atomic.Uint64 // Reserve refused: the lease log cannot be written
	notDurable    atomic.Uint64 // AwaitLease timed out
	holdsLogged   atomic.Uint64
}

// noteReplayedGen records the generation of a replayed record of entry i;
// the caller holds its shard lock. The floor is the highest generation read,
// not the latest: one number's records come from several writers (the
// owner's holds, any instance's leases) and the log's order is not theirs,
// so an older reservation's record may come after a newer one's; a record
// too old to compare (or without a reservation) leaves the floor alone.
func (p *Pools) noteReplayedGen(i int32, gen uint32, res, now int64) {
	if res == 0 || now-res > int64(floorMaxAge) {
		return
	}
	if f := p.floor[i]; f == 0 || int32(gen-f) > 0 {
		p.floor[i] = gen
	}
	d := &p.durable
	d.mu.Lock()
	if !d.seenGen || int32(gen-d.maxGen) > 0 {
		d.maxGen, d.seenGen = gen, true
	}
	d.mu.Unlock()
}

// quarantineFresh is how many never-used entries at the head of each
// shard's free list ReplayDone keeps out of reservation for a hold time
// (at most an eighth of the shard's free entries): the ones an earlier
// process would have reserved next, and may have reserved in its last few
// ms without the hold reaching the lease log.
const quarantineFresh = 8

// quarantine runs once the lease log is replayed (t: unix nanos). The holds
// an earlier process may have made in its last few ms, before LogHolds wrote
// them, are on numbers the log shows as free: the never-used entries at the
// head of each free list (reservations take the head) and holds that had
// expired (a freed hold goes back to the head). Those entries are held, with
// no reservation, for one hold time, so a late win for such a hold can still
// be restored (Restore) instead of colliding with a new bid.
func (p *Pools) quarantine(t int64) {
	for pi := range p.pools {
		pl := &p.pools[pi]
		for k := range pl.shards {
			s := &pl.shards[k]
			s.mu.Lock()
			fresh := 0
			maxFresh := min(quarantineFresh, int(s.count[stFree])/8)
			for i := s.lists[stFree].head; i >= 0; {
				next := p.entries[i].next
				p.holdBack(s, i, t, &fresh, maxFresh)
				i = next
			}
			s.mu.Unlock()
		}
	}
}

// holdBack quarantines free or parked entry i of shard s (locked) when it
// is a hold that expired, or a never-used number while fewer than maxFresh
// of those were taken (fresh counts them): it is held with no reservation
// for one hold time, and logged, so the next owner knows this process never
// handed it out and quarantines the entries after it instead. It reports
// whether i was held back.
func (p *Pools) holdBack(s *shard, i int32, t int64, fresh *int, maxFresh int) bool {
	e := &p.entries[i]
	expiredHold := e.flags&fData != 0 && e.flags&fLeased == 0
	neverUsed := p.replayed[i/64]&(1<<(i%64)) == 0
	if !expiredHold && (!neverUsed || *fresh >= maxFresh) {
		return false
	}
	if neverUsed {
		*fresh++
		e.flags = fHoldLogged
	}
	s.remove(p.entries, i)
	e.reservedAt = t
	s.insertSorted(p.entries, stHeld, i)
	s.quarantined++
	p.publishLease(s, i, "")
	return true
}

// LogHolds writes every hold not yet in the lease log, oldest first, so a
// win after a restart finds its reservation. Run calls it every few ms, off
// the bid path: Reserve only links the entry at the tail of its shard's
// held list, and this walks back from the tail to the first hold already
// logged.
func (p *Pools) LogHolds() { p.logHolds(time.Time{}) }

// logHolds is LogHolds on Run's tick (now): with hold batches, a pass runs
// at most 65,536 times per tombstoneAfter, so that very long holds do not
// make the batches waiting for their tombstones pile up (with the default
// holds every tick is a pass). A zero now always makes a pass.
func (p *Pools) logHolds(now time.Time) {
	if p.leases == nil && p.pub == nil {
		return
	}
	d := &p.durable
	d.holdMu.Lock()
	defer d.holdMu.Unlock()
	batched := p.beginHoldBatches()
	if batched && !now.IsZero() {
		t := now.UnixNano()
		if t-d.lastPass < p.tombstoneAfter()/65536 {
			return
		}
		d.lastPass = t
	}
	g := 0
	for pi := range p.pools {
		pl := &p.pools[pi]
		for k := range pl.shards {
			s := &pl.shards[k]
			if g == len(d.holdSeen) {
				d.holdSeen = append(d.holdSeen, math.MaxUint64) // never seen: look
			}
			seen := &d.holdSeen[g]
			g++
			s.mu.Lock()
			if s.reservations == *seen {
				s.mu.Unlock()
				continue
			}
			*seen = s.reservations
			sc := d.holdScratch[:0]
			for i := s.lists[stHeld].tail; i >= 0 && p.entries[i].flags&fHoldLogged == 0; i = p.entries[i].prev {
				sc = append(sc, i)
			}
			if batched && len(sc) > 0 {
				d.batchMu.Lock()
			}
			for j := len(sc) - 1; j >= 0; j-- {
				i := sc[j]
				p.entries[i].flags |= fHoldLogged
				if batched {
					p.batchHold(pl, s, i)
				} else {
					p.publishLease(s, i, "")
				}
			}
			if batched && len(sc) > 0 {
				d.batchMu.Unlock()
			}
			s.mu.Unlock()
			d.holdScratch = sc
			d.holdsLogged.Add(uint64(len(sc)))
		}
	}
	if batched {
		p.flushHoldBatches()
		p.writeTombstones(p.clockNow().UnixNano())
	}
}

// CheckLeaseLog turns reservations off while the lease log cannot be
// written (the last write failed, or its oldest pending record is older
// than numbers.lease_log_stall) and on again once it can. Run calls it
// every few ms.
func (p *Pools) CheckLeaseLog(now time.Time) {
	if p.leases == nil {
		return
	}
	why := p.leaseLogProblem(now)
	d := &p.durable
	if why == "" {
		if d.down.Swap(false) {
			p.refuse.And(^refuseLeaseLog)
			p.log.Info().Uint64("refused_nobids", d.refusedNoBids.Load()).
				Msg("lease log (callbid.leases.v1) is writable again; reserving numbers")
		}
		return
	}
	if !d.down.Swap(true) {
		p.refuse.Or(refuseLeaseLog)
		p.log.Error().Str("reason", why).Msg("lease log (callbid.leases.v1) cannot be written; no number is reserved until it can")
	}
}

func (p *Pools) leaseLogProblem(now time.Time) string {
	h := p.leases.Health(now)
	switch {
	case h.Stopped:
		return "the kafka producer is closed"
	case h.Failing:
		return fmt.Sprintf("the last write failed (%d lease records pending): %s", h.Pending, h.LastError)
	case h.Oldest > p.cfg.LeaseLogStall:
		return fmt.Sprintf("the oldest of %d pending lease records has waited %s for kafka", h.Pending, h.Oldest.Round(time.Millisecond))
	}
	return ""
}

// LeaseLogReady is the numbers part of /readyz: false, with the reason,
// while reservations are refused because the lease log cannot be written.
func (p *Pools) LeaseLogReady() (bool, string) {
	if p.leases == nil || !p.durable.down.Load() {
		return true, ""
	}
	why := p.leaseLogProblem(time.Now())
	if why == "" {
		why = "recovering"
	}
	return false, "numbers: the lease log (callbid.leases.v1) cannot be written, no number is reserved: " + why
}

// AwaitLease returns once the latest lease record of ref's reservation is
// acknowledged by Kafka, or ErrLeaseNotDurable after
// numbers.durable_timeout. The number stays leased either way and the record
// is retried until written: the notice's caller answers an error the
// exchange retries, and the retry waits again. A reservation the number no
// longer carries (collision, fallback, unknown) has nothing to wait for.
func (p *Pools) AwaitLease(ref Ref) error {
	if p.leases == nil {
		return nil
	}
	idx, gen := uint32(ref>>32), uint32(ref)
	if idx == fallbackIdx || int64(idx) >= int64(len(p.entries)) {
		return nil
	}
	i := int32(idx)
	s := p.shardOf(p.poolOf(i), i)
	s.mu.Lock()
	seq, match := p.leaseSeq[i], p.entries[i].gen == gen
	s.mu.Unlock()
	if !match {
		return fmt.Errorf("%w: %s", ErrNotHeld, p.keyString(i))
	}
	if seq == holdBatched {
		// Only a hold (no lease record since): it is in a batch written by
		// now or about to be; waiting for the latest batch covers it.
		p.flushHoldBatches()
		seq = p.durable.lastBatchSeq.Load()
	}
	if seq == 0 || p.leases.Acked(seq) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.DurableTimeout)
	defer cancel()
	if err := p.leases.Wait(ctx, seq); err != nil {
		p.durable.notDurable.Add(1)
		return fmt.Errorf("%w: %s: %w", ErrLeaseNotDurable, p.keyString(i), err)
	}
	return nil
}

// Restore re-creates and leases a reservation an earlier process made
// whose hold never reached the lease log (Win said WinStale), from what the
// notice token carries (c: campaign, publisher, exchange, skill, bid id,
// price, device hashes; reservedAt: the token's issue time). It leases the
// number only when nothing the lease log knows is newer than the
// reservation and the lease would not have ended yet:
//   - the number is free: leased (WinRestored);
//   - it is held by a newer bid that is not won yet: the shown ad wins, the
//     hold is given up (that bid's own win becomes a collision);
//   - it is leased or cooling down: a lease acknowledged since, kept
//     (WinCollision).
//
// For a billing notice (billed), first is false only when the reservation
// is known to be billed before.
func (p *Pools) Restore(ref Ref, c *Claim, reservedAt time.Time, billed bool, now time.Time) (r WinResult, first bool) {
	idx, gen := uint32(ref>>32), uint32(ref)
	if idx == fallbackIdx || int64(idx) >= int64(len(p.entries)) || c == nil {
		return WinUnknown, true
	}
	i := int32(idx)
	t, res := now.UnixNano(), reservedAt.UnixNano()
	pl := p.poolOf(i)
	s := p.shardOf(pl, i)
	s.mu.Lock()
	e := &p.entries[i]
	if e.gen == gen && (p.owns(i) || !p.newerThanReplica(i, gen)) {
		s.mu.Unlock()
		return p.win(ref, billed, now)
	}
	defer s.mu.Unlock()
	f := p.floor[i]
	var why string
	switch {
	case p.own.Load().unreadEntry(i):
		why = "this instance has not read the number's lease partition since it gained it"
		p.refusedUnread.Add(1)
	case !p.previousProcess(gen) && (p.owns(i) || !p.newerThanReplica(i, gen)):
		why = "a stale notice of this process"
	case !p.owns(i) && t >= res+pl.hold-ownerMargin:
		why = "another instance owns the number and its hold may have ended there"
	case f != 0 && int32(gen-f) <= 0:
		why = "the lease log knows a newer reservation of the number"
	case t >= res+pl.lease:
		why = "its lease would be over"
	case e.state == stLeased || e.state == stCooldown:
		why = "the number was leased to another impression since"
	}
	if why != "" {
		s.collisions++
		// Not silent: the ad may show a number that now belongs to another.
		if last := p.durable.lastWarn.Load(); t-last > int64(10*time.Second) && p.durable.lastWarn.CompareAndSwap(last, t) {
			p.log.Warn().Str("number", p.keyString(i)).Str("bid_id", c.BidID).Str("reason", why).
				Msg("a win for a reservation made before a restart cannot be restored (collision; logged at most every 10s)")
		}
		return WinCollision, true
	}
	if e.state == stHeld && e.flags&fData != 0 && !p.previousProcess(e.gen) {
		s.invalidated++ // a bid of this process loses its number
	}
	s.remove(p.entries, i)
	s.pushTail(p.entries, stFree, i) // lease takes it from a list
	e.gen = gen
	e.reservedAt, e.wonAt, e.leaseEnd = res, 0, 0
	e.flags = fData | fHoldLogged | fLate
	if billed {
		e.flags |= fBilled
	}
	p.setClaim(s, e, c)
	p.lease(pl, s, i, t)
	s.restored++
	return WinRestored, true
}

// LeaseLogStats is the lease log's side of the pools.
type LeaseLogStats struct {
	Writable      bool    `json:"writable"`
	Reason        string  `json:"reason,omitempty"`
	Pending       int     `json:"pending"`
	OldestSeconds float64 `json:"oldest_seconds"`
	RefusedNoBids uint64  `json:"refused_nobids"`
	NotDurable    uint64  `json:"not_durable"`
	HoldsLogged   uint64  `json:"holds_logged"`
	HoldBatches   uint64  `json:"hold_batches"`
	Restored      uint64  `json:"restored"`
	Invalidated   uint64  `json:"invalidated_holds"`
}

// LeaseLogStats returns the lease log counters (metrics and admin).
func (p *Pools) LeaseLogStats() LeaseLogStats {
	d := &p.durable
	st := LeaseLogStats{Writable: true, RefusedNoBids: d.refusedNoBids.Load(), NotDurable: d.notDurable.Load(),
		HoldsLogged: d.holdsLogged.Load(), HoldBatches: d.holdBatches.Load()}
	if p.leases != nil {
		h := p.leases.Health(time.Now())
		st.Pending, st.OldestSeconds = h.Pending, h.Oldest.Seconds()
		if ok, why := p.LeaseLogReady(); !ok {
			st.Writable, st.Reason = false, why
		}
	}
	for pi := range p.pools {
		pl := &p.pools[pi]
		for k := range pl.shards {
			s := &pl.shards[k]
			s.mu.Lock()
			st.Restored += s.restored
			st.Invalidated += s.invalidated
			s.mu.Unlock()
		}
	}
	return st
}

var (
	descLogWritable = prometheus.NewDesc("callbid_numbers_lease_log_writable", "1 while the lease log can be written (numbers are reserved only then).", nil, nil)
	descLogPending  = prometheus.NewDesc("callbid_numbers_lease_log_pending", "Lease records queued or being written, not yet acknowledged by Kafka.", nil, nil)
	descLogOldest   = prometheus.NewDesc("callbid_numbers_lease_log_oldest_seconds", "Age of the oldest lease record not yet acknowledged.", nil, nil)
	descLogRefused  = prometheus.NewDesc("callbid_numbers_lease_log_refused_total", "Reservations refused because the lease log could not be written.", nil, nil)
	descLogNotDur   = prometheus.NewDesc("callbid_numbers_lease_not_durable_total", "Win or billing notices answered 503: their lease record was not acknowledged within numbers.durable_timeout.", nil, nil)
	descLogHolds    = prometheus.NewDesc("callbid_numbers_hold_records_total", "Hold records written to the lease log.", nil, nil)
	descLogBatches  = prometheus.NewDesc("callbid_numbers_hold_batches_total", "Lease-log records that carried hold records (one per lease-topic partition per pass of the hold writer).", nil, nil)
	descLogRestored = prometheus.NewDesc("callbid_numbers_restored_total", "Reservations of an earlier process re-created from their notice token and leased.", nil, nil)
	descLogInval    = prometheus.NewDesc("callbid_numbers_invalidated_holds_total", "Holds given up to a restored lease of the same number.", nil, nil)
)

type leaseLogCollector struct{ p *Pools }

// RegisterLeaseLogMetrics registers the callbid_numbers_lease_log_* series.
func (p *Pools) RegisterLeaseLogMetrics(reg prometheus.Registerer) error {
	return reg.Register(leaseLogCollector{p})
}

func (c leaseLogCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLogWritable, descLogPending, descLogOldest, descLogRefused, descLogNotDur,
		descLogHolds, descLogBatches, descLogRestored, descLogInval} {
		ch <- d
	}
}

func (c leaseLogCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.p.LeaseLogStats()
	g, ctr := prometheus.GaugeValue, prometheus.CounterValue
	w := 0.0
	if st.Writable {
		w = 1
	}
	ch <- prometheus.MustNewConstMetric(descLogWritable, g, w)
	ch <- prometheus.MustNewConstMetric(descLogPending, g, float64(st.Pending))
	ch <- prometheus.MustNewConstMetric(descLogOldest, g, st.OldestSeconds)
	ch <- prometheus.MustNewConstMetric(descLogRefused, ctr, float64(st.RefusedNoBids))
	ch <- prometheus.MustNewConstMetric(descLogNotDur, ctr, float64(st.NotDurable))
	ch <- prometheus.MustNewConstMetric(descLogHolds, ctr, float64(st.HoldsLogged))
	ch <- prometheus.MustNewConstMetric(descLogBatches, ctr, float64(st.HoldBatches))
	ch <- prometheus.MustNewConstMetric(descLogRestored, ctr, float64(st.Restored))
	ch <- prometheus.MustNewConstMetric(descLogInval, ctr, float64(st.Invalidated))
}
