package bidder

import (
	"math"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/callbid/callbid/openrtb"
	"github.com/prebid/openrtb/v20/openrtb3"
)

// Bid shading in first-price auctions (at=1). In a first-price auction the
// winner pays its bid, so bidding the full value leaves no surplus. The
// shader learns, per exchange × publisher (pooled per exchange while a
// publisher has little evidence), the distribution of the highest competing
// bid — F(p) = P(competitor < p) = P(win | bid p) — and bids the price p
// that maximises the expected surplus (value − p) × F(p), never below the
// floor nor above the value. Second-price auctions are not shaded.
//
// Evidence, on a log-spaced price grid (USD CPM):
//   - every bid made (bid path: one atomic add), and every win (win notice):
//     a win at p means competitor < p, a bid not won means competitor ≥ p;
//   - an exact competing price when the exchange tells it: the notice's
//     ${AUCTION_MIN_TO_WIN}, or the winner's price on a loss notice.
//
// F at a grid edge e is (wins below e + exact below e) ÷ (that + bids not
// won at or above e + exact at or above e): monotone by construction, and
// the empirical CDF when only exact prices are known. Bids whose outcome is
// not known yet count as lost, which errs towards bidding higher.
//
// Goroutines: the bid path reads a cell's published CDF (atomic.Pointer)
// and adds to its bid counters; notice handlers add wins and exact prices
// and rebuild the CDF under the cell's mutex. Cells are found through
// copy-on-write maps, so the bid path takes no lock and allocates nothing.

// ShadingConfig is the bid-shading section.
type ShadingConfig struct {
	// Disabled turns shading off: first-price bids are the full value.
	Disabled bool `yaml:"disabled"`
	// MinObservations is the evidence (bids plus exact prices) a cell
	// needs before its curve is used; default 100.
	MinObservations int `yaml:"min_observations"`
	// MinFactor: a shaded bid is never below value × min_factor; default 0.2.
	MinFactor float64 `yaml:"min_factor"`
	// Memory halves a cell's counts when its bids exceed it, so the curve
	// follows a changing market; default 5000.
	Memory int `yaml:"memory"`
}

func (c *ShadingConfig) setDefaults() {
	if c.MinObservations == 0 {
		c.MinObservations = 100
	}
	if c.MinFactor == 0 {
		c.MinFactor = 0.2
	}
	if c.Memory == 0 {
		c.Memory = 5000
	}
}

func (c *ShadingConfig) validate(add func(path, format string, args ...any)) {
	if c.MinObservations < 0 {
		add("shading.min_observations", "must not be negative")
	}
	if c.MinFactor < 0 || c.MinFactor > 1 {
		add("shading.min_factor", "must be in [0, 1], not %g", c.MinFactor)
	}
	if c.Memory < 0 {
		add("shading.memory", "must not be negative")
	}
}

// The price grid: shadeBins log-spaced edges from shadeMin to shadeMax USD CPM.
const (
	shadeBins = 160
	shadeMin  = 0.01
	shadeMax  = 1000.0
)

var (
	shadeEdges  [shadeBins + 1]float64 // USD CPM
	shadeLogMin = math.Log(shadeMin)
	shadeStep   = (math.Log(shadeMax) - math.Log(shadeMin)) / shadeBins
)

func init() {
	for i := range shadeEdges {
		shadeEdges[i] = math.Exp(shadeLogMin + float64(i)*shadeStep)
	}
	initShadeBinTable()
}

// shadeBinLog is the bin of a USD CPM price (clamped to the grid), by
// definition; shadeBin answers the same from tables.
func shadeBinLog(p float64) int {
	if !(p > shadeMin) {
		return 0
	}
	i := int((math.Log(p) - shadeLogMin) / shadeStep)
	return min(max(i, 0), shadeBins-1)
}

// shadeBin's tables: shadeFrom[i] is the smallest price whose shadeBinLog
// is i (found by bisection over the float64 bit patterns, which order
// positive floats); shadeStart[j] is the shadeBinLog of the smallest price
// whose top 16 bits (exponent and 4 mantissa bits: a sixteenth of an
// octave, narrower than a bin's 0.104 octave) are shadeTop0+j. A bid's
// price bin then costs a table load and a comparison or two instead of a
// math.Log (about 15 ns of a bid; TestShadeBinAgreesWithLog).
var (
	shadeFrom  [shadeBins]float64
	shadeStart []uint8
	shadeTop0  uint64
)

func initShadeBinTable() {
	lo, hi := math.Float64bits(shadeMin), math.Float64bits(shadeMax*2)
	for i := 1; i < shadeBins; i++ {
		a, b := lo, hi // shadeBinLog(a) < i <= shadeBinLog(b)
		for b-a > 1 {
			m := a + (b-a)/2
			if shadeBinLog(math.Float64frombits(m)) >= i {
				b = m
			} else {
				a = m
			}
		}
		shadeFrom[i] = math.Float64frombits(b)
	}
	shadeTop0 = lo >> 48
	shadeStart = make([]uint8, hi>>48-shadeTop0+1)
	for j := range shadeStart {
		shadeStart[j] = uint8(shadeBinLog(math.Float64frombits((shadeTop0 + uint64(j)) << 48)))
	}
}

// shadeBin is the bin of a USD CPM price (clamped to the grid), as
// shadeBinLog.
func shadeBin(p float64) int {
	if !(p > shadeMin) {
		return 0
	}
	j := math.Float64bits(p)>>48 - shadeTop0
	if j >= uint64(len(shadeStart)) {
		return shadeBinLog(p) // beyond 2×shadeMax, +Inf included
	}
	i := int(shadeStart[j])
	for i+1 < shadeBins && p >= shadeFrom[i+1] {
		i++
	}
	return i
}

// shadeCell is one exchange × publisher (or exchange-wide) curve.
type shadeCell struct {
	bids  [shadeBins]atomic.Int64 // bids made, by bid price bin
	wins  [shadeBins]atomic.Int64 // wins, by bid price bin
	exact [shadeBins]atomic.Int64 // exact competing prices
	obs   atomic.Int64            // bids + exact since the counts were last halved
	mu    sync.Mutex              // rebuilds
	// cdf[k] = P(competitor < shadeEdges[k]); nil until there is evidence.
	cdf    atomic.Pointer[[shadeBins + 1]float64]
	n      atomic.Int64 // evidence behind cdf
	exactN atomic.Int64 // exact competing prices behind cdf
	// Evidence since cdf was built: notices, and obs then (see due).
	notices  atomic.Int64
	builtObs atomic.Int64
}

// rebuildShare: a cell's curve is rebuilt once the evidence since the last
// build reaches 1/rebuildShare of what it was built on (and on every
// notice while a cell has less than rebuildShare of it). A rebuild reads
// 480 counters, fits and smooths 160 bins and publishes a new array: about
// 3 µs, twice per notice (the publisher's cell and the exchange's), which
// with a notice per bid cost as much as the bid. A curve 1.6 % behind its
// evidence bids the same.
const rebuildShare = 64

// due reports whether the cell's curve should be rebuilt after one more
// notice.
func (c *shadeCell) due() bool {
	fresh := c.notices.Add(1) + c.obs.Load() - c.builtObs.Load()
	return c.cdf.Load() == nil || fresh*rebuildShare >= c.n.Load()
}

// shader holds every cell; it lives in the Bidder and survives reloads.
type shader struct {
	mu    sync.Mutex
	cells atomic.Pointer[map[string]map[string]*shadeCell] // exchange → publisher ("" = exchange-wide)
	count int
}

// maxShadeCells bounds the cells (≈ 3.8 KB each); beyond it a publisher
// uses its exchange-wide cell.
const maxShadeCells = 20000

func newShader() *shader {
	s := &shader{}
	m := map[string]map[string]*shadeCell{}
	s.cells.Store(&m)
	return s
}

// lookup returns the cells of exchange × publisher without allocating; nil
// when absent.
func (s *shader) lookup(exchange, publisher string) (pub, ex *shadeCell) {
	m := *s.cells.Load()
	pm := m[exchange]
	if pm == nil {
		return nil, nil
	}
	return pm[publisher], pm[""]
}

// cellsFor returns (creating them) the cells of exchange × publisher. It
// is called off the bid path's common case: the first bid on a pair.
func (s *shader) cellsFor(exchange, publisher string) (pub, ex *shadeCell) {
	if p, e := s.lookup(exchange, publisher); e != nil && (p != nil || publisher == "") {
		return p, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.cells.Load()
	pm := old[exchange]
	if pm != nil {
		if p, e := pm[publisher], pm[""]; e != nil && (p != nil || publisher == "") {
			return p, e
		}
	}
	if s.count >= maxShadeCells {
		if pm != nil {
			return nil, pm[""]
		}
		return nil, nil
	}
	// The bid path's strings view the request body, which the connection
	// reuses: a key must own its bytes or it changes under the map.
	exchange, publisher = strings.Clone(exchange), strings.Clone(publisher)
	m := make(map[string]map[string]*shadeCell, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	npm := make(map[string]*shadeCell, len(pm)+2)
	for k, v := range pm {
		npm[k] = v
	}
	if npm[""] == nil {
		npm[""] = &shadeCell{}
		s.count++
	}
	if publisher != "" && npm[publisher] == nil {
		npm[publisher] = &shadeCell{}
		s.count++
	}
	m[exchange] = npm
	s.cells.Store(&m)
	return npm[publisher], npm[""]
}

// price returns the bid for value (USD CPM) above floor (USD CPM) from the
// learned curve of exchange × publisher; value itself when the curve has
// too little evidence. It reads only atomics.
func (s *shader) price(cfg *ShadingConfig, cells shadeCells, value, floor float64) float64 {
	pub, ex := cells.pub, cells.ex
	c := pub
	if c == nil || c.n.Load() < int64(cfg.MinObservations) {
		c = ex
	}
	if c == nil || c.n.Load() < int64(cfg.MinObservations) {
		return value
	}
	cdf := c.cdf.Load()
	if cdf == nil {
		return value
	}
	lo := max(floor, value*cfg.MinFactor)
	best, bestU := value, -1.0
	for k := shadeBin(lo); k <= shadeBins; k++ {
		p := shadeEdges[k]
		if p < lo {
			continue
		}
		if p > value {
			break
		}
		if u := (value - p) * cdf[k]; u > bestU {
			best, bestU = p, u
		}
	}
	if bestU <= 0 {
		return value // the curve says no price below the value wins: bid the value
	}
	return best
}

// recordBid counts a bid at p (USD CPM).
func (s *shader) recordBid(exchange, publisher string, p float64) {
	var cells shadeCells
	s.recordBidCells(&cells, exchange, publisher, p)
}

// shadeCells are the cells of one exchange × publisher, looked up once per
// request (decision.shadeCells) instead of once per call: the nested map
// lookups were four per bid (explore, price, recordBid, winProb).
type shadeCells struct {
	pub, ex *shadeCell
	set     bool // looked up
}

// cellsOf looks up the cells of exchange × publisher (nil when absent).
func (s *shader) cellsOf(exchange, publisher string) shadeCells {
	pub, ex := s.lookup(exchange, publisher)
	return shadeCells{pub: pub, ex: ex, set: true}
}

// recordBidCells counts a bid at p (USD CPM) in cells, which it completes
// (creating the cells) on the first bid on this pair; the bid path calls it.
func (s *shader) recordBidCells(cells *shadeCells, exchange, publisher string, p float64) {
	pub, ex := cells.pub, cells.ex
	if ex == nil || (pub == nil && publisher != "") {
		pub, ex = s.cellsFor(exchange, publisher) // the first bid on this pair
		*cells = shadeCells{pub: pub, ex: ex, set: true}
	}
	k := shadeBin(p)
	for _, c := range [2]*shadeCell{pub, ex} {
		if c != nil {
			c.bids[k].Add(1)
			c.obs.Add(1)
		}
	}
}

// observe applies one notice: won or not at bid price p (USD CPM), and the
// exact competing price when known (exact ≤ 0: unknown).
func (s *shader) observe(cfg *ShadingConfig, exchange, publisher string, won bool, p, exact float64) {
	pub, ex := s.cellsFor(exchange, publisher)
	for _, c := range [2]*shadeCell{pub, ex} {
		if c == nil {
			continue
		}
		if won {
			c.wins[shadeBin(p)].Add(1)
		}
		if exact > 0 {
			c.exact[shadeBin(exact)].Add(1)
			c.obs.Add(1)
		}
		if c.due() {
			c.rebuild(cfg)
		}
	}
}

// rebuild recomputes the published CDF (notice path, when due; allocates
// the published array).
func (c *shadeCell) rebuild(cfg *ShadingConfig) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if mem := int64(cfg.Memory); mem > 0 && c.obs.Load() > mem {
		for k := range c.bids {
			c.bids[k].Store(c.bids[k].Load() / 2)
			c.wins[k].Store(c.wins[k].Load() / 2)
			c.exact[k].Store(c.exact[k].Load() / 2)
		}
		c.obs.Store(c.obs.Load() / 2)
	}
	c.notices.Store(0)
	c.builtObs.Store(c.obs.Load())
	// Per bid-price bin j: trials are the bids made there plus every exact
	// competing price (each says whether a bid in bin j would have won);
	// successes are the wins there plus the exact prices below bin j.
	var succ, weight [shadeBins]float64
	var exactTotal, exactBelow, n float64
	for k := range c.exact {
		exactTotal += float64(c.exact[k].Load())
	}
	for k := range c.bids {
		b := float64(c.bids[k].Load())
		w := min(float64(c.wins[k].Load()), b)
		succ[k] = w + exactBelow
		weight[k] = b + exactTotal
		exactBelow += float64(c.exact[k].Load())
		n += b
	}
	n += exactTotal
	if n == 0 {
		return
	}
	var fit [shadeBins]float64
	isotonic(succ[:], weight[:], fit[:])
	// A moving average over ±2 bins (±15% in price) keeps the argmax off
	// a bin that looks like a bargain by luck; it stays monotone.
	cdf := new([shadeBins + 1]float64)
	for k := range fit {
		lo, hi := max(k-2, 0), min(k+2, shadeBins-1)
		var sum float64
		for j := lo; j <= hi; j++ {
			sum += fit[j]
		}
		cdf[k] = sum / float64(hi-lo+1)
	}
	cdf[shadeBins] = cdf[shadeBins-1]
	c.cdf.Store(cdf)
	c.n.Store(int64(n))
	c.exactN.Store(int64(exactTotal))
}

// isotonic writes to out the non-decreasing fit (pool adjacent violators,
// weighted) of the rates succ[k]/weight[k]; bins without weight take the
// fitted value to their left (0 before the first), which never makes an
// unexplored price look better than the evidence below it.
func isotonic(succ, weight, out []float64) {
	type block struct{ s, w float64 }
	var bbuf [shadeBins]block
	var ebuf [shadeBins]int
	blocks, ends := bbuf[:0], ebuf[:0] // ends: the last bin of each block
	if len(succ) > shadeBins {
		blocks, ends = make([]block, 0, len(succ)), make([]int, 0, len(succ))
	}
	for k := range succ {
		if weight[k] == 0 {
			continue
		}
		blocks = append(blocks, block{succ[k], weight[k]})
		ends = append(ends, k)
		for len(blocks) > 1 {
			a, b := blocks[len(blocks)-2], blocks[len(blocks)-1]
			if a.s/a.w <= b.s/b.w {
				break
			}
			blocks = blocks[:len(blocks)-1]
			blocks[len(blocks)-1] = block{a.s + b.s, a.w + b.w}
			ends = ends[:len(ends)-1]
			ends[len(ends)-1] = k
		}
	}
	prev, bi := 0.0, 0
	for k := range out {
		for bi < len(ends) && ends[bi] < k {
			bi++
		}
		if weight[k] > 0 && bi < len(blocks) {
			prev = blocks[bi].s / blocks[bi].w
		}
		out[k] = prev
	}
}

// explore reports whether this first-price bid should probe a random price
// (and which fraction of the way from lo to value, log-scaled): 1 in 16
// while a cell has little evidence, 1 in 32 with ten times min_observations,
// 1 in 128 once exact competing prices are known. Without
// probes a bidder told only its wins would never see the curve below its
// own bid.
func (s *shader) explore(cfg *ShadingConfig, cells shadeCells, r uint64) (bool, float64) {
	pub, ex := cells.pub, cells.ex
	c := pub
	if c == nil || c.n.Load() < int64(cfg.MinObservations) {
		c = ex
	}
	if ex == nil || ex.cdf.Load() == nil {
		return false, 0 // no notice from this exchange yet: nothing to learn from a probe
	}
	mask := uint64(15)
	switch {
	case c != nil && c.exactN.Load() >= int64(cfg.MinObservations):
		mask = 127
	case c != nil && c.n.Load() >= 10*int64(cfg.MinObservations):
		mask = 31
	}
	if r&mask != 0 {
		return false, 0
	}
	return true, float64(r>>11) / (1 << 53)
}

// splitmix64 scrambles a counter into a uniform random number.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// firstPrice: the auction the bid enters is first-price (the deal's at
// when the bid is on a deal that sets one, else request.at).
func firstPrice(req *openrtb.Request, imp *openrtb.Imp, dealID string) bool {
	if dealID != "" {
		for i := range imp.Deals {
			if dl := &imp.Deals[i]; dl.ID == dealID && dl.AT != 0 {
				return dl.AT == int(openrtb3.FirstPrice)
			}
		}
	}
	return req.AT == int(openrtb3.FirstPrice)
}

// shadePrice shades value (micro-units of the response currency) of p for
// a first-price auction; the result is between the floor that applies and
// value.
func (b *Bidder) shadePrice(d *decision, p *pick, value float64) float64 {
	s, imp, dealID, curRate := d.s, p.imp, p.deal, d.curRate
	floor := d.impFloor
	if dealID != "" {
		for i := range imp.Deals {
			if dl := &imp.Deals[i]; dl.ID == dealID {
				floor, _ = s.toMicros(dl.BidFloor, dl.BidFloorCur, curRate)
				break
			}
		}
	}
	usd := curRate / 1e6 // micro-units of the response currency → USD CPM
	cfg := &s.cfg.Shading
	cells := d.shadeCells(b.shade)
	if ok, f := b.shade.explore(cfg, cells, splitmix64(bidSeq.Load())); ok {
		lo := max(floor, value*cfg.MinFactor, 1)
		return min(lo*math.Pow(value/lo, f), value)
	}
	price := b.shade.price(cfg, cells, value*usd, floor*usd) / usd
	// Rounding to the grid must not cross the floor or the value.
	return min(max(price, floor, 1), value)
}

// observeNotice feeds a win or loss notice to the shader: the bid price,
// whether it won, and the exact competing price when the exchange tells it
// (${AUCTION_MIN_TO_WIN}, or the winner's price on a loss).
func (b *Bidder) observeNotice(s *snapshot, t *noticeToken, kind noticeKind, price, mtw []byte) {
	if s.cfg.Shading.Disabled || kind == noticeBill {
		return
	}
	rate, ok := s.rates[t.cur]
	if !ok {
		return
	}
	toUSD := rate / 1e6
	exact := 0.0
	if v, ok := parseDecimalMicros(mtw); ok && v > 0 {
		exact = float64(v) * toUSD
	} else if kind == noticeLoss && len(price) > 0 && price[0] != '$' {
		if v, ok := parseDecimalMicros(price); ok && v > 0 {
			exact = float64(v) * toUSD
		}
	}
	b.shade.observe(&s.cfg.Shading, t.exchange, t.publisher, kind == noticeWin, float64(t.price)*toUSD, exact)
}

// winProb is the learned P(win) of a bid at p (USD CPM) on exchange ×
// publisher; 1 (the conservative value for budget reservations) while the
// curve has too little evidence.
func (s *shader) winProb(cfg *ShadingConfig, cells shadeCells, p float64) float64 {
	pub, ex := cells.pub, cells.ex
	c := pub
	if c == nil || c.n.Load() < int64(cfg.MinObservations) {
		c = ex
	}
	if c == nil || c.n.Load() < int64(cfg.MinObservations) {
		return 1
	}
	cdf := c.cdf.Load()
	if cdf == nil {
		return 1
	}
	return cdf[shadeBin(p)]
}

// shadeCells returns the shading cells of the request's exchange and
// publisher, looked up on the first call of the request.
func (d *decision) shadeCells(s *shader) shadeCells {
	if !d.shade.set {
		d.shade = s.cellsOf(d.ex.name, d.req.PublisherID)
	}
	return d.shade
}
