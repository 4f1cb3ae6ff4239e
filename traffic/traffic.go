package traffic

import (
	"fmt"
	"net/netip"
	"sort"
	"sync/atomic"
	"time"

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

// Filter is the invalid-traffic state: two bounded TTL tables (ttltable.go)
// — won impressions per device within the window (the value is the count,
// the expiry the window's end), and devices reported SPAM — and the
// precomputed blocked ranges.
type Filter struct {
	cfg     Config
	counts  *ttlTable // nil when both caps are off
	invalid *ttlTable
	v4      []v4range // sorted, merged
	v6      []netip.Prefix
	blocked [numBlocks]atomic.Int64
}

type v4range struct{ lo, hi uint32 }

// New builds the filter; cfg gets its defaults and must pass Validate.
func New(cfg Config, log zerolog.Logger) (*Filter, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	t := &Filter{cfg: cfg}
	if cfg.IPCap > 0 || cfg.IFACap > 0 {
		t.counts = newTTLTable(cfg.MaxEntries)
	}
	t.invalid = newTTLTable(cfg.MaxEntries)
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

// Close releases nothing: the tables have no goroutines (kept so callers
// need not know).
func (t *Filter) Close() {}

// Won counts a won impression for its device ip and id (0 means unknown);
// the caller leaves out wins older than the window.
func (t *Filter) Won(ipHash, ifaHash uint64, at time.Time) {
	if t.counts == nil {
		return
	}
	if ipHash != 0 && t.cfg.IPCap > 0 {
		t.bump(ipHash, at)
	}
	if ifaHash != 0 && t.cfg.IFACap > 0 {
		t.bump(ifaHash^ifaSalt, at)
	}
}

// bump counts one win of device key at at: a window starts at the first
// win and ends Window later, when the count expires.
func (t *Filter) bump(k uint64, at time.Time) {
	a := at.UnixNano()
	t.counts.update(k, time.Now().UnixNano(), func(n, end int64, ok bool) (int64, int64) {
		if !ok || a >= end {
			return 1, a + int64(t.cfg.Window)
		}
		return n + 1, end
	})
}

// Spam puts a device ip and id on the invalid list for invalid_ttl.
func (t *Filter) Spam(ipHash, ifaHash uint64) {
	if t.invalid == nil {
		return
	}
	now := time.Now().UnixNano()
	spam := func(int64, int64, bool) (int64, int64) { return 1, now + int64(t.cfg.InvalidTTL) }
	if ipHash != 0 {
		t.invalid.update(ipHash, now, spam)
	}
	if ifaHash != 0 {
		t.invalid.update(ifaHash^ifaSalt, now, spam)
	}
}

// Allowed is the bid-path invalid-traffic check on hashed device ip and ifa
// (0 means unknown): false when the device is on the SPAM list or won more
// impressions within the window than its cap. 0 allocations.
func (t *Filter) Allowed(ipHash, ifaHash uint64) bool {
	invalid := !t.invalid.empty()
	caps := t.counts != nil && !t.counts.empty()
	if !invalid && !caps {
		return true // nothing recorded yet: no clock read
	}
	now := time.Now().UnixNano()
	if invalid {
		if _, bad := t.invalid.get(ipHash, now); bad {
			t.blocked[blockIPInvalid].Add(1)
			return false
		}
		if ifaHash != 0 {
			if _, bad := t.invalid.get(ifaHash^ifaSalt, now); bad {
				t.blocked[blockIFAInvalid].Add(1)
				return false
			}
		}
	}
	if !caps {
		return true
	}
	if ipHash != 0 && t.cfg.IPCap > 0 {
		if n, ok := t.counts.get(ipHash, now); ok && n >= int64(t.cfg.IPCap) {
			t.blocked[blockIPCap].Add(1)
			return false
		}
	}
	if ifaHash != 0 && t.cfg.IFACap > 0 {
		if n, ok := t.counts.get(ifaHash^ifaSalt, now); ok && n >= int64(t.cfg.IFACap) {
			t.blocked[blockIFACap].Add(1)
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
