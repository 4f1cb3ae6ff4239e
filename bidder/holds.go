package bidder

import (
	"encoding/binary"
	"math"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callbid/callbid/numbers"
	"github.com/prometheus/client_golang/prometheus"
)

// Hold budgets: no single source can hold more than its configured share of
// a number pool, so a flood of 256-imp requests from one client (or through
// one exchange name) cannot starve everyone else.
//
// Each (pool, client address) and (pool, exchange) pair has a token bucket
// of reservations, kept as a GCRA theoretical arrival time in one atomic
// (no mutex, no allocation on the bid path). For a pool of size N with hold
// H and a share s, the budget is C = s·N holds: a burst of C/8 and a refill
// rate of 7C/(8H) per second. Since a hold lasts at most H (the pool frees
// it at expiry, or a loss or win ends it sooner), the holds a source has at
// any moment are at most the reservations it made in the last H, which the
// bucket bounds by burst + rate·H = C. Wins turn holds into leases, which
// the budget does not bound: a source's leases grow at most at its refill
// rate for as long as it fires win notices.
//
// The client is checked before the exchange, so a client refused by its own
// budget spends none of the exchange's: a flooder that names a real exchange
// takes at most its client share of that exchange's budget. Exchange names
// that are not configured (exchanges, nbr_exchanges) share one budget,
// "unconfigured": anyone can invent ?exchange= names, and each new name
// must not bring a fresh share of the pool.
//
// The client is the TCP peer: forwarding headers are not trusted (anyone can
// write them). Behind a load balancer every request has the balancer's
// address, so set client_share to 1 there and rely on the exchange share.
// IPv6 clients are keyed by their /64 (one host usually has the whole /64).
// Client buckets live in a fixed open-addressed table; a bucket idle long
// enough to be full again is reused for a new client, and when none can be
// found the client shares an overflow bucket per pool.

// holdBurstDiv sets the burst to 1/holdBurstDiv of a source's budget: small
// enough that the steady rate leaves room for a legitimate single-address
// exchange sending most of the traffic.
const holdBurstDiv = 8

const (
	holdTableSize = 1 << 14 // client buckets
	holdProbe     = 8
	holdOverflow  = 64 // overflow buckets, by pool index
	holdCASTries  = 64
)

// holdParams is one pool's budget for one kind of source, compiled from the
// pool's size and hold; interval 0 means unlimited.
type holdParams struct {
	interval  int64 // ns of refill per hold
	tolerance int64 // (burst-1) × interval
	window    int64 // the pool's hold, ns: the metrics' window
}

func newHoldParams(share float64, size int, hold time.Duration) holdParams {
	if share >= 1 || size <= 0 || hold <= 0 {
		return holdParams{}
	}
	c := share * float64(size)
	burst := math.Max(1, math.Floor(c/holdBurstDiv))
	refill := c - burst // holds refilled over one hold period
	if refill < 1 {
		// A budget under two holds: one reservation per hold period.
		return holdParams{interval: int64(hold), tolerance: 0, window: int64(hold)}
	}
	iv := int64(math.Ceil(float64(hold) / refill))
	return holdParams{interval: iv, tolerance: int64(burst-1) * iv, window: int64(hold)}
}

// holdSlot is one source's bucket for one pool.
type holdSlot struct {
	key atomic.Uint64 // 0: empty
	tat atomic.Int64  // GCRA theoretical arrival time, unix ns
	// Sliding-window count of reservations (the holds estimate).
	winStart  atomic.Int64
	cur, prev atomic.Uint64
	reserved  atomic.Uint64
	refused   atomic.Uint64
	addr      [2]atomic.Uint64 // client address (16 bytes), for the admin listing
	pool      atomic.Int32
}

// take admits one reservation at now, or reports false when the source's
// budget is spent.
func (s *holdSlot) take(p *holdParams, now int64) bool {
	for range holdCASTries {
		tat := s.tat.Load()
		t := max(tat, now)
		if t-now > p.tolerance {
			s.refused.Add(1)
			return false
		}
		if s.tat.CompareAndSwap(tat, t+p.interval) {
			s.count(p, now)
			return true
		}
	}
	s.refused.Add(1)
	return false // contended beyond reason: refuse rather than spin
}

// refund returns a token taken for a reservation that did not happen.
func (s *holdSlot) refund(p *holdParams) {
	s.tat.Add(-p.interval)
	decPositive(&s.cur) // the window may have rotated since the take
	decPositive(&s.reserved)
}

func decPositive(v *atomic.Uint64) {
	for range holdCASTries {
		n := v.Load()
		if n == 0 || v.CompareAndSwap(n, n-1) {
			return
		}
	}
}

func (s *holdSlot) count(p *holdParams, now int64) {
	if w := s.winStart.Load(); now-w >= p.window && s.winStart.CompareAndSwap(w, now) {
		c := s.cur.Swap(0)
		if now-w >= 2*p.window {
			c = 0
		}
		s.prev.Store(c)
	}
	s.cur.Add(1)
	s.reserved.Add(1)
}

// holds estimates the reservations of the last window at now: an upper
// bound of the numbers the source holds (wins and losses end holds sooner).
func (s *holdSlot) holds(window, now int64) float64 {
	if window <= 0 {
		return float64(s.cur.Load())
	}
	el := now - s.winStart.Load()
	if el >= 2*window {
		return 0
	}
	if el >= window {
		return float64(s.cur.Load()) * float64(2*window-el) / float64(window)
	}
	return float64(s.prev.Load())*float64(window-el)/float64(window) + float64(s.cur.Load())
}

// exchangeHolds is one exchange budget's buckets, one per pool. It outlives
// snapshots (a reload keeps the budget spent).
type exchangeHolds struct {
	name  string
	slots []holdSlot
}

// exchangeCounters are one exchange name's hold metrics.
type exchangeCounters struct {
	reserved prometheus.Counter
	refused  [2]prometheus.Counter // by client, by exchange
}

// unconfiguredBudget is the budget of every exchange name not in the config.
const unconfiguredBudget = "unconfigured"

func holdBudgetName(cfg *Config, name string) string {
	if _, ok := cfg.Exchanges[name]; ok || name == "default" {
		return name
	}
	for _, n := range cfg.Server.NBRExchanges {
		if n == name {
			return name
		}
	}
	return unconfiguredBudget
}

// holdLimiter keeps every source's buckets; shared across snapshots.
type holdLimiter struct {
	clients  []holdSlot
	overflow [holdOverflow]holdSlot
	mu       sync.Mutex // exchanges: written when a snapshot resolves a new name
	byName   map[string]*exchangeHolds
	counterM map[string]*exchangeCounters
	m        *metrics
}

func newHoldLimiter(m *metrics) *holdLimiter {
	return &holdLimiter{clients: make([]holdSlot, holdTableSize), byName: map[string]*exchangeHolds{},
		counterM: map[string]*exchangeCounters{}, m: m}
}

// counters returns the metrics of exchange name.
func (l *holdLimiter) counters(name string) *exchangeCounters {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.counterM[name]
	if !ok {
		c = &exchangeCounters{reserved: l.m.holdsReserved.WithLabelValues(name)}
		c.refused[0] = l.m.holdsRefused.WithLabelValues(name, "client")
		c.refused[1] = l.m.holdsRefused.WithLabelValues(name, "exchange")
		l.counterM[name] = c
	}
	return c
}

// exchange returns the persistent buckets of exchange name for nPools pools.
func (l *holdLimiter) exchange(name string, nPools int) *exchangeHolds {
	l.mu.Lock()
	defer l.mu.Unlock()
	x, ok := l.byName[name]
	if ok && len(x.slots) >= nPools {
		return x
	}
	// New, or the pools grew (they change only on restart; a test may
	// build the bidder before its pools report sizes): a fresh budget.
	x = &exchangeHolds{name: name, slots: make([]holdSlot, nPools)}
	l.byName[name] = x
	return x
}

// clientKey is the client's address as 16 bytes: IPv4 in IPv4-mapped form,
// IPv6 cut to its /64; zero when the address is unknown.
func clientKey(ip netip.Addr) [2]uint64 {
	ip = ip.Unmap()
	switch {
	case ip.Is4():
		v4 := ip.As4()
		return [2]uint64{0, 0xffff<<32 | uint64(binary.BigEndian.Uint32(v4[:]))}
	case ip.Is6():
		v6 := ip.As16()
		return [2]uint64{binary.BigEndian.Uint64(v6[:8]), 0}
	}
	return [2]uint64{}
}

func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// client finds (or claims) the bucket of addr for pool at now.
func (l *holdLimiter) client(addr [2]uint64, pool int, now int64) *holdSlot {
	key := mix64(addr[0]^mix64(addr[1]^uint64(pool)<<48)) | 1
	mask := uint64(len(l.clients) - 1)
	var idle *holdSlot
	for i := uint64(0); i < holdProbe; i++ {
		s := &l.clients[(key+i)&mask]
		switch k := s.key.Load(); {
		case k == key:
			return s
		case k == 0:
			if s.key.CompareAndSwap(0, key) {
				l.claim(s, addr, pool)
				return s
			}
			if s.key.Load() == key {
				return s
			}
		case idle == nil && s.tat.Load() <= now:
			idle = s // its bucket is full again: reusing it changes nobody's budget
		}
	}
	if idle != nil {
		if k := idle.key.Load(); idle.tat.Load() <= now && idle.key.CompareAndSwap(k, key) {
			l.claim(idle, addr, pool)
			return idle
		}
	}
	return &l.overflow[pool%holdOverflow]
}

func (l *holdLimiter) claim(s *holdSlot, addr [2]uint64, pool int) {
	s.addr[0].Store(addr[0])
	s.addr[1].Store(addr[1])
	s.pool.Store(int32(pool))
	s.reserved.Store(0)
	s.refused.Store(0)
	s.cur.Store(0)
	s.prev.Store(0)
}

// admitHold takes one hold of pool from the client's and the exchange's budget.
// On success the caller must call release if the reservation then fails.
func (b *Bidder) admitHold(d *decision, s *snapshot, ex *exchangeRT, pool int, now time.Time) (Cause, *holdSlot, *holdSlot) {
	if pool >= len(s.holds) {
		return CauseNone, nil, nil
	}
	hp := &s.holds[pool]
	t := now.UnixNano()
	var cs, xs *holdSlot
	if hp.client.interval > 0 && d.hasClient {
		cs = b.holds.client(d.client, pool, t)
		if !cs.take(&hp.client, t) {
			ex.holdsM.refused[0].Inc()
			return CauseSourceBudget, nil, nil
		}
	}
	if hp.exchange.interval > 0 && pool < len(ex.holds.slots) {
		xs = &ex.holds.slots[pool]
		if !xs.take(&hp.exchange, t) {
			if cs != nil {
				cs.refund(&hp.client)
			}
			ex.holdsM.refused[1].Inc()
			return CauseSourceBudget, nil, nil
		}
	}
	ex.holdsM.reserved.Inc()
	return CauseNone, cs, xs
}

// releaseHold refunds an admitted hold whose reservation failed.
func (b *Bidder) releaseHold(s *snapshot, ex *exchangeRT, pool int, cs, xs *holdSlot) {
	hp := &s.holds[pool]
	if cs != nil {
		cs.refund(&hp.client)
	}
	if xs != nil {
		xs.refund(&hp.exchange)
	}
}

// poolBudgets compiles each pool's hold budgets from the reserver's pool
// sizes; a reserver that cannot tell (test fakes without Stats) leaves them
// unlimited.
type poolStatser interface{ Stats() numbers.Stats }

type poolHolds struct {
	id               string
	client, exchange holdParams
}

func compileHolds(cfg *ServerConfig, res Reserver) []poolHolds {
	ps, ok := res.(poolStatser)
	if !ok {
		return nil
	}
	st := ps.Stats()
	out := make([]poolHolds, len(st.Pools))
	for i, p := range st.Pools {
		hold := time.Duration(p.HoldSeconds * float64(time.Second))
		out[i] = poolHolds{id: p.ID, client: newHoldParams(cfg.HoldBudget.ClientShare, p.Size, hold),
			exchange: newHoldParams(cfg.HoldBudget.ExchangeShare, p.Size, hold)}
	}
	return out
}

// HoldsReport is the admin listing of who holds what.
type HoldsReport struct {
	Exchanges []SourceHolds `json:"exchanges"`
	// Clients are the client addresses with the most holds (up to 50).
	Clients []SourceHolds `json:"clients"`
}

// SourceHolds is one source's use of one pool.
type SourceHolds struct {
	Source   string  `json:"source"`
	Pool     string  `json:"pool"`
	Holds    float64 `json:"holds"`  // reservations in the last hold period (upper bound of holds)
	Budget   float64 `json:"budget"` // the most it may hold (share × pool size); 0 = unlimited
	Reserved uint64  `json:"reserved"`
	Refused  uint64  `json:"refused"`
}

func budgetOf(p *holdParams) float64 {
	if p.interval <= 0 {
		return 0
	}
	return float64(p.tolerance/p.interval+1) + float64(p.window)/float64(p.interval)
}

// Holds reports current holds by exchange and the top client addresses.
func (b *Bidder) Holds() HoldsReport {
	s := b.snap.Load()
	t := b.now().UnixNano()
	var r HoldsReport
	poolID := func(i int) string {
		if i < len(s.holds) {
			return s.holds[i].id
		}
		return ""
	}
	b.holds.mu.Lock()
	for _, x := range b.holds.byName {
		for i := range x.slots {
			sl := &x.slots[i]
			if sl.reserved.Load() == 0 && sl.refused.Load() == 0 || i >= len(s.holds) {
				continue
			}
			hp := &s.holds[i].exchange
			r.Exchanges = append(r.Exchanges, SourceHolds{Source: x.name, Pool: poolID(i), Holds: sl.holds(hp.window, t),
				Budget: budgetOf(hp), Reserved: sl.reserved.Load(), Refused: sl.refused.Load()})
		}
	}
	b.holds.mu.Unlock()
	for i := range b.holds.clients {
		sl := &b.holds.clients[i]
		pi := int(sl.pool.Load())
		if sl.key.Load() == 0 || pi >= len(s.holds) {
			continue
		}
		hp := &s.holds[pi].client
		h := sl.holds(hp.window, t)
		if h <= 0 && sl.refused.Load() == 0 {
			continue
		}
		var a [16]byte
		binary.BigEndian.PutUint64(a[:8], sl.addr[0].Load())
		binary.BigEndian.PutUint64(a[8:], sl.addr[1].Load())
		addr := netip.AddrFrom16(a).Unmap().String()
		if a[0] != 0 || a[1] != 0 {
			addr += "/64"
		}
		r.Clients = append(r.Clients, SourceHolds{Source: addr, Pool: poolID(pi), Holds: h, Budget: budgetOf(hp),
			Reserved: sl.reserved.Load(), Refused: sl.refused.Load()})
	}
	for i := range b.holds.overflow {
		sl := &b.holds.overflow[i]
		if sl.reserved.Load() > 0 && i < len(s.holds) {
			r.Clients = append(r.Clients, SourceHolds{Source: "overflow", Pool: poolID(i),
				Holds: sl.holds(s.holds[i].client.window, t), Budget: budgetOf(&s.holds[i].client),
				Reserved: sl.reserved.Load(), Refused: sl.refused.Load()})
		}
	}
	sort.Slice(r.Exchanges, func(i, j int) bool { return r.Exchanges[i].Holds > r.Exchanges[j].Holds })
	sort.Slice(r.Clients, func(i, j int) bool { return r.Clients[i].Holds > r.Clients[j].Holds })
	if len(r.Clients) > 50 {
		r.Clients = r.Clients[:50]
	}
	return r
}

// holdsCollector exports callbid_bidder_source_holds{exchange,pool} at scrape.
type holdsCollector struct {
	b    *Bidder
	desc *prometheus.Desc
}

func (c holdsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c holdsCollector) Collect(ch chan<- prometheus.Metric) {
	for _, h := range c.b.Holds().Exchanges {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, h.Holds, h.Source, h.Pool)
	}
}
