package bidder

import (
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/callbid/callbid/capacity"
	"github.com/callbid/callbid/jsonw"
	"github.com/callbid/callbid/numbers"
	"github.com/callbid/callbid/openrtb"
	"github.com/cespare/xxhash/v2"
	"github.com/prebid/openrtb/v20/adcom1"
	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/prebid/openrtb/v20/openrtb3"
)

// Cause is why a request got no bid, finer than the nbr code sent to the
// exchange; it labels the no-bid counter and the sampled debug log.
//
// Precedence: request-level causes (time, seat, currency, invalid traffic,
// unsupported formats) end the decision at once. Otherwise every campaign
// and imp is evaluated and the furthest stage any campaign reached is
// reported, because it is the most specific: a campaign that matched
// targeting and lost only on the floor says more than one that did not match.
// The campaign-level order, least to most specific, is the order of the
// constants from CauseNoMatch to CauseSourceBudget.
type Cause uint8

const (
	CauseNone             Cause = iota
	CauseInsufficientTime       // tmax minus network allowance leaves no time (nbr 15)
	CauseSeat                   // our seat not in wseat, or in bseat (nbr 0)
	CauseCurrency               // no usable currency in request.cur (nbr 0)
	CauseInvalidTraffic         // device ip/ifa on the invalid-traffic list (504)
	CausePrivacy                // privacy policy: GDPR/TCF or GPP without consent, US privacy opt-out (nbr 0)
	CauseTest                   // test=1 request and no server.test.number to bid with (nbr 0)
	CauseUnsupported            // only video/audio, or native without a phone asset (nbr 0)
	CauseInactive               // campaign paused, or outside its start/end flight (nbr 0)
	CauseNoMatch                // no campaign targets this request (nbr 0)
	CausePublisherBlocked       // publisher on a campaign block list (nbr 7)
	CauseBlocked                // coppa, bcat, badv or bapp excludes the campaigns (504)
	CauseInsecure               // imp.secure=1 but server.notice_base_url is http:// (nbr 0)
	CauseNoCreative             // no creative fits the imp size or format (nbr 0)
	CauseNoDeal                 // private auction without a deal open to our seat and advertiser (nbr 0)
	CauseBudget                 // daily or total budget spent, bids in flight included (nbr 0)
	CauseCallCap                // calls per hour/day or concurrent calls at the campaign's cap (nbr 0)
	CauseNoHeadroom             // no skilled-agent headroom, or pacing stop (500)
	CauseCapacityStale          // capacity feed stale (501)
	CauseBelowFloor             // price after scaling under the imp or deal floor (503)
	CausePoolExhausted          // tracking-number pool exhausted (502)
	CauseSourceBudget           // this client address or exchange holds its share of the pool (502)
	CauseLate                   // the decision itself overran the deadline (nbr 15)
	numCauses
)

var causeNames = [numCauses]string{"none", "insufficient_time", "seat", "currency", "invalid_traffic",
	"privacy", "test", "unsupported", "inactive", "no_match", "publisher_blocked", "blocked", "insecure", "no_creative",
	"no_deal", "budget", "call_cap", "no_headroom",
	"capacity_stale", "below_floor", "pool_exhausted", "source_budget", "late"}

var causeNBR = [numCauses]openrtb.NoBidReason{CauseInsufficientTime: openrtb3.NoBidInsufficientTime,
	CauseInvalidTraffic: openrtb.NBRBlockedTraffic, CausePublisherBlocked: openrtb3.NoBidBlockedPublisher,
	CauseBlocked: openrtb.NBRBlockedTraffic, CauseNoHeadroom: openrtb.NBRNoHeadroom,
	CauseCapacityStale: openrtb.NBRCapacityStale, CauseBelowFloor: openrtb.NBRBelowFloor,
	CausePoolExhausted: openrtb.NBRPoolExhausted, CauseSourceBudget: openrtb.NBRPoolExhausted,
	CauseLate: openrtb3.NoBidInsufficientTime}

func (c Cause) String() string { return causeNames[c] }

// NBR is the OpenRTB no-bid reason code sent for c.
func (c Cause) NBR() openrtb.NoBidReason { return causeNBR[c] }

// Result is the outcome of one decision: bids, or the reason there are none.
// It and everything it points to belong to the request being served.
type Result struct {
	Bids  []openrtb.Bid
	Cur   string
	Cause Cause // CauseNone when Bids is not empty
}

// NBR is the no-bid reason code (meaningful when there are no bids).
func (r *Result) NBR() openrtb.NoBidReason { return r.Cause.NBR() }

// cand is the per-request evaluation of one campaign.
type cand struct {
	cause Cause
	price float64 // micro-units of the response currency, capped by max_cpm
	cap   float64 // max_cpm in micro-units of the response currency
	dead  bool    // pool exhausted during this request
	bid   bool    // bid on some imp (debug answer)
	// exFactor is the learned exchange factor applied when exLearned
	// (Deps.ExchangeFactors set and the campaign got to pricing); shown in
	// the debug answer.
	exFactor  float64
	exLearned bool
	imp       Cause // furthest imp-level reason it did not bid (debug answer)
}

// decision is pooled per-request scratch.
type decision struct {
	Result
	cands    []cand
	seen     []bool
	refs     []numbers.Ref
	buf      []byte // strings of the bids (ids, urls, markup)
	deadline time.Time
	claim    numbers.Claim
	// client is the request's client address (see clientKey); hasClient
	// is false for Decide, which has none.
	client    [2]uint64
	hasClient bool
	// evaluated: cands hold this request's campaigns (a request-level
	// no-bid returns before them); read by the debug answer.
	evaluated bool
	curRate   float64 // USD per unit of the response currency
	head      openrtb.ResponseHead

	// Per-request values: set by decide, read by the functions it calls,
	// valid during that one call (clear drops them before the struct goes
	// back to the pool, so a pooled decision pins no request).
	s       *snapshot
	req     *openrtb.Request
	ex      *exchangeRT
	now     time.Time
	hour    int // hour, weekday and day in the server's time zone
	dow     time.Weekday
	day     int64
	devType int // device.devicetype, 0 outside the AdCOM list
	ipHash  uint64
	ifaHash uint64
	bcat    uint64 // catKeys of req.BCat (catBlocked's filter)
	badv    firstKeys
	// anonymous: the privacy policy bids without personal data.
	anonymous bool
	impFloor  float64    // the current imp's floor, micro-units of the response currency
	keys      reqKeys    // the request's set keys, folded once (keys.go)
	ids       reqIDs     // keys as ids of the snapshot's dictionaries (keyids.go)
	shade     shadeCells // see shadeCells
	// mac is the notice signer's HMAC state (of macOf), kept with the
	// pooled decision across requests (signer.state).
	mac   *macState
	macOf *signer
}

// pick is the campaign chosen for one imp, its creative and price, and,
// once a number is reserved, the bid's id and reservation.
type pick struct {
	imp    *openrtb.Imp
	c      *campaign
	cr     *creative
	native bool
	deal   string
	price  int64 // micro-units of the response currency
	value  int64 // price before shading (reports show both)
	bidID  string
	res    numbers.Reservation
}

// release drops the per-request pointers (see decision).
func (d *decision) release() {
	d.s, d.req, d.ex = nil, nil, nil
	d.shade = shadeCells{}
	d.keys.clear()
	// The claim and the bids view the request body: a pooled decision
	// must not keep it alive.
	d.claim = numbers.Claim{}
	clear(d.Bids)
}

func (b *Bidder) getDecision() *decision {
	if d, ok := b.pool.Get().(*decision); ok {
		return d
	}
	return &decision{buf: make([]byte, 0, 8<<10)}
}

func (b *Bidder) putDecision(d *decision) {
	d.release()
	if cap(d.buf) > 1<<20 {
		return // do not keep outsized buffers
	}
	b.pool.Put(d)
}

var bidSeq atomic.Uint64

// bidPrefix makes bid ids unique across restarts and instances.
var bidPrefix = func() [8]byte {
	var p [8]byte
	v := uint64(time.Now().UnixNano()) ^ xxhash.Sum64String(hostnameOrPID())
	const digits = "0123456789abcdefghijklmnopqrstuv"
	for i := range p {
		p[i] = digits[v&31]
		v >>= 5
	}
	return p
}()

func hostnameOrPID() string {
	h, _ := os.Hostname()
	return h + "/" + strconv.Itoa(os.Getpid())
}

func hashString(s string) uint64 {
	if s == "" {
		return 0
	}
	return xxhash.Sum64String(s)
}

// Decide runs the decision for req from exchange at now (mainly for tests
// and tools; the HTTP handler uses the pooled path). The Result stays valid
// while req does.
func (b *Bidder) Decide(req *openrtb.Request, exchange string, now time.Time) Result {
	d := &decision{}
	s := b.snap.Load()
	b.decide(d, s, req, s.exchange([]byte(exchange)), now)
	return d.Result
}

func (b *Bidder) decide(d *decision, s *snapshot, req *openrtb.Request, ex *exchangeRT, now time.Time) {
	d.Bids, d.Cause, d.Cur, d.evaluated = d.Bids[:0], CauseNone, "", false
	d.buf, d.refs = d.buf[:0], d.refs[:0]
	d.s, d.req, d.ex, d.now, d.anonymous = s, req, ex, now, false
	d.shade = shadeCells{}
	srv := &s.cfg.Server

	avail := openrtb.Deadline(req.TMax, ex.allowance, ex.defaultTMax, srv.MaxDeadline)
	if avail <= 0 {
		d.Cause = CauseInsufficientTime
		return
	}
	d.deadline = now.Add(avail)

	if (len(req.WSeat) > 0 && !inList(req.WSeat, srv.Seat)) || inList(req.BSeat, srv.Seat) {
		d.Cause = CauseSeat
		return
	}
	cur, curRate, head := s.pickCurrency(req.Cur)
	if cur == "" {
		d.Cause = CauseCurrency
		return
	}
	d.Cur, d.curRate, d.head = cur, curRate, head

	ip := req.Device.IP
	if ip == "" {
		ip = req.Device.IPv6
	}
	d.ipHash, d.ifaHash = hashString(ip), hashString(req.Device.IFA)
	fb := b.deps.Feedback
	if !fb.Allowed(d.ipHash, d.ifaHash) || !fb.AllowedIP(ip) {
		d.Cause = CauseInvalidTraffic
		return
	}
	switch s.policy.check(req) {
	case verdictBlock:
		d.Cause = CausePrivacy
		return
	case verdictAnonymous:
		// No consent for personal data: the reservation and the notice
		// token carry no device hashes.
		d.ipHash, d.ifaHash, d.anonymous = 0, 0, true
	}
	if req.Test && !s.policy.testBid {
		d.Cause = CauseTest
		return
	}
	supported := false
	for i := range req.Imps {
		if s.supported(&req.Imps[i]) { // channel.go: also native invitations to chat
			supported = true
			break
		}
	}
	if !supported {
		d.Cause = CauseUnsupported
		return
	}

	d.hour, d.dow, d.day = localClock(now, s.loc)
	d.bcat = bcatKeys(req.BCat)
	d.badv = listFirstKeys(req.BAdv)
	d.keys.set(req, s.keyNeeds)
	d.ids = d.keys.intern(s)
	d.devType = int(req.Device.Type)
	if d.devType < 0 || d.devType >= len(campaign{}.devTypes) {
		d.devType = 0
	}

	worst := CauseInactive // every campaign paused or out of flight; any that got further says more
	if len(s.campaigns) == 0 {
		worst = CauseNoMatch
	}
	if cap(d.cands) < len(s.campaigns) {
		d.cands = make([]cand, len(s.campaigns))
	}
	d.cands = d.cands[:len(s.campaigns)]
	if cap(d.seen) < s.nSkills {
		d.seen = make([]bool, s.nSkills)
	}
	d.seen = d.seen[:s.nSkills]
	clear(d.seen)
	anyCand := false
	d.evaluated = true
	for i, c := range s.campaigns {
		cd := &d.cands[i]
		*cd = cand{}
		cd.cause = b.evalCampaign(d, c, cd)
		if cd.cause != CauseNone {
			worst = max(worst, cd.cause)
		} else {
			anyCand = true
		}
	}
	if !anyCand {
		d.Cause = worst
		return
	}

	for i := range req.Imps {
		imp := &req.Imps[i]
		if !s.supported(imp) {
			continue
		}
		if len(d.Bids) >= srv.MaxBidsPerRequest {
			// Each bid holds a number: a request with hundreds of imps must
			// not take hundreds of them.
			b.m.impsCapped.Add(float64(s.countSupported(req.Imps[i:])))
			break
		}
		var ok bool
		if d.impFloor, ok = s.toMicros(imp.BidFloor, imp.BidFloorCur, curRate); !ok {
			worst = max(worst, CauseNoMatch)
			continue
		}
		for attempt := 0; attempt < len(s.campaigns); attempt++ {
			best, bestPrice := -1, 0.0
			p := pick{imp: imp}
			for ci, c := range s.campaigns {
				cd := &d.cands[ci]
				if cd.cause != CauseNone || cd.dead {
					continue
				}
				if imp.Secure && !s.baseHTTPS {
					worst, cd.imp = max(worst, CauseInsecure), max(cd.imp, CauseInsecure)
					continue
				}
				cr, native := fitCreative(c, imp)
				if cr == nil {
					worst, cd.imp = max(worst, CauseNoCreative), max(cd.imp, CauseNoCreative)
					continue
				}
				price := cd.price
				if c.sizeMult != nil && !native {
					if m, ok := c.sizeMult[sizeKey(cr.w, cr.h)]; ok {
						price = min(price*m, cd.cap)
					}
					if !(price >= 1) { // a zero size multiplier: "not this size"
						worst, cd.imp = max(worst, CauseNoCreative), max(cd.imp, CauseNoCreative)
						continue
					}
				}
				deal, fc := d.clearsFloor(imp, c, price)
				if fc != CauseNone {
					worst, cd.imp = max(worst, fc), max(cd.imp, fc)
					continue
				}
				if price > bestPrice {
					best, bestPrice = ci, price
					p.c, p.cr, p.native, p.deal = c, cr, native, deal
				}
			}
			if best < 0 {
				break
			}
			p.value = int64(bestPrice)
			if !s.cfg.Shading.Disabled && firstPrice(req, imp, p.deal) {
				bestPrice = b.shadePrice(d, &p, bestPrice)
			}
			p.price = int64(bestPrice)
			c := b.bid(d, &p)
			if c == CauseNone {
				d.cands[best].bid = true
				break
			}
			d.cands[best].dead = true
			d.cands[best].imp = max(d.cands[best].imp, c)
			worst = max(worst, c)
		}
	}
	if len(d.Bids) == 0 {
		d.Cause = worst
		return
	}
	if b.now().After(d.deadline) {
		// Too late to be used: free the numbers at once rather than wait for holds to expire.
		for _, ref := range d.refs {
			b.deps.Reserver.Loss(ref, now)
		}
		d.Bids = d.Bids[:0]
		d.Cause = CauseLate
	}
}

func (s *snapshot) countSupported(imps []openrtb.Imp) int {
	n := 0
	for i := range imps {
		if s.supported(&imps[i]) {
			n++
		}
	}
	return n
}

func impSupported(imp *openrtb.Imp) bool {
	return (imp.Banner && len(imp.Formats) > 0) || (imp.Native && imp.NativeHasPhone)
}

// evalCampaign applies the request-level targeting of c and prices it
// into cd.
func (b *Bidder) evalCampaign(d *decision, c *campaign, cd *cand) Cause {
	req, ex, now, devType := d.req, d.ex, d.now, d.devType
	hour, dow, day := d.hour, d.dow, d.day
	if c.paused {
		return CauseInactive
	}
	if ns := now.UnixNano(); (c.start != 0 && ns < c.start) || (c.end != 0 && ns >= c.end) {
		return CauseInactive
	}
	if c.loc != nil { // the campaign's own time zone
		hour, dow, day = localClock(now, c.loc)
	}
	if !c.anyInv && !c.inventory[req.Inventory] {
		return CauseNoMatch
	}
	if req.Regs.COPPA && !c.allowCOPPA {
		return CauseBlocked
	}
	if (d.badv.meets(c.adomainKey) && inListFold(req.BAdv, c.adomain)) || (c.appBundle != "" && inListFold(req.BApp, c.appBundle)) ||
		(d.bcat&c.adCatKeys != 0 && catBlocked(req.BCat, c.adCats)) {
		return CauseBlocked
	}
	if c.ids.pubBlock.on && d.ids.pubHit(&c.ids.pubBlock) {
		return CausePublisherBlocked
	}
	if c.ids.pubAllow.on && !d.ids.pubHit(&c.ids.pubAllow) {
		return CauseNoMatch
	}
	if c.ids.countries.on && !c.ids.countries.has(d.ids.country) {
		return CauseNoMatch
	}
	if c.ids.regions.on && !c.ids.regions.has(d.ids.region) {
		return CauseNoMatch
	}
	cats := c.siteCats
	if req.Inventory == openrtb.InventoryApp {
		cats = c.appCats
	}
	if len(cats) > 0 && !catsMatch(req.Cats, cats) {
		return CauseNoMatch
	}
	if len(c.keywords) > 0 && !keywordsMatch(req.Keywords, c.keywords) {
		return CauseNoMatch
	}
	if !c.anyDevice && !c.devTypes[devType] {
		return CauseNoMatch
	}
	fb := b.deps.Feedback
	if !d.seen[c.skillIdx] && !req.Test { // test requests count in no report
		d.seen[c.skillIdx] = true
		fb.RecordSeen(c.skill, ex.name, now)
	}
	if c.daily > 0 || c.total > 0 {
		var held int64
		if c.reserveWin > 0 {
			held = c.budget.reserved(now.Unix(), c.reserveWin)
		}
		if (c.daily > 0 && c.budget.spentOn(day)+held >= c.daily) || (c.total > 0 && c.budget.total.Load()+held >= c.total) {
			return CauseBudget
		}
	}
	if (c.capHour|c.capDay|c.capConcurrent) != 0 && c.calls.capReached(c, day*24+int64(hour), day) {
		return CauseCallCap
	}
	factor := 1.0
	if c.needsCap {
		v := b.capacityView(c, now) // channel.go: voice, or another channel while voice is full
		if !(v.Factor > 0) {
			if v.State == capacity.Stale {
				return CauseCapacityStale
			}
			return CauseNoHeadroom
		}
		factor = v.Factor
		if v.PremiumFree && c.premProf > 0 {
			factor *= c.premMult
		}
	}
	pace, stop := b.pacing(fb, c) // channel.go: a call's is the skill's pacing
	// The stop is the skill's queue waiting too long: a capacity signal,
	// which a campaign that bids without capacity does not wait for.
	if stop && c.needsCap {
		return CauseNoHeadroom
	}
	// Volume control: skip when the skill's expected calls are spent.
	if pt := b.deps.Participation; pt != nil && !req.Test && !b.admit(pt, c) {
		return CauseNoHeadroom
	}
	base := c.baseCPM
	if c.valueBidding {
		base = c.valueCallRate * b.value.perCall(c, req.PublisherID)
	}
	p := base * factor * pace * b.hitRate(fb, c, req.PublisherID) *
		c.hour[hour] * c.dow[dow] * c.dev[devType]
	if c.ids.pubMult.on {
		if m, ok := c.ids.pubMult.get(d.ids.pub); ok {
			p *= m
		}
	}
	if c.ids.countryMult.on {
		if m, ok := c.ids.countryMult.get(d.ids.country); ok {
			p *= m
		}
	}
	if c.ids.regionMult.on {
		if m, ok := c.ids.regionMult.get(d.ids.region); ok {
			p *= m
		}
	}
	if c.grid != nil {
		p *= c.grid[dow][hour]
	}
	if c.exMult != nil {
		if m, ok := lookupLower(c.exMult, ex.name); ok {
			p *= m
		}
	}
	if b.deps.ExchangeFactors != nil { // learned, beside the configured multiplier
		cd.exFactor, cd.exLearned = b.exchangeFactor(d, c), true
		p *= cd.exFactor
	}
	if c.ids.domainMult.on {
		if m, ok := c.ids.domainMult.get(d.ids.domain); ok {
			p *= m
		}
	}
	if c.ids.bundleMult.on {
		if m, ok := c.ids.bundleMult.get(d.ids.bundle); ok {
			p *= m
		}
	}
	if p > c.maxCPM {
		p = c.maxCPM
	}
	p = p * c.rate / d.curRate
	cd.cap = c.maxCPM * c.rate / d.curRate
	if !(p >= 1) { // under one micro-unit (or NaN): a zero multiplier means "not here"
		return CauseNoMatch
	}
	cd.price = p
	return CauseNone
}

// bid reserves a number for p.c on p.imp and appends the bid. It returns
// CausePoolExhausted when the pool is, CauseSourceBudget when this client or
// exchange holds its share of the pool already.
func (b *Bidder) bid(d *decision, p *pick) Cause {
	if d.req.Test {
		return b.testBid(d, p)
	}
	s, req, ex, c, now := d.s, d.req, d.ex, p.c, d.now
	cause, cs, xs := b.admitHold(d, s, ex, c.pool, now)
	if cause != CauseNone {
		return cause
	}
	start := len(d.buf)
	d.buf = append(d.buf, bidPrefix[:]...)
	d.buf = append(d.buf, '-')
	d.buf = appendBase32(d.buf, bidSeq.Add(1))
	p.bidID = jsonw.UnsafeString(d.buf[start:]) // d.buf is only appended to during a request

	// The claim lives in the pooled decision: passed to an interface it would escape.
	claim := &d.claim
	*claim = numbers.Claim{CampaignID: c.id, PublisherID: req.PublisherID, SiteOrApp: req.SiteOrAppID,
		Exchange: ex.name, RequestID: req.ID, ImpID: p.imp.ID, BidID: p.bidID, Skill: c.skill,
		PriceMicros: p.price, IPHash: d.ipHash, IFAHash: d.ifaHash, CreativeID: p.cr.id, Currency: d.Cur,
		Country: req.Device.Country, Region: req.Device.Region, DeviceType: uint8(max(req.Device.Type, 0))}
	res, ok := b.deps.Reserver.Reserve(c.pool, claim, now)
	if !ok {
		b.releaseHold(s, ex, c.pool, cs, xs)
		d.buf = d.buf[:start]
		return CausePoolExhausted
	}
	p.res = res
	d.refs = append(d.refs, res.Ref)
	usd := float64(p.price) / 1e6 * d.curRate
	if !s.cfg.Shading.Disabled {
		d.shadeCells(b.shade)
		b.shade.recordBidCells(&d.shade, ex.name, req.PublisherID, usd)
	}
	if (c.daily > 0 || c.total > 0) && c.reserveWin > 0 {
		// Expected spend in the campaign currency: price × P(win), the
		// learned win curve's (1 while it has too little evidence).
		pwin := 1.0
		if !s.cfg.Shading.Disabled {
			pwin = b.shade.winProb(&s.cfg.Shading, d.shade, usd)
		}
		c.budget.reserve(now.Unix(), int64(float64(p.price)*pwin*d.curRate/c.rate))
	}
	b.appendBid(d, p)
	b.recordBid(d, c, p.price, p.value, usd) // channel.go
	return CauseNone
}

// testBid answers a test=1 request: the same price and markup, but the
// number is test_requests.number (no pool entry is reserved), no hold,
// budget or feedback counter is touched, and the bid id starts with
// testBidPrefix so its notices change nothing.
func (b *Bidder) testBid(d *decision, p *pick) Cause {
	start := len(d.buf)
	d.buf = append(d.buf, testBidPrefix...)
	d.buf = append(d.buf, bidPrefix[:]...)
	d.buf = append(d.buf, '-')
	d.buf = appendBase32(d.buf, bidSeq.Add(1))
	p.bidID = jsonw.UnsafeString(d.buf[start:])
	p.res = numbers.Reservation{E164: d.s.policy.testNumber}
	b.appendBid(d, p)
	return CauseNone
}

// appendBid renders the markup and signed notice URLs of p's bid and
// appends it to d.Bids. A test bid's notice token carries no device hashes.
func (b *Bidder) appendBid(d *decision, p *pick) {
	s, req, imp, c, cr, res := d.s, d.req, p.imp, p.c, p.cr, &p.res
	ipHash, ifaHash := d.ipHash, d.ifaHash
	if req.Test {
		ipHash, ifaHash = 0, 0
	}
	vars := markupVars(c, res) // channel.go: the number, or a chat/sms/callback key
	mStart := len(d.buf)
	mtype, w, h := int(openrtb2.MarkupBanner), cr.w, cr.h
	escaped := false
	if p.native {
		d.buf = appendNative(d.buf, c, imp, cr.title, &vars) // channel.go
		mtype, w, h = int(openrtb2.MarkupNative), 0, 0
	} else {
		// Rendered pre-escaped: the banner's HTML is escaped once at config
		// load instead of on every response (it was ~8% of a bid's CPU).
		d.buf = cr.tmpl.AppendJSON(d.buf, &vars)
		escaped = true
	}
	mEnd := len(d.buf)

	t := noticeToken{ref: res.Ref, issued: d.now.Unix(), price: p.price, cur: d.Cur, ipHash: ipHash,
		ifaHash: ifaHash, campaign: c.id, publisher: req.PublisherID, exchange: d.ex.name, skill: c.skill, bidID: p.bidID, ch: c.contactChannel()}
	var urls [3][2]int
	var payload [2]int
	var tags kindTags
	for k, kind := range [3]string{"/notice/win?t=", "/notice/bill?t=", "/notice/loss?t="} {
		urls[k][0] = len(d.buf)
		d.buf = append(d.buf, s.base...)
		d.buf = append(d.buf, kind...)
		if k == 0 {
			// One HMAC per bid: the payload is shared, each URL gets its kind's tag.
			payload[0] = len(d.buf)
			d.buf, tags = s.signer.state(&d.mac, &d.macOf).appendSigned(d.buf, &t)
			payload[1] = len(d.buf)
		} else {
			d.buf = append(d.buf, d.buf[payload[0]:payload[1]]...)
		}
		d.buf = append(d.buf, '.')
		d.buf = append(d.buf, tags[k][:]...)
		d.buf = append(d.buf, "&p=${AUCTION_PRICE}&c=${AUCTION_CURRENCY}"...)
		if k != 1 { // win and loss: what bid shading learns the competition from
			d.buf = append(d.buf, "&m=${AUCTION_MIN_TO_WIN}"...)
		}
		if k == 2 {
			d.buf = append(d.buf, "&l=${AUCTION_LOSS}"...)
		}
		urls[k][1] = len(d.buf)
	}
	exp := imp.Exp
	if exp <= 0 {
		exp = s.cfg.Server.BidExp
	}
	buf := d.buf
	d.Bids = append(d.Bids, openrtb.Bid{ID: p.bidID, ImpID: imp.ID, Price: float64(p.price) / 1e6,
		AdM: buf[mStart:mEnd:mEnd], AdMEscaped: escaped, ADomain: c.adomain, CID: c.id, CrID: cr.id, DealID: p.deal, MType: mtype,
		W: w, H: h, NURL: jsonw.UnsafeString(buf[urls[0][0]:urls[0][1]]), BURL: jsonw.UnsafeString(buf[urls[1][0]:urls[1][1]]),
		LURL: jsonw.UnsafeString(buf[urls[2][0]:urls[2][1]]), URLsPlain: s.basePlain, Exp: exp, Cat: c.cats, CatTax: catTax(c.cats), Bundle: c.bundle, AdID: cr.id,
		Fields: cr.fields})
}

// catTax is the taxonomy of bid.cat: callbid's categories are IAB Content
// Category Taxonomy 1.0 codes (IAB13-7).
func catTax(cats []string) int {
	if len(cats) == 0 {
		return 0
	}
	return int(adcom1.CatTaxIABContent10)
}

func appendBase32(dst []byte, v uint64) []byte {
	const digits = "0123456789abcdefghijklmnopqrstuv"
	var tmp [13]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = digits[v&31]
		v >>= 5
		if v == 0 {
			break
		}
	}
	return append(dst, tmp[i:]...)
}

// fitCreative picks the creative for imp: a banner of a requested size, else
// a native creative when the imp asks for the phone data asset.
func fitCreative(c *campaign, imp *openrtb.Imp) (*creative, bool) {
	if imp.Banner {
		for _, f := range imp.Formats {
			for i := range c.banners {
				if cr := &c.banners[i]; cr.w == f.W && cr.h == f.H {
					return cr, false
				}
			}
		}
	}
	if len(c.natives) > 0 && nativeFits(c, imp) { // channel.go: a phone asset, or a title for chat/sms/callback
		return &c.natives[0], true
	}
	return nil, false
}

// pickCurrency returns the first currency of request.cur callbid bids in
// (USD when the request names none), its USD rate and the head of responses
// in it.
func (s *snapshot) pickCurrency(curs []string) (string, float64, openrtb.ResponseHead) {
	if len(curs) == 0 {
		if s.bidCur["USD"] {
			return "USD", 1, s.usdHead
		}
		return "", 0, ""
	}
	for _, c := range curs {
		for i := range s.bidRates {
			if br := &s.bidRates[i]; br.cur == c {
				return br.cur, br.rate, br.head
			}
		}
	}
	return "", 0, ""
}

// toMicros converts an amount in cur ("" = USD) into micro-units of the
// response currency; false when cur has no rate.
func (s *snapshot) toMicros(v float64, cur string, respRate float64) (float64, bool) {
	if !(v > 0) {
		return 0, true
	}
	if cur == "" {
		cur = "USD"
	}
	r, ok := s.rates[cur]
	if !ok {
		return 0, false
	}
	return v * 1e6 * r / respRate, true
}

// clearsFloor decides the deal: the first deal open to our seat and the
// campaign's advertiser whose floor the price meets; otherwise the open
// auction when it is not private and the imp floor (d.impFloor) is met.
func (d *decision) clearsFloor(imp *openrtb.Imp, c *campaign, price float64) (string, Cause) {
	s, impFloor, respRate := d.s, d.impFloor, d.curRate
	open := false
	for i := range imp.Deals {
		dl := &imp.Deals[i]
		if len(dl.WSeat) > 0 && !inList(dl.WSeat, s.cfg.Server.Seat) {
			continue
		}
		if len(dl.WADomain) > 0 && !inListFold(dl.WADomain, c.adomain) {
			continue
		}
		open = true
		f, ok := s.toMicros(dl.BidFloor, dl.BidFloorCur, respRate)
		if ok && price >= f {
			return dl.ID, CauseNone
		}
	}
	switch {
	case imp.PrivateAuction && !open:
		return "", CauseNoDeal
	case imp.PrivateAuction, price < impFloor:
		return "", CauseBelowFloor
	}
	return "", CauseNone
}

func inList(l []string, v string) bool {
	for _, x := range l {
		if x == v {
			return true
		}
	}
	return false
}

// firstKeys is a set of first bytes, folded (ASCII letters to lower
// case): a bcat-like filter for inListFold. Equal under strings.EqualFold,
// two non-empty ASCII-led strings start with the same folded byte; an
// empty string or one led by a byte outside ASCII has every bit, so
// a.meets(b) is false only when no entry of one can equal one of the
// other, and evalCampaign skips the badv scan per campaign on it.
type firstKeys [2]uint64

func firstKey(s string) firstKeys {
	if s == "" || s[0] >= 0x80 {
		return firstKeys{^uint64(0), ^uint64(0)}
	}
	c := s[0]
	if l := c | 0x20; l >= 'a' && l <= 'z' {
		c = l
	}
	var k firstKeys
	k[c>>6] = 1 << (c & 63)
	return k
}

// listFirstKeys is the union of the firstKeys of l's trimmed entries (as
// inListFold compares them).
func listFirstKeys(l []string) firstKeys {
	var k firstKeys
	for _, x := range l {
		f := firstKey(strings.TrimSpace(x))
		k[0] |= f[0]
		k[1] |= f[1]
	}
	return k
}

func (k firstKeys) meets(o firstKeys) bool { return k[0]&o[0]|k[1]&o[1] != 0 }

func inListFold(l []string, v string) bool {
	for _, x := range l {
		x = strings.TrimSpace(x)
		// A first byte that differs in ASCII settles it (domains differ
		// there; their ends are mostly .com) without the EqualFold call.
		if x != "" && v != "" && asciiDiffer(x[0], v[0]) {
			continue
		}
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}

// catMatch reports whether category cat lies within group (IAB13-7 within IAB13).
func catMatch(cat, group string) bool {
	n := len(group)
	if len(cat) < n || (len(cat) > n && cat[n] != '-') {
		return false
	}
	// Codes that differ mostly differ in their last digit: check it first
	// (inlined), then the rest.
	if n > 0 && asciiDiffer(cat[n-1], group[n-1]) {
		return false
	}
	return catMatchFold(cat[:n], group)
}

// asciiDiffer: a and b are ASCII and not equal under ASCII case folding
// (so no Unicode folding can make the strings holding them equal).
func asciiDiffer(a, b byte) bool {
	return a != b && a|b < 0x80 && (a|0x20 != b|0x20 || a|0x20 < 'a' || a|0x20 > 'z')
}

// catMatchFold is strings.EqualFold(cat, group) for len(cat) == len(group).
func catMatchFold(cat, group string) bool {
	// ASCII case folding inline (strings.EqualFold's call was most of
	// catBlocked's cost: bcat × ad categories × campaigns per request);
	// a non-ASCII byte falls back to it for Unicode folding.
	for i := 0; i < len(group); i++ {
		a, g := cat[i], group[i]
		if a == g {
			continue
		}
		if a|g >= 0x80 {
			return strings.EqualFold(cat, group)
		}
		if a|0x20 != g|0x20 || a|0x20 < 'a' || a|0x20 > 'z' {
			return false
		}
	}
	return true
}

// catBlocked: any ad category of the campaign falls within a bcat entry.
func catBlocked(bcat, adCats []string) bool {
	for _, b := range bcat {
		for _, a := range adCats {
			if catMatch(a, b) {
				return true
			}
		}
	}
	return false
}

// catKey is a bit standing for the category codes of length n whose last
// byte folds to last (ASCII letters fold to lower case; n = 0 has none):
// catMatch(a, b) on ASCII a[:len(b)] needs a's prefix of b's length to end
// in the byte b ends in. A request's bcat keys (bcatKeys) and a campaign's
// ad category keys (adCatKeys) that share no bit cannot block, so
// evalCampaign skips catBlocked's bcat × ad categories comparisons; bits
// shared by chance only cost the exact check. n*10 keeps IAB codes (length
// 4-9, digits last) on distinct bits.
func catKey(n int, last byte) uint64 {
	if l := last | 0x20; l >= 'a' && l <= 'z' {
		last = l
	}
	return 1 << ((uint(n)*10 + uint(last)) & 63)
}

// bcatKeys is the union of the catKeys of the request's bcat entries.
func bcatKeys(bcat []string) uint64 {
	var k uint64
	for _, b := range bcat {
		if len(b) == 0 {
			k |= catKey(0, 0)
		} else {
			k |= catKey(len(b), b[len(b)-1])
		}
	}
	return k
}

// adCatKeys is the union of the catKeys of every bcat entry that could
// block one of cats: each prefix ending before a '-' or at the end. A
// prefix with a byte outside ASCII may match by Unicode folding, so it
// gives every bit (a bcat entry that is not ASCII cannot match an ASCII
// prefix of its length: fewer runes).
func adCatKeys(cats []string) uint64 {
	var k uint64
	for _, a := range cats {
		ascii := true
		for n := 0; n <= len(a); n++ {
			if n > 0 && a[n-1] >= 0x80 {
				ascii = false
			}
			if n < len(a) && a[n] != '-' {
				continue
			}
			switch {
			case !ascii:
				return ^uint64(0)
			case n == 0:
				k |= catKey(0, 0)
			default:
				k |= catKey(n, a[n-1])
			}
		}
	}
	return k
}

// catsMatch: any request category falls within a targeted group.
func catsMatch(reqCats, groups []string) bool {
	for _, rc := range reqCats {
		for _, g := range groups {
			if catMatch(rc, g) {
				return true
			}
		}
	}
	return false
}

// keywordsMatch: any comma-separated request keyword equals a campaign one.
func keywordsMatch(kw string, want []string) bool {
	for kw != "" {
		var k string
		k, kw, _ = strings.Cut(kw, ",")
		k = strings.TrimSpace(k)
		for _, w := range want {
			if strings.EqualFold(k, w) {
				return true
			}
		}
	}
	return false
}

// lookupLower looks up s folded to lower case (the exchange's name; the
// request's own strings are folded once per request, keys.go).
func lookupLower(m map[string]float64, s string) (float64, bool) {
	var buf [maxFoldKey]byte
	k, _ := foldKey(buf[:0], s, false)
	return keyed(m, k)
}
