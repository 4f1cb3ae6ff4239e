package numbers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callbid/callbid/callrecords"
	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/kafkaio"
	"github.com/rs/zerolog"
)

// Publisher sends an event to a Kafka topic without blocking; it reports false
// when the event was dropped (and counted) because the queue was full.
// *kafkaio.Producer implements it.
type Publisher interface {
	Publish(topic string, key, value []byte) bool
}

// Ref names one reservation of one pool entry (entry index and generation);
// it goes into the signed notice token.
type Ref uint64

func makeRef(idx int32, gen uint32) Ref { return Ref(uint64(uint32(idx))<<32 | uint64(gen)) }

// fallbackIdx marks a Ref of an exhaustion fallback number (low half: the
// fallback number's index).
const fallbackIdx = 0xFFFFFFFF

// Claim is what a bid knows when it reserves a number. Strings may point into
// a request buffer: Reserve copies what it keeps.
type Claim struct {
	CampaignID  string
	PublisherID string
	SiteOrApp   string
	Exchange    string
	RequestID   string
	ImpID       string
	BidID       string
	Skill       string
	PriceMicros int64  // bid price, CPM micro-units in the bid currency
	IPHash      uint64 // xxhash of device.ip (0 when none)
	IFAHash     uint64 // xxhash of device.ifa (0 when none)
	CreativeID  string // the bid's crid
	Currency    string // the bid currency (ISO 4217); "" means USD
	Country     string // device.geo.country, ISO-3166-1 alpha-3
	Region      string // device.geo.region (ISO-3166-2 subdivision)
	DeviceType  uint8  // device.devicetype (AdCOM); 0 when absent
}

// Reservation is a reserved number. E164 and Ext point at pool-owned strings
// that never change.
type Reservation struct {
	Ref      Ref
	E164     string
	Ext      string
	Fallback bool // exhaustion fallback number: attribution at publisher level
}

// WinResult says what a win or billing notice did.
type WinResult uint8

const (
	WinLeased    WinResult = iota + 1 // HELD → LEASED
	WinDuplicate                      // already leased by this same reservation
	WinLate                           // hold had expired; number still free, re-leased
	WinCollision                      // hold had expired and the number was taken meanwhile
	WinUnknown                        // no such entry
	WinFallback                       // a fallback number: nothing to lease
	// WinStale: the reservation is from a previous process and the number
	// does not carry it (its hold record never reached the lease log); the
	// caller may Restore it from what the notice token says.
	WinStale
	WinRestored // re-created from the notice token after a restart and leased
)

// String names the result for logs and metrics.
func (w WinResult) String() string {
	switch w {
	case WinLeased:
		return "leased"
	case WinDuplicate:
		return "duplicate"
	case WinLate:
		return "late"
	case WinCollision:
		return "collision"
	case WinUnknown:
		return "unknown"
	case WinFallback:
		return "fallback"
	case WinStale:
		return "stale"
	case WinRestored:
		return "restored"
	}
	return "invalid"
}

// state of an entry; also the index of the shard list it sits on.
type state uint8

const (
	stFree state = iota
	stHeld
	stLeased
	stCooldown
	// stParked: free, but another instance owns it (see ownership.go).
	stParked
	nStates
)

var stateNames = [nStates]string{"free", "held", "leased", "cooldown", "parked"}

// entry flags.
const (
	fData       uint8 = 1 << iota // holds a reservation's attribution data
	fLeased                       // this generation was leased
	fBilled                       // a billing notice came
	fCalled                       // the first call came (it ended the lease)
	fLate                         // leased by a late win
	fHoldLogged                   // the hold record went to the lease log
	fBillCP                       // the clearing price is a billing notice's
)

// entry is one number (+ext). Fixed-size fields only, so the entries of
// every pool sit in one flat slice; variable-length attribution strings live
// in buf, reused across reservations (append(buf[:0], …)).
// Layout: 104 bytes.
type entry struct {
	// bufRef, bufCap: the entry's slot in its shard's arena, request id |
	// imp id | bid id | site or app (arena.go; no pointer in entry).
	bufRef     uint32
	bufCap     uint16
	siteLen    uint16
	reservedAt int64 // unix nanos
	wonAt      int64 // unix nanos; 0 until leased
	leaseEnd   int64 // unix nanos; cooldown ends at leaseEnd+cooldown
	price      int64 // micros
	ipHash     uint64
	ifaHash    uint64
	gen        uint32
	prev, next int32  // intrusive list of the entry's state in its shard
	campaign   uint32 // interned
	publisher  uint32 // interned
	exchange   uint16 // interned (small set)
	skill      uint16 // interned (small set)
	reqLen     uint16
	impLen     uint16
	bidLen     uint16
	state      state
	flags      uint8
	// claimx.go: the attribution details beyond the ids
	clearing int64 // micros; 0 until a notice tells
	creative uint32
	cur      uint16
	devType  uint8
	geo      geoBytes
}

// ids splits buf (shard.buf) into e's request, imp and bid ids and site.
func (e *entry) ids(buf []byte) (req, imp, bid, site []byte) {
	r, m, b := int(e.reqLen), int(e.reqLen+e.impLen), int(e.reqLen+e.impLen+e.bidLen)
	if len(buf) < b {
		return nil, nil, nil, nil
	}
	return buf[:r], buf[r:m], buf[m:b], buf[b:]
}

// numRange is one plain number (from < 0) or one number's extension range.
type numRange struct {
	e164 string
	exts string // decimal strings of from..to, concatenated
	from int64  // -1 for a plain number
	off0 int64  // digitsBefore(from)
	lo   int32  // first entry index
	n    int32
	pool int32
}

// numInfo is what the dialed number (DNIS) leads to.
type numInfo struct {
	ranges   []int32 // indexes into Pools.ranges
	fallback int32   // index into Pools.fallbacks, or -1
}

type list struct{ head, tail int32 }

// shard is one lock's worth of a pool's entries (indexes ≡ k mod nShards).
type shard struct {
	mu    sync.Mutex
	lists [nStates]list
	count [nStates]int32
	// counters, guarded by mu
	reservations uint64
	leases       uint64
	late         uint64
	collisions   uint64
	losses       uint64
	expiredHolds uint64
	restored     uint64 // reservations re-created from notice tokens
	invalidated  uint64 // holds given up to a restored lease
	quarantined  uint64 // entries held at start (see quarantine)
	scratch      []byte // lease record encoding
	arena        arena  // the entries' attribution ids (arena.go)
	key          []byte // lease record key encoding
	// last ids interned by this shard: campaign, exchange and skill repeat
	// from bid to bid, and a string compare is cheaper than a map hash.
	lastCamp, lastPub, lastExch, lastSkill, lastCreative, lastCur lastID
	_                                                             [40]byte
}

type lastID struct {
	s  string // interner-owned
	id uint32
}

// cachedID interns s through the shard's one-slot cache; the caller holds
// the shard lock.
func cachedID(in *interner, c *lastID, s string) uint32 {
	if c.s == s && (c.id != 0 || s == "") {
		return c.id
	}
	id := in.id(s)
	c.s, c.id = in.name(id), id
	return id
}

type pool struct {
	id                    string
	cfg                   PoolConfig
	hold, lease, cooldown int64
	lo, n                 int32
	rlo, rhi, nplain      int32 // ranges[rlo:rhi]; the first nplain are plain numbers
	shards                []shard
	fallback              bool
	fallbacks             map[string][]int32 // campaign id → indexes into Pools.fallbacks

	nobids      atomic.Uint64
	fallbackRes atomic.Uint64

	// observed rates, written by Run only (under Pools.rateMu)
	lastRes, lastLeases uint64
	resRate, leaseRate  float64
}

// fallbackNum is one exhaustion fallback number.
type fallbackNum struct {
	e164      string
	campaign  string
	pool      int32
	publisher atomic.Uint32 // interned publisher of the latest reservation
	site      atomic.Uint32 // interned site/app of the latest reservation
}

// Pools owns every tracking-number pool.
type Pools struct {
	log zerolog.Logger
	// lastNobids is each pool's exhaustion count at the last warning check
	// (Run's goroutine only).
	lastNobids []uint64
	pub        Publisher
	cfg        Config
	instance   string // tags this process's lease records
	// ownPrefix is how this process's lease records start ({"o":"<instance>").
	ownPrefix []byte
	// leaseDec decodes lease records (lazily made; guarded by leaseDecMu,
	// which only the lease consumer's goroutine takes in production).
	leaseDecMu sync.Mutex
	leaseDec   *events.Decoder[events.Lease, *events.Lease]
	// onOtherHold hears other instances' bids (ownership.go; set before
	// the lease consumer starts).
	onOtherHold func(campaign, skill, publisher, exchange string, at, now time.Time)
	// onLease hears fresh wins' leases (onlease.go; set before serving).
	onLease func(number, ext, skill, channel, publisher string)
	// genBase is the first generation this process hands out; every
	// generation of an earlier process is behind it (see ReplayDone).
	genBase atomic.Uint32

	leases LeaseLog // durable writer of the lease log; nil: pub (tests)
	// leaseSeq[i] is the lease-log sequence of entry i's latest record
	// (guarded by the entry's shard lock); floor[i] the highest generation
	// of the records replayed for it (0: none, or too old to
	// compare). Both sit beside the entries to keep entries at 104 bytes.
	leaseSeq []uint64
	floor    []uint32
	replayed []uint64 // bit i: the lease log had a record of entry i at start
	durable  durableState

	entries   []entry
	ranges    []numRange
	pools     []pool
	poolIdx   map[string]int
	byNumber  map[string]numInfo // immutable after New
	fallbacks []fallbackNum
	ids       *interner // campaign, publisher, site (fallback)
	small     *interner // exchange, skill

	calls callState

	attrQ         chan *callRecord
	attrDrops     atomic.Uint64
	leaseDrops    atomic.Uint64
	leaseApplied  atomic.Uint64
	leaseIgnored  atomic.Uint64
	badLeaseEvent atomic.Uint64

	rateMu   sync.Mutex
	rateAt   int64
	clockNow func() time.Time // time source of ApplyLeaseEvent, Attribute etc.

	// refuse holds the reasons Reserve refuses (refuseReplay,
	// refuseLeaseLog); one atomic load on the bid path.
	refuse       atomic.Uint32
	pausedNoBids atomic.Uint64

	// own is the lease partitions this instance owns; nil: all (one
	// instance). See ownership.go.
	own atomic.Pointer[ownership]
	// sharedQ quarantines the partitions an instance gains (shared pools;
	// quarantine_shared.go).
	sharedQ sharedQuarantine
	// gained waits for a gained partition to be read (gained.go);
	// refusedUnread counts wins and restores refused meanwhile.
	gained        gainedWait
	refusedUnread atomic.Uint64
}

// Reasons Reserve refuses.
const (
	// refuseReplay: the lease log is not replayed yet; a number leased before
	// a restart must not go to a second impression.
	refuseReplay uint32 = 1 << iota
	// refuseLeaseLog: the lease log cannot be written, so a win could not be
	// made durable.
	refuseLeaseLog
)

// PauseUntilReplayed makes Reserve refuse (ok=false, counted) until
// ReplayDone is called. The wiring calls it before the lease log consumer
// starts, so a bidder that starts while Kafka is down never hands out a
// number whose lease it has not read back yet.
func (p *Pools) PauseUntilReplayed() { p.refuse.Or(refuseReplay) }

// ReplayDone lets Reserve hand out numbers again. Generations from here on
// are ahead of every generation the replay saw, so a notice of an earlier
// process can never match a reservation of this one.
func (p *Pools) ReplayDone() {
	p.durable.mu.Lock()
	earlier := p.durable.seenGen // an earlier process wrote lease records
	if earlier {
		if b := p.durable.maxGen + genGap; int32(b-p.genBase.Load()) > 0 {
			p.genBase.Store(b)
		}
	}
	p.durable.mu.Unlock()
	// An empty lease log means no earlier process handed numbers out (it
	// logs its first holds within milliseconds): nothing to quarantine.
	// Shared pools quarantine only the partitions this instance gains
	// (quarantine_shared.go).
	if p.own.Load() == nil {
		if earlier {
			p.quarantine(p.clockNow().UnixNano())
		}
	} else {
		p.replayDoneShared()
	}
	p.refuse.And(^refuseReplay)
}

// Replaying reports whether reservations wait for the lease log.
func (p *Pools) Replaying() bool { return p.refuse.Load()&refuseReplay != 0 }

// New builds the pools from validated config. pub receives lease and
// attribution events; it may be nil in tests.
func New(cfg Config, pub Publisher, log zerolog.Logger) (*Pools, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("numbers config is invalid: %w", err)
	}
	cfg.SetDefaults()
	var inst [8]byte
	_, _ = rand.Read(inst[:])
	p := &Pools{
		log:      log,
		pub:      pub,
		cfg:      cfg,
		instance: hex.EncodeToString(inst[:]),
		poolIdx:  map[string]int{},
		byNumber: map[string]numInfo{},
		ids:      newInterner(1<<32 - 2),
		small:    newInterner(1<<16 - 1),
		attrQ:    make(chan *callRecord, 4096),
		clockNow: time.Now,
	}
	var total int64
	for _, pc := range cfg.Pools {
		total += int64(len(pc.Numbers))
		for _, x := range pc.Extensions {
			total += int64(x.To-x.From) + 1
		}
	}
	// Generations follow the clock (≈65µs units) so a notice for a hold of
	// an earlier process cannot match a reservation of this one.
	p.genBase.Store(clockGen(time.Now().UnixNano()))
	p.ownPrefix = events.OwnPrefix(nil, p.instance)
	if d, ok := pub.(interface {
		Durable(topic string) *kafkaio.Durable
	}); ok {
		if l := d.Durable(events.TopicLeases); l != nil {
			p.leases = l
		}
	}
	if pub != nil && p.leases == nil {
		// Only tests wire a plain publisher; in production this would break
		// the promise that an acknowledged lease is durable, so say so.
		log.Warn().Msg("numbers: the publisher offers no durable lease lane; wins are acknowledged before their lease records are written")
	}
	p.entries = make([]entry, total)
	p.leaseSeq = make([]uint64, total)
	p.floor = make([]uint32, total)
	p.replayed = make([]uint64, (total+63)/64)
	p.pools = make([]pool, len(cfg.Pools))
	extTables := map[[2]int64]string{}
	addNum := func(num string, ri int32) {
		ni, ok := p.byNumber[num]
		if !ok {
			ni.fallback = -1
		}
		ni.ranges = append(ni.ranges, ri)
		p.byNumber[num] = ni
	}
	var next int32
	for pi, pc := range cfg.Pools {
		pl := &p.pools[pi]
		pl.id, pl.cfg = pc.ID, pc
		pl.hold, pl.lease, pl.cooldown = int64(pc.Hold), int64(pc.Lease), int64(pc.Cooldown)
		pl.lo = next
		pl.rlo = int32(len(p.ranges))
		pl.nplain = int32(len(pc.Numbers))
		p.poolIdx[pc.ID] = pi
		for _, num := range pc.Numbers {
			ri := int32(len(p.ranges))
			p.ranges = append(p.ranges, numRange{e164: num, from: -1, lo: next, n: 1, pool: int32(pi)})
			addNum(num, ri)
			next++
		}
		for _, x := range pc.Extensions {
			k := [2]int64{int64(x.From), int64(x.To)}
			tab, ok := extTables[k]
			if !ok {
				tab = extTable(k[0], k[1])
				extTables[k] = tab
			}
			ri := int32(len(p.ranges))
			n := int32(x.To - x.From + 1)
			p.ranges = append(p.ranges, numRange{e164: x.Number, exts: tab, from: int64(x.From), off0: digitsBefore(int64(x.From)), lo: next, n: n, pool: int32(pi)})
			addNum(x.Number, ri)
			next += n
		}
		pl.n = next - pl.lo
		pl.rhi = int32(len(p.ranges))
		// Enough shards that parallel bidders rarely meet on one lock, few
		// enough that each keeps a meaningful LRU order.
		ns := int(pl.n / 32)
		ns = max(1, min(ns, 64))
		pl.shards = make([]shard, ns)
		for k := range pl.shards {
			s := &pl.shards[k]
			for l := range s.lists {
				s.lists[l] = list{-1, -1}
			}
		}
		pl.fallback = pc.Exhaustion == PolicyFallback
		pl.fallbacks = map[string][]int32{}
		for _, f := range pc.Fallback {
			for _, num := range f.Numbers {
				fi := int32(len(p.fallbacks))
				p.fallbacks = append(p.fallbacks, fallbackNum{e164: num, campaign: f.CampaignID, pool: int32(pi)})
				pl.fallbacks[f.CampaignID] = append(pl.fallbacks[f.CampaignID], fi)
				ni := p.byNumber[num]
				ni.fallback = fi
				p.byNumber[num] = ni
			}
		}
	}
	for ri := range p.ranges {
		r := &p.ranges[ri]
		pl := &p.pools[r.pool]
		for k := int32(0); k < r.n; k++ {
			i := r.lo + k
			e := &p.entries[i]
			e.gen = p.genBase.Load() - 1 // behind every generation handed out
			s := p.shardOf(pl, i)
			s.pushTail(p.entries, stFree, i)
		}
	}
	// Alone (tests, tools), numbers keeps its own call records, bounded by
	// call_ttl and max_calls; the service shares one store (UseCallRecords).
	recs, err := callrecords.New(callrecords.Config{Retention: cfg.CallTTL, MaxRecords: cfg.MaxCalls})
	if err != nil {
		return nil, err
	}
	p.calls.init(cfg, recs)
	p.log.Info().Int("pools", len(p.pools)).Int("entries", len(p.entries)).Int("fallback_numbers", len(p.fallbacks)).
		Msg("tracking-number pools built")
	return p, nil
}

// extTable concatenates the decimal strings of from..to.
func extTable(from, to int64) string {
	b := make([]byte, 0, digitsBefore(to+1)-digitsBefore(from))
	for n := from; n <= to; n++ {
		b = strconv.AppendInt(b, n, 10)
	}
	return string(b)
}

// digitsBefore is the number of decimal digits of all integers in [0, n).
func digitsBefore(n int64) int64 {
	var total int64
	lo, hi, d := int64(0), int64(10), int64(1)
	for n > lo {
		total += (min(n, hi) - lo) * d
		lo, hi, d = hi, hi*10, d+1
	}
	return total
}

func decimalLen(n int64) int64 {
	d := int64(1)
	for n >= 10 {
		n /= 10
		d++
	}
	return d
}

// numberOf returns the entry's number and extension (pool-owned strings).
func (p *Pools) numberOf(i int32) (e164, ext string) {
	r := p.rangeOf(i)
	if r.from < 0 {
		return r.e164, ""
	}
	n := r.from + int64(i-r.lo)
	off := digitsBefore(n) - r.off0
	return r.e164, r.exts[off : off+decimalLen(n)]
}

// rangeOf finds entry i's number or extension range: plain numbers by
// offset, extension ranges (few per pool) by binary search. The entry does
// not store it, which keeps entries at 104 bytes.
func (p *Pools) rangeOf(i int32) *numRange {
	pl := p.poolOf(i)
	if k := i - pl.lo; k < pl.nplain {
		return &p.ranges[pl.rlo+k]
	}
	lo, hi := pl.rlo+pl.nplain, pl.rhi // ranges[lo].lo <= i < ranges[hi].lo
	for hi-lo > 1 {
		mid := int32(uint32(lo+hi) >> 1)
		if p.ranges[mid].lo <= i {
			lo = mid
		} else {
			hi = mid
		}
	}
	return &p.ranges[lo]
}

// poolIndex finds the pool of entry i (pools hold consecutive entries).
func (p *Pools) poolIndex(i int32) int32 {
	lo, hi := 0, len(p.pools)
	for hi-lo > 1 {
		mid := int(uint(lo+hi) >> 1)
		if p.pools[mid].lo <= i {
			lo = mid
		} else {
			hi = mid
		}
	}
	return int32(lo)
}

func (p *Pools) poolOf(i int32) *pool { return &p.pools[p.poolIndex(i)] }

func (p *Pools) shardOf(pl *pool, i int32) *shard {
	return &pl.shards[int(i-pl.lo)%len(pl.shards)]
}

// PoolIndex resolves a pool id to the index Reserve takes.
func (p *Pools) PoolIndex(id string) (int, bool) {
	i, ok := p.poolIdx[id]
	return i, ok
}

// list operations; the caller holds the shard's lock.

func (s *shard) pushTail(es []entry, st state, i int32) {
	l := &s.lists[st]
	e := &es[i]
	e.state, e.prev, e.next = st, l.tail, -1
	if l.tail >= 0 {
		es[l.tail].next = i
	} else {
		l.head = i
	}
	l.tail = i
	s.count[st]++
}

func (s *shard) pushHead(es []entry, st state, i int32) {
	l := &s.lists[st]
	e := &es[i]
	e.state, e.prev, e.next = st, -1, l.head
	if l.head >= 0 {
		es[l.head].prev = i
	} else {
		l.tail = i
	}
	l.head = i
	s.count[st]++
}

func (s *shard) remove(es []entry, i int32) {
	e := &es[i]
	l := &s.lists[e.state]
	if e.prev >= 0 {
		es[e.prev].next = e.next
	} else {
		l.head = e.next
	}
	if e.next >= 0 {
		es[e.next].prev = e.prev
	} else {
		l.tail = e.prev
	}
	e.prev, e.next = -1, -1
	s.count[e.state]--
}

// sortKey orders the held list by reservation time and the leased and
// cooldown lists by lease end, so each sweep only looks at list heads.
func sortKey(e *entry, st state) int64 {
	if st == stHeld {
		return e.reservedAt
	}
	return e.leaseEnd
}

// insertSorted puts i on list st in key order, walking from the tail: keys
// arrive almost in order, so this is O(1) in practice. The walk is bounded;
// an entry placed slightly out of order only expires a little later through
// the sweep (accesses expire it lazily on time).
func (s *shard) insertSorted(es []entry, st state, i int32) {
	k := sortKey(&es[i], st)
	l := &s.lists[st]
	at := l.tail
	for steps := 0; at >= 0 && steps < 64 && sortKey(&es[at], st) > k; steps++ {
		at = es[at].prev
	}
	if at == l.tail {
		s.pushTail(es, st, i)
		return
	}
	if at < 0 {
		s.pushHead(es, st, i)
		return
	}
	e := &es[i]
	nx := es[at].next
	e.state, e.prev, e.next = st, at, nx
	es[at].next = i
	es[nx].prev = i
	s.count[st]++
}

// nextGen advances a generation for a reservation at t (unix nanos): never
// behind this process's base nor behind the clock, so generations stay
// comparable across processes (within half the 32-bit cycle, ≈39 hours).
func (p *Pools) nextGen(g uint32, t int64) uint32 {
	g++
	base := p.genBase.Load()
	if c := clockGen(t); int32(c-base) > 0 {
		base = c
	}
	if int32(base-g) > 0 {
		g = base
	}
	return g
}

// clockGen is the generation clock: unix nanos in ≈65.5µs units.
func clockGen(t int64) uint32 { return uint32(t >> 16) }

// genGap is how far ReplayDone puts this process's generations ahead of the
// newest replayed one: more reservations of one number than an earlier
// process could make between its last hold record and its end (holds are
// logged every few ms). Small, so generations stay close to the clock
// (1024 units ≈ 67ms) even across quick restarts.
const genGap = 1 << 10

// previousProcess reports whether generation g was handed out before this
// process's base (by an earlier process).
func (p *Pools) previousProcess(g uint32) bool { return int32(p.genBase.Load()-g) > 0 }

// Reserve holds the least recently freed number of pool idx for claim c.
// ok is false when the pool is exhausted and its policy is nobid. It never
// blocks on I/O and allocates nothing in steady state.
func (p *Pools) Reserve(idx int, c *Claim, now time.Time) (r Reservation, ok bool) {
	if uint(idx) >= uint(len(p.pools)) || c == nil {
		return Reservation{}, false
	}
	if r := p.refuse.Load(); r != 0 {
		if r&refuseReplay != 0 {
			p.pausedNoBids.Add(1)
		} else {
			p.durable.refusedNoBids.Add(1)
		}
		return Reservation{}, false
	}
	pl := &p.pools[idx]
	t := now.UnixNano()
	ns := uint32(len(pl.shards))
	var start uint32
	if ns > 1 {
		start = mrand.Uint32N(ns) // per-thread generator: no shared cache line
	}
	// First pass skips shards another goroutine holds; the second waits.
	for pass := 0; pass < 2; pass++ {
		k := start
		for range ns {
			s := &pl.shards[k]
			if k++; k == ns {
				k = 0
			}
			if pass == 0 {
				if !s.mu.TryLock() {
					continue
				}
			} else {
				s.mu.Lock()
			}
			p.expireHolds(pl, s, t)
			i := s.lists[stFree].head
			if o := p.own.Load(); o != nil {
				// Park the numbers another instance owns (bounded per visit).
				for n := 0; i >= 0 && !o.mine(i) && n < 64; n++ {
					s.remove(p.entries, i)
					s.pushTail(p.entries, stParked, i)
					i = s.lists[stFree].head
				}
				if i >= 0 && !o.mine(i) {
					i = -1
				}
			}
			if i < 0 {
				s.mu.Unlock()
				continue
			}
			gen := p.fill(pl, s, i, c, t)
			s.mu.Unlock()
			e164, ext := p.numberOf(i)
			return Reservation{Ref: makeRef(i, gen), E164: e164, Ext: ext}, true
		}
	}
	pl.nobids.Add(1)
	if pl.fallback {
		if fs := pl.fallbacks[c.CampaignID]; len(fs) > 0 {
			fi := fs[bucketHash(c.CampaignID, c.PublisherID)%uint64(len(fs))]
			f := &p.fallbacks[fi]
			f.publisher.Store(p.ids.id(c.PublisherID))
			f.site.Store(p.ids.id(c.SiteOrApp))
			pl.fallbackRes.Add(1)
			return Reservation{Ref: Ref(uint64(fallbackIdx)<<32 | uint64(fi)), E164: f.e164, Fallback: true}, true
		}
	}
	return Reservation{}, false
}

// bucketHash is FNV-1a over campaign and publisher: stable across restarts
// and processes, so a bucket keeps its fallback number.
func bucketHash(campaign, publisher string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(campaign); i++ {
		h = (h ^ uint64(campaign[i])) * 1099511628211
	}
	h = (h ^ 0xff) * 1099511628211
	for i := 0; i < len(publisher); i++ {
		h = (h ^ uint64(publisher[i])) * 1099511628211
	}
	return h
}

// fill moves free entry i to HELD for claim c; the caller holds s.mu.
func (p *Pools) fill(pl *pool, s *shard, i int32, c *Claim, t int64) uint32 {
	s.remove(p.entries, i)
	e := &p.entries[i]
	e.gen = p.nextGen(e.gen, t)
	e.reservedAt, e.wonAt, e.leaseEnd = t, 0, 0
	e.flags = fData
	p.setClaim(s, e, c)
	s.pushTail(p.entries, stHeld, i) // reservedAt is the newest: stays sorted
	s.reservations++
	return e.gen
}

// setClaim copies claim c's attribution into e; the caller holds s.mu.
func (p *Pools) setClaim(s *shard, e *entry, c *Claim) {
	e.price, e.ipHash, e.ifaHash = c.PriceMicros, c.IPHash, c.IFAHash
	e.campaign = cachedID(p.ids, &s.lastCamp, c.CampaignID)
	e.publisher = cachedID(p.ids, &s.lastPub, c.PublisherID)
	e.exchange = uint16(cachedID(p.small, &s.lastExch, c.Exchange))
	e.skill = uint16(cachedID(p.small, &s.lastSkill, c.Skill))
	setBuf(s, e, clip(c.RequestID), clip(c.ImpID), clip(c.BidID), clip(c.SiteOrApp))
	p.setClaimExtra(s, e, c)
}

// clip bounds an attribution string to what the entry's uint16 lengths hold.
func clip(s string) string {
	if len(s) > 1024 {
		return s[:1024]
	}
	return s
}

// expireHolds frees held entries whose hold ended; the caller holds s.mu.
// A freed hold goes back to the head of the free list: it was taken from
// there and never shown, so it keeps its place in the LRU order.
func (p *Pools) expireHolds(pl *pool, s *shard, t int64) {
	for i := s.lists[stHeld].head; i >= 0; i = s.lists[stHeld].head {
		if p.entries[i].reservedAt+pl.hold > t {
			return
		}
		s.remove(p.entries, i)
		s.pushHead(p.entries, stFree, i)
		s.expiredHolds++
	}
}

// Win moves a held number to LEASED on a win (billed=false) or billing
// (billed=true) notice. Idempotent. The lease record is queued for the lease
// log; AwaitLease tells when it is durable. WinStale asks the caller to
// Restore a reservation an earlier process made.
func (p *Pools) Win(ref Ref, billed bool, now time.Time) WinResult {
	r, _ := p.win(ref, billed, now)
	return r
}

// Bill is Win for a billing notice; first is false only when this
// reservation is known to be billed before (a number that moved on, a
// fallback or an unknown entry cannot tell: first). The billed flag is part
// of the lease record, so a bill retried across a restart is recognised
// (once its record was durable).
func (p *Pools) Bill(ref Ref, now time.Time) (r WinResult, first bool) {
	return p.win(ref, true, now)
}

func (p *Pools) win(ref Ref, billed bool, now time.Time) (WinResult, bool) {
	idx, gen := uint32(ref>>32), uint32(ref)
	if idx == fallbackIdx {
		if int(gen) < len(p.fallbacks) {
			return WinFallback, true
		}
		return WinUnknown, true
	}
	if int64(idx) >= int64(len(p.entries)) {
		return WinUnknown, true
	}
	i := int32(idx)
	t := now.UnixNano()
	pl := p.poolOf(i)
	s := p.shardOf(pl, i)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := &p.entries[i]
	first := true // unless this reservation is known to be billed already
	owned := p.owns(i)
	if !owned && p.newerThanReplica(i, gen) {
		// Shared pools: the owner's hold record has not reached this
		// replica yet; the caller restores it from the notice token.
		return WinStale, true
	}
	if e.gen != gen {
		if p.previousProcess(gen) {
			return WinStale, true
		}
		s.collisions++
		return WinCollision, true
	}
	if billed {
		first = e.flags&fBilled == 0
		e.flags |= fBilled
	}
	if !owned && e.flags&fLeased == 0 && t >= e.reservedAt+pl.hold-ownerMargin {
		// Another instance owns the number: once its hold may have
		// ended there, the owner may have handed it to a new bid.
		s.collisions++
		return WinCollision, first
	}
	if e.flags&fLeased == 0 && p.own.Load().unreadEntry(i) {
		// A partition gained but not read yet: the previous owner may have
		// leased the number since this copy of it (gained.go).
		s.collisions++
		p.refusedUnread.Add(1)
		return WinCollision, first
	}
	switch e.state {
	case stHeld:
		if e.reservedAt+pl.hold > t {
			p.lease(pl, s, i, t)
			return WinLeased, first
		}
		// the hold expired but the sweep has not freed it yet: the number
		// is still ours, lease it late.
		e.flags |= fLate
		p.lease(pl, s, i, t)
		s.late++
		return WinLate, first
	case stFree, stParked:
		if e.flags&fLeased != 0 {
			if billed && first {
				p.publishLease(s, i, "") // the bill flag survives a restart
			}
			return WinDuplicate, first // leased, cooled down and freed already
		}
		e.flags |= fLate
		p.lease(pl, s, i, t)
		s.late++
		return WinLate, first
	default:
		if billed && first {
			p.publishLease(s, i, "") // the bill flag survives a restart
		}
		return WinDuplicate, first
	}
}

// lease moves entry i (held or free) to LEASED; the caller holds s.mu.
func (p *Pools) lease(pl *pool, s *shard, i int32, t int64) {
	s.remove(p.entries, i)
	e := &p.entries[i]
	e.wonAt, e.leaseEnd = t, t+pl.lease
	e.flags |= fLeased
	s.insertSorted(p.entries, stLeased, i)
	s.leases++
	p.publishLease(s, i, "")
	p.leased(i)
}

// Loss frees a held number at once (it was never shown). Idempotent.
func (p *Pools) Loss(ref Ref, now time.Time) {
	idx, gen := uint32(ref>>32), uint32(ref)
	if idx == fallbackIdx || int64(idx) >= int64(len(p.entries)) {
		return
	}
	i := int32(idx)
	pl := p.poolOf(i)
	s := p.shardOf(pl, i)
	s.mu.Lock()
	if e := &p.entries[i]; e.gen == gen && e.state == stHeld {
		s.remove(p.entries, i)
		s.pushHead(p.entries, stFree, i)
		s.losses++
		if !p.owns(i) {
			// The owner frees its hold when it reads this record.
			p.publishLease(s, i, "")
		}
	}
	s.mu.Unlock()
}

// Sweep runs every time-driven transition due at now: expired holds to
// FREE, ended leases to COOLDOWN, ended cooldowns to FREE. Run calls it on a
// tick; tests call it with a fake clock.
func (p *Pools) Sweep(now time.Time) {
	t := now.UnixNano()
	for pi := range p.pools {
		pl := &p.pools[pi]
		for k := range pl.shards {
			s := &pl.shards[k]
			s.mu.Lock()
			p.sweepShard(pl, s, t)
			s.mu.Unlock()
		}
	}
}

func (p *Pools) sweepShard(pl *pool, s *shard, t int64) {
	p.expireHolds(pl, s, t)
	for i := s.lists[stLeased].head; i >= 0; i = s.lists[stLeased].head {
		if p.entries[i].leaseEnd > t {
			break
		}
		s.remove(p.entries, i)
		s.insertSorted(p.entries, stCooldown, i)
		if p.owns(i) { // the owner logs time-driven transitions
			p.publishLease(s, i, "")
		}
	}
	for i := s.lists[stCooldown].head; i >= 0; i = s.lists[stCooldown].head {
		if p.entries[i].leaseEnd+pl.cooldown > t {
			break
		}
		s.remove(p.entries, i)
		s.pushTail(p.entries, stFree, i)
		if p.owns(i) {
			p.publishLease(s, i, "")
		}
	}
}

// Run drives expiry (one sweep per tick for every shard, no timer per
// number), observed rates, call-memory cleanup and attribution publishing
// until ctx is done.
func (p *Pools) Run(ctx context.Context) {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	// Hold records and the lease log's health: often enough that a win
	// right after a bid finds its hold logged and that reservations stop
	// within a few ms of the lease log turning unwritable.
	fast := time.NewTicker(holdLogInterval)
	defer fast.Stop()
	var n int
	for {
		select {
		case <-ctx.Done():
			p.LogHolds()
			p.drainAttributions()
			return
		case now := <-fast.C:
			p.logHolds(now)
			p.CheckLeaseLog(now)
		case a := <-p.attrQ:
			p.publishAttribution(a)
		case now := <-tick.C:
			p.Sweep(now)
			n++
			if n%5 == 0 {
				p.updateRates(now)
			}
			if n%50 == 0 {
				p.ids.flush()
				p.small.flush()
				p.calls.cleanup(now.UnixNano())
				p.warnExhaustion()
			}
		}
	}
}

// Size reports the number of entries of every pool together.
func (p *Pools) Size() int { return len(p.entries) }

// leaseID is the stable external name of one reservation.
func appendLeaseID(b []byte, i int32, gen uint32) []byte {
	b = append(b, 'L')
	b = strconv.AppendUint(b, uint64(makeRef(i, gen)), 36)
	return b
}

// warnExhaustion logs, from Run's goroutine every 10 s, each pool that
// refused numbers since the last look: operators see exhaustion at warn level
// without a log line on the bid path.
func (p *Pools) warnExhaustion() {
	if len(p.lastNobids) != len(p.pools) {
		p.lastNobids = make([]uint64, len(p.pools))
	}
	for i := range p.pools {
		pl := &p.pools[i]
		n := pl.nobids.Load()
		if d := n - p.lastNobids[i]; d > 0 {
			p.log.Warn().Str("pool", pl.id).Uint64("nobids", d).Uint64("total", n).
				Msg("tracking-number pool exhausted: bids refused for want of a free number (see needed_size in /admin/pools)")
		}
		p.lastNobids[i] = n
	}
}
