package traffic

import (
	"fmt"
	"net/netip"
	"sort"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/ristretto/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Blocked returns the bid-time rejections so far, by reason (ip_cap,
// ifa_cap, ip_invalid, ifa_invalid, ip_range); reasons never hit are left out.
func (t *Filter) Blocked() map[string]int64 {
	out := map[string]int64{}
	for b := range numBlocks {
		if v := t.blocked[b].Load(); v != 0 {
			out[blockNames[b]] = v
		}
	}
	return out
}

// RegisterMetrics registers callbid_feedback_traffic_blocked_total (the
// name it had before the split, kept for dashboards).
func (t *Filter) RegisterMetrics(reg prometheus.Registerer) error {
	for b := range numBlocks {
		v := &t.blocked[b]
		c := prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "callbid_feedback_traffic_blocked_total",
			Help: "Bid-time traffic-quality rejections, by reason.", ConstLabels: prometheus.Labels{"reason": blockNames[b]}},
			func() float64 { return float64(v.Load()) })
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("cannot register the traffic metrics: %w", err)
		}
	}
	return nil
}

// Traffic-quality block reasons.
const (
	blockIPCap = iota
	blockIFACap
	blockIPInvalid
	blockIFAInvalid
	blockIPRange
	numBlocks
)

var blockNames = [numBlocks]string{"ip_cap", "ifa_cap", "ip_invalid", "ifa_invalid", "ip_range"}

// ifaSalt separates device-id keys from ip keys in the shared caches.
const ifaSalt = 0x9e3779b97f4a7c15

// Filter is the invalid-traffic state: won impressions per device within
// the window (a ristretto cache, written and read by the feed only), the
// devices the bid path must refuse (a bounded TTL table, ttltable.go: the
// value is the block reason, the expiry when it ends) and the precomputed
// blocked ranges.
//
// Why two structures: a device's count is needed only when it wins, but
// the answer "is it blocked" on every bid. The counts are a bounded,
// TTL-expiring concurrent cache, which is what ristretto is; but its reads
// feed its admission policy, so the bid path must not make them (a Get on
// every bid cost 1.9 % of the core at 15,000 req/s, and the policy
// goroutine held a one-core bidder for 1–8 ms at a time). The blocked table
// holds only devices over a cap or reported SPAM, is read with atomic loads
// and has no goroutine.
type Filter struct {
	cfg     Config
	counts  *ristretto.Cache[uint64, *devCount] // nil when both caps are off
	blocks  *ttlTable
	v4      []v4range // sorted, merged
	v6      []netip.Prefix
	blocked [numBlocks]atomic.Int64
}

// devCount is won impressions of one device ip or id since start. The
// cache holds a pointer and a win counts in place: ristretto applies a Set
// asynchronously, and a device's second win must not read the count from
// before its first.
type devCount struct {
	n     atomic.Int32
	start int64 // unix ns of the window start; fixed
}

type v4range struct{ lo, hi uint32 }

// New builds the filter; cfg gets its defaults and must pass Validate.
func New(cfg Config, log zerolog.Logger) (*Filter, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	t := &Filter{cfg: cfg, blocks: newTTLTable(cfg.MaxEntries)}
	if cfg.IPCap > 0 || cfg.IFACap > 0 {
		c, err := ristretto.NewCache(&ristretto.Config[uint64, *devCount]{NumCounters: cfg.MaxEntries * 10, MaxCost: cfg.MaxEntries,
			BufferItems: 64, IgnoreInternalCost: true}) // cost 1 an entry: max_entries entries
		if err != nil {
			return nil, fmt.Errorf("cannot build the device-count cache: %w", err)
		}
		t.counts = c
	}
	for i, s := range cfg.BlockedRanges {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			log.Error().Err(err).Int("index", i).Msg("skipping a blocked range that is not CIDR")
			continue
		}
		p = p.Masked()
		if p.Addr().Is4() {
			a := p.Addr().As4()
			lo := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
			hi := lo | uint32(uint64(1)<<(32-p.Bits())-1)
			t.v4 = append(t.v4, v4range{lo, hi})
		} else {
			t.v6 = append(t.v6, p)
		}
	}
	sort.Slice(t.v4, func(i, j int) bool { return t.v4[i].lo < t.v4[j].lo })
	merged := t.v4[:0]
	for _, r := range t.v4 {
		if n := len(merged); n > 0 && uint64(r.lo) <= uint64(merged[n-1].hi)+1 {
			if r.hi > merged[n-1].hi {
				merged[n-1].hi = r.hi
			}
			continue
		}
		merged = append(merged, r)
	}
	t.v4 = merged
	return t, nil
}

// Close stops the count cache's goroutines.
func (t *Filter) Close() {
	if t.counts != nil {
		t.counts.Close()
	}
}

// Won counts a won impression for its device ip and id (0 means unknown);
// the caller leaves out wins older than the window. A device reaching its
// cap is blocked until its window ends.
func (t *Filter) Won(ipHash, ifaHash uint64, at time.Time) {
	if t.counts == nil {
		return
	}
	if ipHash != 0 && t.cfg.IPCap > 0 {
		t.bump(ipHash, at, t.cfg.IPCap, blockIPCap)
	}
	if ifaHash != 0 && t.cfg.IFACap > 0 {
		t.bump(ifaHash^ifaSalt, at, t.cfg.IFACap, blockIFACap)
	}
}

// bump counts one win of device key at at: a window starts at the first
// win and ends Window later. A new window's counter is Set, which ristretto
// applies asynchronously and may refuse (its admission policy, when the
// cache is full): a win landing before its device's first
// Set is applied, or refused, starts the count again. That can only
// undercount a cap, by the wins of a device's first moments.
func (t *Filter) bump(k uint64, at time.Time, limit int, reason int64) {
	a := at.UnixNano()
	now := time.Now().UnixNano()
	c, ok := t.counts.Get(k)
	if !ok || a-c.start >= int64(t.cfg.Window) {
		c = &devCount{start: a}
		if end := a + int64(t.cfg.Window); end > now {
			t.counts.SetWithTTL(k, c, 1, time.Duration(end-now))
		}
	}
	end := c.start + int64(t.cfg.Window)
	if n := c.n.Add(1); int(n) >= limit && end > now {
		t.block(k, reason, end, now)
	}
}

// Spam puts a device ip and id on the invalid list for invalid_ttl.
func (t *Filter) Spam(ipHash, ifaHash uint64) {
	now := time.Now().UnixNano()
	end := now + int64(t.cfg.InvalidTTL)
	if ipHash != 0 {
		t.block(ipHash, blockIPInvalid, end, now)
	}
	if ifaHash != 0 {
		t.block(ifaHash^ifaSalt, blockIFAInvalid, end, now)
	}
}

// block refuses device key until end for reason; a block that lasts longer
// (a SPAM report over a cap's window) is kept.
func (t *Filter) block(key uint64, reason, end, now int64) {
	t.blocks.update(key, now, func(r, e int64, ok bool) (int64, int64) {
		if ok && e >= end {
			return r, e
		}
		return reason, end
	})
}

// Allowed is the bid-path invalid-traffic check on hashed device ip and ifa
// (0 means unknown): false when the device is on the SPAM list or won more
// impressions within the window than its cap. Atomic loads, 0 allocations,
// and no clock read while no device was ever blocked.
func (t *Filter) Allowed(ipHash, ifaHash uint64) bool {
	if t.blocks.empty() {
		return true
	}
	now := time.Now().UnixNano()
	if r, bad := t.blocks.get(ipHash, now); bad {
		t.blocked[r].Add(1)
		return false
	}
	if ifaHash != 0 {
		if r, bad := t.blocks.get(ifaHash^ifaSalt, now); bad {
			t.blocked[r].Add(1)
			return false
		}
	}
	return true
}

// AllowedIP is the bid-path check of a raw device ip against the blocked
// ranges; an empty or unparsable ip is allowed (the other checks still
// apply). 0 allocations.
func (t *Filter) AllowedIP(ip string) bool {
	if ip == "" || (len(t.v4) == 0 && len(t.v6) == 0) {
		return true
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return true
	}
	a = a.Unmap()
	if a.Is4() {
		b := a.As4()
		x := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		i := sort.Search(len(t.v4), func(i int) bool { return t.v4[i].hi >= x })
		if i < len(t.v4) && t.v4[i].lo <= x {
			t.blocked[blockIPRange].Add(1)
			return false
		}
		return true
	}
	for _, p := range t.v6 {
		if p.Contains(a) {
			t.blocked[blockIPRange].Add(1)
			return false
		}
	}
	return true
}
