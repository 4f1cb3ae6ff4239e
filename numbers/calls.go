package numbers

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callbid/callbid/callrecords"
	"github.com/callbid/callbid/events"
)

// Match kinds of an attributed call (docs/openapi.yaml, /v1/calls).
const (
	MatchExact    = "exact"    // the lease live at the call's start
	MatchCooldown = "cooldown" // the lease ended less than a cooldown before
	MatchSticky   = "sticky"   // the caller's earlier lease on this number
	MatchBucket   = "bucket"   // a fallback number: campaign × publisher
	MatchNone     = "none"     // unknown number, or after the cooldown
)

const (
	mExact = iota
	mCooldown
	mSticky
	mBucket
	mNone
	nMatch
)

var matchNames = [nMatch]string{MatchExact, MatchCooldown, MatchSticky, MatchBucket, MatchNone}

// attribution is a copy of one reservation's data, taken under the shard
// lock so it outlives the entry's reuse.
type attribution struct {
	idx         int32
	gen         uint32
	pool        int32
	campaign    string
	publisher   string
	siteOrApp   string
	exchange    string
	requestID   string
	impID       string
	bidID       string
	skill       string
	price       int64
	wonAt       int64
	ipHash      uint64
	ifaHash     uint64
	fallbackNum bool
	// claimx.go
	creative, currency, country, region string
	devType                             uint8
	clearing                            int64 // micros; 0 unknown
}

// snapshot copies entry i's attribution; the caller holds its shard lock.
// The variable-length strings share one allocation.
func (p *Pools) snapshot(i int32) *attribution {
	a := &attribution{}
	p.snapshotInto(a, i)
	return a
}

// snapshotInto is snapshot into a (part of a call record: one allocation).
func (p *Pools) snapshotInto(a *attribution, i int32) {
	e := &p.entries[i]
	won := e.wonAt
	if won == 0 {
		won = e.reservedAt
	}
	buf := string(p.shardOf(p.poolOf(i), i).buf(e))
	r, m, b := int(e.reqLen), int(e.reqLen+e.impLen), int(e.reqLen+e.impLen+e.bidLen)
	*a = attribution{
		idx:       i,
		gen:       e.gen,
		pool:      p.poolIndex(i),
		campaign:  p.ids.name(e.campaign),
		publisher: p.ids.name(e.publisher),
		requestID: buf[:r],
		impID:     buf[r:m],
		bidID:     buf[m:b],
		siteOrApp: buf[b:],
		exchange:  p.small.name(uint32(e.exchange)),
		skill:     p.small.name(uint32(e.skill)),
		price:     e.price,
		wonAt:     won,
		ipHash:    e.ipHash,
		ifaHash:   e.ifaHash,
		creative:  p.ids.name(e.creative),
		currency:  p.small.name(uint32(e.cur)),
		devType:   e.devType,
		clearing:  e.clearing,
	}
	if g := e.geo; g != (geoBytes{}) {
		a.country, a.region = string(g.country()), string(g.region())
	}
}

type stickyKey struct {
	idx int32
	ani string
}

type stickyRec struct {
	a             *attribution
	from, expires int64
}

// callRecord is numbers' part of a call's record in the call record store
// (callrecords.Numbers); it is read and changed under calls.mu.
type callRecord struct {
	// ev is the call and its attribution, as answered and published:
	// immutable once stored (Run and feedback read it). The record holds it
	// once (callrecords.Store.Attribution), for numbers and feedback.
	ev   *events.Attribution
	spam bool // a SPAM outcome of this call was counted
	// the entry and generation whose lease this call ended (idx -1: none);
	// its ENDED event moves the cooldown start to the end of the call.
	idx int32
	gen uint32
}

type spamRec struct {
	count int
	last  int64
}

// callRecords is the call record store (callrecords.Store) as numbers uses
// it: its part of each call's record, by call id. Retention and the size
// cap are the store's.
type callRecords interface {
	Get(id string, slot callrecords.Slot) any
	Put(id string, slot callrecords.Slot, part any, at int64)
	SetAttribution(id string, a *events.Attribution)
	Observe(t, now int64)
	Expire() int
	Stats() callrecords.Stats
}

// callState is everything /v1/calls remembers; one mutex guards it (calls
// arrive at a few per second, never on the bid path). Lock order: mu, then
// the call record store's lock or a shard's lock (never both at once).
type callState struct {
	mu         sync.Mutex
	recs       callRecords // shared with feedback when UseCallRecords was called
	sticky     map[stickyKey]*stickyRec
	spam       map[string]*spamRec
	blocked    map[string]struct{} // configured; immutable
	threshold  int
	spamExpiry int64
	token      []byte

	// guarded by mu
	byMatch       [nMatch]uint64
	unattributed  map[int32]uint64 // per pool; -1 for unknown numbers
	blockedCalls  uint64
	duplicates    uint64
	spamReports   uint64
	outcomeNoCall uint64
	reused        uint64 // call ids reused for another number

	twilio TwilioConfig // immutable

	badBodies     atomic.Uint64
	unauthorized  atomic.Uint64
	badSignatures atomic.Uint64 // Twilio form posts refused (403)
}

func (c *callState) init(cfg Config, recs callRecords) {
	c.recs = recs
	c.sticky = map[stickyKey]*stickyRec{}
	c.spam = map[string]*spamRec{}
	c.blocked = map[string]struct{}{}
	for _, n := range cfg.Blocklist.Callers {
		c.blocked[n] = struct{}{}
	}
	c.threshold = cfg.Blocklist.SpamThreshold
	c.spamExpiry = int64(cfg.Blocklist.SpamExpiry)
	c.token = []byte(cfg.CallsToken)
	c.twilio = cfg.Twilio
	c.unattributed = map[int32]uint64{}
}

// addSticky remembers the first caller of a lease; the caller holds c.mu.
func (c *callState) addSticky(i int32, ani string, a *attribution, expires int64) {
	c.sticky[stickyKey{i, ani}] = &stickyRec{a: a, from: a.wonAt, expires: expires}
}

func (c *callState) isBlocked(ani string, now int64) bool {
	if ani == "" {
		return false
	}
	if _, ok := c.blocked[ani]; ok {
		return true
	}
	r := c.spam[ani]
	return r != nil && r.count >= c.threshold && now < r.last+c.spamExpiry
}

// cleanup forgets calls past their retention, sticky callers and SPAM
// reports.
func (c *callState) cleanup(now int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recs.Expire()
	// sticky callers and SPAM reports are few (first calls within a lease
	// and cooldown; reported callers): a scan is cheap.
	for k, r := range c.sticky {
		if r.expires <= now {
			delete(c.sticky, k)
		}
	}
	for k, r := range c.spam {
		if r.last+c.spamExpiry <= now {
			delete(c.spam, k)
		}
	}
}

// record returns numbers' part of call id's record (nil: none); the caller
// holds c.mu.
func (c *callState) record(id string) *callRecord {
	r, _ := c.recs.Get(id, callrecords.Numbers).(*callRecord)
	return r
}

// CallRequest is one call to attribute, as the HTTP layer read it from
// POST /v1/calls or Twilio's voice webhook (checked: a call id, an E.164
// dnis, a digits-only ext). The slices are not retained.
type CallRequest struct {
	CallID, DNIS, Ext, ANI []byte
	StartedAt              int64 // unix ns; 0 means now
}

// CallAnswer is the answer to one call.
type CallAnswer struct {
	// JSON is the answer as POST /v1/calls's JSON object
	// (docs/openapi.yaml), appended to the dst given to Attribute.
	JSON []byte
	// Accepted is false for a blocklisted caller.
	Accepted bool
	// Match is MatchExact, …, MatchNone.
	Match string
	// CampaignID and PublisherID are those of the matched bid, empty when
	// the call matched none.
	CampaignID, PublisherID string
}

// Attribute attributes one call and appends its JSON answer to dst (see
// attribute: a call id is attributed at most once). Safe for concurrent
// use.
func (p *Pools) Attribute(req *CallRequest, dst []byte) CallAnswer {
	now := p.clockNow().UnixNano()
	started := req.StartedAt
	if started == 0 {
		started = now
	}
	c := &p.calls
	c.mu.Lock()
	defer c.mu.Unlock()
	rec := p.attributeLocked(req.CallID, req.DNIS, req.Ext, req.ANI, started, now)
	ev := rec.ev
	return CallAnswer{JSON: rec.appendAnswer(dst), Accepted: ev.Accepted, Match: ev.Match,
		CampaignID: ev.CampaignID, PublisherID: ev.PublisherID}
}

// CallsToken is numbers.calls_token, the bearer token POST /v1/calls
// requires (empty: none is accepted). The caller must not modify it.
func (p *Pools) CallsToken() []byte { return p.calls.token }

// Twilio is the config of Twilio's voice webhook on /v1/calls.
func (p *Pools) Twilio() TwilioConfig { return p.calls.twilio }

// CallRefusal says why /v1/calls refused a call before attributing it.
type CallRefusal uint8

// The refusals, counted in Stats (unauthorized_calls, bad_call_bodies,
// bad_twilio_signatures).
const (
	RefusedToken     CallRefusal = iota // no valid bearer token (401)
	RefusedBody                         // a body that does not parse or check (400)
	RefusedSignature                    // a Twilio form post without a valid signature (403)
)

// CountRefused counts one refused call.
func (p *Pools) CountRefused(r CallRefusal) {
	switch r {
	case RefusedToken:
		p.calls.unauthorized.Add(1)
	case RefusedBody:
		p.calls.badBodies.Add(1)
	case RefusedSignature:
		p.calls.badSignatures.Add(1)
	}
}

// attribute answers one call, appending the JSON answer to dst. A call id
// is attributed at most once: a repeat gets the same answer and is not
// counted again. A call id already used for another number (dnis or ext)
// is a new call: it is attributed afresh and replaces the earlier record,
// never answered with the other call's attribution. The attribution event
// is queued for Run.
// callClockSkew is how far before a reservation a call's started_at may lie
// and still belong to it: second-truncated timestamps plus clock skew. LRU
// hands out numbers free far longer than this, so it cannot take a call
// from the previous lease of the number.
const callClockSkew = int64(2 * time.Second)

func (p *Pools) attribute(dst, callID, dnis, ext, ani []byte, started, now int64) []byte {
	c := &p.calls
	c.mu.Lock()
	defer c.mu.Unlock()
	return p.attributeLocked(callID, dnis, ext, ani, started, now).appendAnswer(dst)
}

// attributeLocked is attribute without the answer; the caller holds
// calls.mu. The record's event is not changed after it is stored.
func (p *Pools) attributeLocked(callID, dnis, ext, ani []byte, started, now int64) *callRecord {
	c := &p.calls
	if rec := c.record(string(callID)); rec != nil {
		if rec.ev.DNIS == string(dnis) && rec.ev.Ext == string(ext) {
			c.duplicates++
			return rec
		}
		c.reused++
	}
	rec := &callRecord{idx: -1}
	anis := string(ani)
	// the sticky caller table may keep the attribution lookup fills in
	m, a, pool, ended := p.lookup(new(attribution), dnis, ext, anis, started, now)
	blocked := c.isBlocked(anis, now)
	reason := "attributed"
	switch {
	case blocked:
		reason = "blocklisted"
		c.blockedCalls++
	case m == mNone:
		reason = "unattributed"
	}
	c.byMatch[m]++
	if m == mNone {
		c.unattributed[pool]++
	}
	callIDs := string(callID)
	job := attrJob{callID: callIDs, dnis: p.canonicalNumber(dnis), started: started, match: m,
		accepted: !blocked, reason: reason, a: a}
	if len(ext) > 0 {
		job.ext = string(ext)
	}
	rec.ev = job.event(anis)
	p.setChannel(rec.ev, pool) // keys.go
	if ended {
		rec.idx, rec.gen = a.idx, a.gen
	}
	// The record is dated by the call's start, never after now, and
	// advances the store's event-time mark.
	at := min(started, now)
	c.recs.Put(callIDs, callrecords.Numbers, rec, at)
	c.recs.SetAttribution(callIDs, rec.ev)
	c.recs.Observe(at, now)
	select {
	case p.attrQ <- rec: // one allocation serves the memory and the queue
	default:
		p.attrDrops.Add(1)
	}
	return rec
}

// appendAnswer encodes the record's /v1/calls answer (docs/openapi.yaml)
// from its event, so every repeat of the call id gets the same bytes.
func (r *callRecord) appendAnswer(b []byte) []byte {
	ev := r.ev
	b = append(b, `{"accept":`...)
	b = strconv.AppendBool(b, ev.Accepted)
	b = appendKV(b, "reason", ev.Reason)
	b = appendKV(b, "match", ev.Match)
	b = append(b, `,"attribution":`...)
	if ev.Match == MatchNone { // the only match without an attribution
		return append(b, "null}"...)
	}
	b = append(b, `{"campaign_id":`...)
	b = appendJSONString(b, ev.CampaignID)
	b = appendKV(b, "publisher_id", ev.PublisherID)
	b = appendKV(b, "site_or_app", ev.SiteOrApp)
	b = appendKV(b, "exchange", ev.Exchange)
	b = appendKV(b, "request_id", ev.RequestID)
	b = appendKV(b, "imp_id", ev.ImpID)
	b = appendKV(b, "bid_id", ev.BidID)
	b = append(b, `,"price_cpm":`...)
	b = strconv.AppendFloat(b, ev.PriceCPM, 'f', -1, 64)
	b = append(b, `,"won_at":`...)
	if ev.WonAt.IsZero() {
		b = append(b, "null"...)
	} else {
		b = append(b, '"')
		b = ev.WonAt.AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	b = appendKV(b, "lease_id", ev.LeaseID)
	b = appendKV(b, "skill", ev.Skill)
	b = appendKV(b, "creative_id", ev.CreativeID)
	b = appendKV(b, "currency", ev.Currency)
	b = append(b, `,"clearing_price_cpm":`...)
	if ev.ClearingPriceCPM > 0 {
		b = strconv.AppendFloat(b, ev.ClearingPriceCPM, 'f', -1, 64)
	} else {
		b = append(b, "null"...)
	}
	b = appendKV(b, "country", ev.Country)
	b = appendKV(b, "region", ev.Region)
	b = append(b, `,"device_type":`...)
	if ev.DeviceType > 0 {
		b = strconv.AppendUint(b, uint64(ev.DeviceType), 10)
	} else {
		b = append(b, "null"...)
	}
	if ev.Channel != "" { // a key pool's chat, sms or callback (keys.go)
		b = appendKV(b, "channel", ev.Channel)
	}
	return append(b, "}}"...)
}

// lookup finds the attribution of a call to dnis+ext by ani starting at
// started; the caller holds calls.mu. The first call of a lease ends it and
// starts the cooldown, and makes its caller sticky. pool is the pool index
// (-1 for an unknown number).
func (p *Pools) lookup(dst *attribution, dnis, ext []byte, ani string, started, now int64) (m int, a *attribution, pool int32, ended bool) {
	ni, ok := p.byNumber[string(dnis)]
	if !ok {
		return mNone, nil, -1, false
	}
	if ni.fallback >= 0 {
		f := &p.fallbacks[ni.fallback]
		*dst = attribution{
			idx: -1, pool: f.pool, campaign: f.campaign, fallbackNum: true,
			publisher: p.ids.name(f.publisher.Load()),
			siteOrApp: p.ids.name(f.site.Load()),
		}
		return mBucket, dst, f.pool, false
	}
	i, ok := p.entryOf(dnis, ext)
	if !ok {
		return mNone, nil, p.ranges[ni.ranges[0]].pool, false
	}
	c := &p.calls
	pl := p.poolOf(i)
	pool = p.poolIndex(i)
	var st *stickyRec
	if len(ani) > 0 {
		st = c.sticky[stickyKey{i, ani}]
		if st != nil && (started < st.from || started >= st.expires) {
			st = nil
		}
	}
	s := p.shardOf(pl, i)
	s.mu.Lock()
	e := &p.entries[i]
	if st != nil && st.a.gen != e.gen {
		s.mu.Unlock()
		return mSticky, st.a, pool, false // the caller's lease, though the number moved on
	}
	if e.flags&fData != 0 {
		start, end := e.reservedAt, int64(0)
		switch {
		case e.state == stHeld:
			end = e.reservedAt + pl.hold // shown, though the win notice is late
		case e.flags&fLeased != 0:
			end = e.leaseEnd
		}
		// Voice platforms send started_at in whole seconds, from their own
		// clock: a call in the same second as the reservation (or from a
		// clock a little behind ours) would otherwise fall before it.
		inLease := started >= start-callClockSkew && started < end
		inCool := e.flags&fLeased != 0 && started >= end && started < end+pl.cooldown
		if inLease || inCool {
			m = mCooldown
			if inLease {
				m = mExact
			}
			if e.flags&fCalled == 0 {
				// the first call: it ends the lease and starts the cooldown.
				e.flags |= fCalled | fLeased
				if inLease && (e.state == stHeld || e.state == stLeased) {
					s.remove(p.entries, i)
					e.leaseEnd = started
					s.insertSorted(p.entries, stCooldown, i)
					ended = true
				}
				a = dst
				p.snapshotInto(a, i)
				p.publishLease(s, i, ani)
				leaseEnd := e.leaseEnd
				s.mu.Unlock()
				if len(ani) > 0 {
					c.addSticky(i, ani, a, leaseEnd+pl.lease+pl.cooldown)
				}
				return m, a, pool, ended
			}
			a = dst
			p.snapshotInto(a, i)
			s.mu.Unlock()
			return m, a, pool, false
		}
	}
	s.mu.Unlock()
	if st != nil {
		return mSticky, st.a, pool, false
	}
	return mNone, nil, pool, false
}

// canonicalNumber returns the pool-owned string of a configured number (no
// allocation), else a copy of dnis.
func (p *Pools) canonicalNumber(dnis []byte) string {
	if ni, ok := p.byNumber[string(dnis)]; ok {
		if ni.fallback >= 0 {
			return p.fallbacks[ni.fallback].e164
		}
		return p.ranges[ni.ranges[0]].e164
	}
	return string(dnis)
}

// HandleCallEvent attributes a call from a checked OFFERED cc.call.v1 event
// exactly as POST /v1/calls does (at most once per call_id), dated by its
// occurred_at; an ENDED event moves the cooldown of the lease it ended.
// Other event types are ignored here. The events consumer has decoded and
// checked the record (see kafkaio.NewRecordConsumer).
func (p *Pools) HandleCallEvent(ev *events.Call) error {
	switch ev.EventType {
	case events.CallOffered:
	case events.CallEnded:
		p.callEnded(ev)
		return nil
	default:
		return nil
	}
	if ev.DNIS == "" {
		return nil // nothing to attribute (an internal or transferred call)
	}
	now := p.clockNow().UnixNano()
	started := ev.OccurredAt.UnixNano() // Check requires occurred_at
	// The strings are the record's own (not reused): attribute may keep them.
	p.attribute(nil, []byte(ev.CallID), []byte(ev.DNIS), []byte(ev.Ext), []byte(ev.ANI), started, now)
	return nil
}

// callEnded handles an ENDED cc.call.v1 event: when the call ended its
// lease, the cooldown runs from the end of the call rather than its start.
// The end is never taken later than now: a clock ahead of ours cannot hold
// a number in cooldown (the consumer has rejected times far in the future).
func (p *Pools) callEnded(ev *events.Call) {
	end := min(ev.OccurredAt.UnixNano(), p.clockNow().UnixNano())
	c := &p.calls
	c.mu.Lock()
	defer c.mu.Unlock()
	rec := c.record(ev.CallID)
	if rec == nil || rec.idx < 0 {
		return
	}
	i := rec.idx
	pl := p.poolOf(i)
	s := p.shardOf(pl, i)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := &p.entries[i]
	if e.gen != rec.gen || e.state != stCooldown || end <= e.leaseEnd {
		return
	}
	s.remove(p.entries, i)
	e.leaseEnd = end
	s.insertSorted(p.entries, stCooldown, i)
	p.publishLease(s, i, rec.ev.ANI)
}

// HandleOutcome feeds the caller blocklist from a checked cc.outcome.v1
// record: a SPAM disposition of a call this process attributed counts one
// report against its caller (once per call, however often the outcome is
// re-sent).
func (p *Pools) HandleOutcome(ev *events.Outcome) error {
	if ev.Disposition != events.DispositionSpam {
		return nil
	}
	now := p.clockNow().UnixNano()
	c := &p.calls
	c.mu.Lock()
	defer c.mu.Unlock()
	rec := c.record(ev.CallID)
	if rec == nil {
		c.outcomeNoCall++
		return nil
	}
	ani := rec.ev.ANI
	if rec.spam || ani == "" {
		return nil
	}
	rec.spam = true
	c.spamReports++
	r := c.spam[ani]
	if r == nil {
		r = &spamRec{}
		c.spam[ani] = r
	}
	r.count++
	r.last = now
	return nil
}

// attrJob is one attributed call, from which its event is built.
type attrJob struct {
	callID, dnis, ext string
	started           int64
	match             int
	accepted          bool
	reason            string
	a                 *attribution
}

// event returns the record's callbid.attribution.v1 event.
func (r *callRecord) event() *events.Attribution { return r.ev }

// event builds the callbid.attribution.v1 event of a job whose caller is
// ani; its strings are the job's and the attribution's (no copies).
func (j *attrJob) event(ani string) *events.Attribution {
	ev := &events.Attribution{
		CallID:    j.callID,
		DNIS:      j.dnis,
		Ext:       j.ext,
		ANI:       ani,
		StartedAt: time.Unix(0, j.started).UTC(),
		Match:     matchNames[j.match],
		Accepted:  j.accepted,
		Reason:    j.reason,
	}
	if a := j.a; a != nil {
		ev.CampaignID, ev.PublisherID, ev.SiteOrApp = a.campaign, a.publisher, a.siteOrApp
		ev.Exchange, ev.RequestID, ev.ImpID, ev.BidID = a.exchange, a.requestID, a.impID, a.bidID
		ev.PriceCPM = float64(a.price) / 1e6
		if a.wonAt != 0 {
			ev.WonAt = time.Unix(0, a.wonAt).UTC()
		}
		ev.Skill, ev.IPHash, ev.IFAHash = a.skill, a.ipHash, a.ifaHash
		ev.CreativeID, ev.Currency, ev.Country, ev.Region = a.creative, a.currency, a.country, a.region
		ev.DeviceType = int(a.devType)
		ev.ClearingPriceCPM = float64(a.clearing) / 1e6
		if !a.fallbackNum {
			ev.LeaseID = string(appendLeaseID(nil, a.idx, a.gen))
		}
	}
	return ev
}

// publishAttribution encodes and publishes one attribution event (Run's
// goroutine: off the request path).
func (p *Pools) publishAttribution(r *callRecord) {
	if p.pub == nil {
		return
	}
	v, err := jsonMarshal(r.ev)
	if err != nil {
		p.attrDrops.Add(1)
		return
	}
	if !p.pub.Publish(events.TopicAttribution, []byte(r.ev.CallID), v) {
		p.attrDrops.Add(1)
	}
}

func (p *Pools) drainAttributions() {
	for {
		select {
		case a := <-p.attrQ:
			p.publishAttribution(a)
		default:
			return
		}
	}
}

// UseCallRecords makes p keep its call records in recs, the store shared
// with feedback, instead of its own. Call it before the first call.
func (p *Pools) UseCallRecords(recs *callrecords.Store) {
	p.calls.mu.Lock()
	p.calls.recs = recs
	p.calls.mu.Unlock()
}
