package feedback

import (
	"encoding/json"
	"hash/maphash"
	"math"
	"time"

	"github.com/callbid/callbid/callrecords"
	"github.com/callbid/callbid/channel"
	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/hitrate"
	"github.com/callbid/callbid/kafkaio"
	"github.com/callbid/callbid/reports"
)

// Malformed-event reasons, counted per topic.
const (
	badJSON     = iota // not a JSON object of the schema
	badID              // bid_id or call_id missing
	badKind            // unknown kind / event_type / disposition
	badTime            // missing or zero time
	badValue           // negative price, talk time or revenue
	badCampaign        // impression without campaign
	numBadReasons
)

// maxMicros bounds money fields ($1e9) so sums cannot overflow.
const maxMicros = 1e15

var badNames = [numBadReasons]string{"bad_json", "missing_id", "unknown_kind", "missing_time", "negative_value", "missing_campaign"}

// Topic indices for per-topic counters.
const (
	tImp = iota
	tAttr
	tCall
	tOutcome
	tBids
	numTopics
)

var topicNames = [numTopics]string{events.TopicImpressions, events.TopicAttribution, events.TopicCall, events.TopicOutcome, events.TopicBids}

// HandleImpression applies one callbid.impressions.v1 record. A bid id is
// counted once (win and bill of the same bid are one won impression);
// duplicates within DedupeWindow are dropped.
//
// The topic is also read by the bidder (budgets), so it keeps a raw
// consumer; both decode with events.DecodeImpression, the same rules.
func (f *Feedback) HandleImpression(msg kafkaio.Message) {
	f.HandleImpressionThen(nil)(msg)
}

// HandleImpressionThen is HandleImpression that also hands each good
// record, decoded once, to next (the bidder's spend replay): one decode per
// impressions record for every reader of the topic.
func (f *Feedback) HandleImpressionThen(next func(*events.Impression)) func(kafkaio.Message) {
	return func(msg kafkaio.Message) {
		if im, ok := f.decodeImpression(msg); ok {
			f.applyImpression(im, msg.Partition)
			if next != nil {
				next(im)
			}
		}
	}
}

// decodeImpression decodes one impressions record, counting a bad one.
func (f *Feedback) decodeImpression(msg kafkaio.Message) (*events.Impression, bool) {
	im := new(events.Impression)
	if err := events.DecodeImpression(msg.Value, im); err != nil {
		switch events.Reason(err) {
		case events.ReasonMissingBidID:
			f.st.bad(tImp, badID)
		case events.ReasonUnknownKind:
			f.st.bad(tImp, badKind)
		case events.ReasonNegativeValue:
			f.st.bad(tImp, badValue)
		case events.ReasonTimeOutOfRange:
			f.st.bad(tImp, badTime)
		default:
			f.st.bad(tImp, badJSON)
		}
		return nil, false
	}
	return im, true
}

// applyImpression counts one impression event read from partition part.
// Impressions are keyed by bid id, so every copy of a bid lands in the same
// partition, in offset order: dedupe expires by that partition's own event
// time, which stays correct when a replay reads partitions at different paces.
func (f *Feedback) applyImpression(im *events.Impression, part int) {
	switch {
	case im.BidID == "":
		f.st.bad(tImp, badID)
		return
	case im.Kind != "win" && im.Kind != "bill" && im.Kind != "loss":
		f.st.bad(tImp, badKind)
		return
	case im.At.IsZero():
		f.st.bad(tImp, badTime)
		return
	case im.PriceMicros < 0 || im.PriceMicros > maxMicros:
		f.st.bad(tImp, badValue)
		return
	case im.CampaignID == "" && im.Kind != "loss":
		f.st.bad(tImp, badCampaign)
		return
	}
	now := f.clock()
	f.lastImpEvent.Store(now.UnixNano())
	f.bidsSinceImp.Store(0)
	if im.Kind == "loss" {
		f.st.losses.Add(1)
		return
	}
	h := maphash.String(f.seed, im.BidID)
	f.mu.Lock()
	defer f.mu.Unlock()
	if im.At.After(f.impMark[part]) {
		f.impMark[part] = im.At
	}
	if _, dup := f.seenBids[h]; dup {
		f.st.duplicates[tImp].Add(1)
		return
	}
	f.seenBids[h] = struct{}{}
	byMin := f.seenByMin[part]
	if byMin == nil {
		byMin = map[int64][]uint64{}
		f.seenByMin[part] = byMin
	}
	m := im.At.Unix() / 60
	byMin[m] = append(byMin[m], h)
	campaign, publisher, exchange := f.internLocked(im.CampaignID), f.internLocked(im.PublisherID), f.internLocked(im.Exchange)
	ch := contactChannel(im.Channel) // channels.go
	skill, calls, qualified := f.hit.WinChannel(ch, campaign, publisher, exchange, f.internLocked(im.Skill), im.At, now)
	if skill != "" && now.Sub(im.At) <= f.cfg.HitRate.TimeToCall.Max {
		f.addExpected(calls)
	}
	f.pace.Win(skill, exchange, im.At, now, voiceCalls(ch, calls), part == InProcess) // channels.go
	f.reports.Win(reports.Key{Hour: im.At.Unix() / 3600, Campaign: campaign, Publisher: publisher, Exchange: exchange, Channel: ch},
		skill, im.PriceMicros, im.Currency, im.At, calls, qualified)
	f.st.wins.Add(1)
	if f.devices != nil && now.Sub(im.At) < f.cfg.Traffic.Window {
		f.devices.Won(im.IPHash, im.IFAHash, im.At)
	}
}

// callRecords is the call record store (callrecords.Store) as feedback uses
// it: its part of each call's record, by call id. Retention (in event time)
// and the size cap are the store's; feedback releases its own part of
// records that never joined (orphan_ttl, processing time).
type callRecords interface {
	Get(id string, slot callrecords.Slot) any
	Put(id string, slot callrecords.Slot, part any, at int64)
	Attribution(id string) *events.Attribution
	Observe(t, now int64)
	Expire() int
	Scan(slot callrecords.Slot, keep func(part any) bool)
	Stats() callrecords.Stats
}

// callRec joins what is known of one call: its attribution, its call
// events and its latest outcome, plus what it currently contributes. It is
// feedback's part of the call's record (callrecords.Feedback), read and
// changed under f.mu.
type callRec struct {
	id      string
	seen    time.Time // processing time of the first event, for orphan expiry
	hasAttr bool
	// attr is the call's attribution without outcome fields, never changed
	// once set: numbers' own (the record's, held once) when this instance
	// attributed the call, else a copy of the record read.
	attr *events.Attribution

	answered bool
	talkMS   int64

	hasOutcome bool
	disp       string
	final      bool
	revenue    int64
	revCur     string
	outAt      time.Time

	applied    contrib
	emitted    emitKey
	endedAt    time.Time
	arriveDone bool
	endDone    bool
	repeat     bool // the caller called the campaign within the repeat window (repeat.go)
}

// delaysLocked feeds the delay distributions once per call.
func (f *Feedback) delaysLocked(r *callRec) {
	a := r.attr
	if !r.hasAttr || !attributed(a.Match) || !a.Accepted || a.WonAt.IsZero() {
		return
	}
	if !r.arriveDone {
		r.arriveDone = true
		skill := a.Skill
		if skill == "" {
			skill = f.campaigns[a.CampaignID].Skill
		}
		if contactChannel(a.Channel) == channel.Voice { // channels.go
			f.hit.AddArrival(skill, a.StartedAt.Sub(a.WonAt))
			f.pace.Arrived(skill, a.StartedAt)
		}
	}
	if !r.endDone && !r.endedAt.IsZero() {
		r.endDone = true
		f.hit.AddResolve(r.endedAt.Sub(a.WonAt))
	}
}

// emitKey is the outcome part of an attribution; a change re-emits it.
type emitKey struct {
	disp    string
	final   bool
	revenue int64
	talkMS  int64
}

// contrib is what a call currently adds to the counters, so a change can be
// applied as a delta (upsert semantics, no double counting).
type contrib struct {
	ok      bool
	hit     hitrate.Contribution // for rates: provisional outcomes at ProvisionalSaleCredit
	row     reports.Key
	saleN   int64 // for reports: final or latest SALE
	revenue int64
}

func attributed(match string) bool {
	switch match {
	case "exact", "cooldown", "sticky", "bucket":
		return true
	}
	return false
}

// HandleAttribution applies one checked callbid.attribution.v1 record (the
// events consumer decodes and checks it; see kafkaio.NewRecordConsumer).
// Records that feedback re-emitted itself carry outcome fields; those only
// tell what was already emitted, so consuming them never emits again.
func (f *Feedback) HandleAttribution(a *events.Attribution) error {
	f.applyAttribution(a)
	return nil
}

func (f *Feedback) applyAttribution(a *events.Attribution) {
	now := f.clock()
	f.touchCallFeed(now)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.markCallLocked(a.StartedAt)
	r := f.recLocked(a.CallID, now)
	if a.Disposition != "" || a.IsFinal {
		// our own re-emission (or a replay of it)
		var rev int64
		if a.Revenue != nil {
			rev = a.Revenue.AmountMicros
		}
		r.emitted = emitKey{disp: a.Disposition, final: a.IsFinal, revenue: rev, talkMS: a.TalkMS}
	}
	if r.hasAttr {
		// a duplicate, or our own re-emission: it only updated r.emitted
		if a.Disposition == "" && !a.IsFinal {
			f.st.duplicates[tAttr].Add(1)
		}
		return
	}
	r.hasAttr = true
	if s := f.recs.Attribution(a.CallID); s != nil && sameAttribution(s, a) {
		r.attr = s // numbers attributed it here: the record holds it once
	} else {
		own := *a
		own.Disposition, own.IsFinal, own.Revenue, own.TalkMS = "", false, nil, 0
		own.CampaignID = f.internLocked(a.CampaignID)
		own.PublisherID = f.internLocked(a.PublisherID)
		own.Exchange = f.internLocked(a.Exchange)
		own.Skill = f.internLocked(a.Skill)
		r.attr = &own
	}
	// dates the record for retention (unless numbers dated it already)
	if !a.StartedAt.IsZero() {
		f.recs.Put(r.id, callrecords.Feedback, r, min(a.StartedAt.UnixNano(), now.UnixNano()))
	}
	r.repeat = f.repeatLocked(a)
	if a.TalkMS > r.talkMS {
		r.talkMS = a.TalkMS
		r.answered = true
	}
	f.delaysLocked(r)
	f.applyLocked(r)
	f.maybeEmitLocked(r)
}

// sameAttribution reports whether a, as read, is the attribution s that
// numbers holds (the same call attributed the same way, no outcome yet).
func sameAttribution(s, a *events.Attribution) bool {
	return s.CallID == a.CallID && s.DNIS == a.DNIS && s.Ext == a.Ext && s.StartedAt.Equal(a.StartedAt) &&
		s.Match == a.Match && s.Accepted == a.Accepted && s.BidID == a.BidID && s.LeaseID == a.LeaseID &&
		s.CampaignID == a.CampaignID && s.PublisherID == a.PublisherID && s.Exchange == a.Exchange &&
		s.Skill == a.Skill && s.WonAt.Equal(a.WonAt) && s.IPHash == a.IPHash && s.IFAHash == a.IFAHash && s.Channel == a.Channel &&
		s.Disposition == "" && !s.IsFinal && s.Revenue == nil && s.TalkMS == 0
}

// HandleCall applies one checked cc.call.v1 record (the events consumer
// decodes and checks it once; see kafkaio.NewRecordConsumer): ANSWERED and
// ENDED give answer and talk time; other transitions only keep the record
// alive.
func (f *Feedback) HandleCall(c *events.Call) error {
	f.applyCall(c)
	return nil
}

func (f *Feedback) applyCall(c *events.Call) {
	now := f.clock()
	f.touchCallFeed(now)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.markCallLocked(c.OccurredAt)
	r := f.recLocked(c.CallID, now)
	changed := false
	if c.EventType == events.CallAnswered && !r.answered {
		r.answered, changed = true, true
	}
	if c.EventType == events.CallEnded {
		if r.endedAt.IsZero() {
			r.endedAt = c.OccurredAt
			f.delaysLocked(r)
		}
		if c.TalkMS > 0 && !r.answered {
			r.answered, changed = true, true
		}
		if c.TalkMS > r.talkMS {
			r.talkMS, changed = c.TalkMS, true
		}
	}
	if !changed {
		return
	}
	f.applyLocked(r)
	f.maybeEmitLocked(r)
}

// HandleOutcome applies one checked cc.outcome.v1 record: the latest
// occurred_at per call wins; a final outcome is not replaced by a later
// non-final one.
func (f *Feedback) HandleOutcome(o *events.Outcome) error {
	f.applyOutcome(o)
	return nil
}

func (f *Feedback) applyOutcome(o *events.Outcome) {
	now := f.clock()
	f.touchCallFeed(now)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.markCallLocked(o.OccurredAt)
	r := f.recLocked(o.CallID, now)
	if r.hasOutcome {
		same := r.disp == o.Disposition && r.final == o.IsFinal && r.revenue == o.Revenue.AmountMicros && r.outAt.Equal(o.OccurredAt)
		older := o.OccurredAt.Before(r.outAt) || (r.final && !o.IsFinal)
		if same || older {
			f.st.duplicates[tOutcome].Add(1)
			return
		}
	}
	r.hasOutcome = true
	r.disp, r.final, r.revenue, r.revCur, r.outAt = o.Disposition, o.IsFinal, o.Revenue.AmountMicros, o.Revenue.Currency, o.OccurredAt
	if o.Disposition == "SPAM" && r.hasAttr && f.devices != nil {
		f.devices.Spam(r.attr.IPHash, r.attr.IFAHash)
	}
	f.applyLocked(r)
	f.maybeEmitLocked(r)
}

func (f *Feedback) recLocked(id string, now time.Time) *callRec {
	r, _ := f.recs.Get(id, callrecords.Feedback).(*callRec)
	if r == nil {
		r = &callRec{id: id, seen: now}
		f.recs.Put(id, callrecords.Feedback, r, 0)
	}
	return r
}

// markCallLocked advances the call feed's event-time mark (retention is
// measured from it), never past now: an event time ahead of our clock
// cannot expire every call record at once.
func (f *Feedback) markCallLocked(t time.Time) {
	now := f.clock()
	if t.After(now) {
		t = now
	}
	if t.After(f.callMark) {
		f.callMark = t
	}
	f.recs.Observe(t.UnixNano(), now.UnixNano())
}

// contribLocked computes what r adds to the counters now.
func (f *Feedback) contribLocked(r *callRec) contrib {
	a := r.attr
	if !r.hasAttr || !a.Accepted || !attributed(a.Match) || a.CampaignID == "" {
		return contrib{}
	}
	ch := contactChannel(a.Channel) // channels.go
	c := contrib{ok: true, hit: hitrate.Contribution{Campaign: a.CampaignID, Publisher: a.PublisherID, Exchange: a.Exchange, At: a.StartedAt, Calls: 1, Repeat: r.repeat, Channel: ch}}
	c.row = reports.Key{Hour: a.StartedAt.Unix() / 3600, Campaign: a.CampaignID, Publisher: a.PublisherID, Exchange: a.Exchange, Channel: ch}
	won := a.WonAt
	if won.IsZero() {
		won = a.StartedAt
	}
	c.hit.WonHour = won.UTC().Hour()
	bad := r.disp == "SPAM" || r.disp == "WRONG_NUMBER"
	if r.answered && !bad && time.Duration(r.talkMS)*time.Millisecond >= f.cfg.MinTalkTime {
		c.hit.Qualified = 1
		switch {
		case r.disp == "SALE":
			c.hit.Sales, c.saleN, c.revenue = 1, 1, r.revenue
		case !r.final && (r.disp == "CALLBACK_REQUESTED" || r.disp == "FOLLOW_UP_EXPECTED"):
			c.hit.Sales = f.cfg.ProvisionalSaleCredit
		}
	}
	return c
}

// applyLocked replaces r's contribution by its current one.
func (f *Feedback) applyLocked(r *callRec) {
	n := f.contribLocked(r)
	o := r.applied
	if n == o {
		return
	}
	if o.ok {
		f.addContribLocked(o, -1)
	}
	if n.ok {
		f.addContribLocked(n, 1)
	}
	r.applied = n
}

func (f *Feedback) addContribLocked(c contrib, sign float64) {
	f.hit.AddCall(c.hit, sign)
	f.reports.AddCall(c.row, reportCall(c), int64(sign))
}

// maybeEmitLocked re-emits the joined attribution when its outcome part
// differs from what was last emitted (or consumed from our own emission).
func (f *Feedback) maybeEmitLocked(r *callRec) {
	if !r.hasAttr || !r.hasOutcome || f.pub == nil {
		return
	}
	k := emitKey{disp: r.disp, final: r.final, revenue: r.revenue, talkMS: r.talkMS}
	if k == r.emitted {
		return
	}
	r.emitted = k
	a := *r.attr // a copy: r.attr may be numbers' and is never changed
	a.Disposition, a.IsFinal, a.TalkMS = r.disp, r.final, r.talkMS
	a.Revenue = &events.Money{AmountMicros: r.revenue, Currency: r.revCur}
	b, err := json.Marshal(&a)
	if err != nil {
		return
	}
	if f.pub.Publish(events.TopicAttribution, []byte(r.id), b) {
		f.st.emitted.Add(1)
	} else {
		f.st.publishDropped.Add(1)
	}
}

// sweepLocked expires dedupe ids, call records and orphans.
func (f *Feedback) sweepLocked(now time.Time) {
	for part, byMin := range f.seenByMin {
		cut := f.impMark[part].Add(-f.cfg.DedupeWindow).Unix() / 60
		for m, hs := range byMin {
			if m < cut {
				for _, h := range hs {
					delete(f.seenBids, h)
				}
				delete(byMin, m)
			}
		}
	}
	// Records past call_records.retention go (counters keep their
	// contributions); feedback drops its part of those that never joined.
	f.recs.Expire()
	f.recs.Scan(callrecords.Feedback, func(part any) bool {
		r := part.(*callRec)
		switch {
		case !r.hasAttr && now.Sub(r.seen) > f.cfg.OrphanTTL:
			if r.hasOutcome {
				f.st.orphans.Add(1)
			} else {
				f.st.unattributed.Add(1)
			}
			return false
		case r.hasAttr && !r.applied.ok && now.Sub(r.seen) > f.cfg.OrphanTTL:
			return false // unattributed (match none / rejected): nothing to join
		}
		return true
	})
	if len(f.intern) > 200_000 {
		f.intern = make(map[string]string)
	}
}

// internLocked returns a shared copy of s, so long-lived keys do not pin
// message buffers and repeated ids share memory.
func (f *Feedback) internLocked(s string) string {
	if v, ok := f.intern[s]; ok {
		return v
	}
	f.intern[s] = s
	return s
}

func (f *Feedback) touchCallFeed(now time.Time) {
	f.lastCallEvent.Store(now.UnixNano())
	f.expectedSince.Store(0)
}

func (f *Feedback) addExpected(x float64) {
	for {
		o := f.expectedSince.Load()
		n := math.Float64bits(math.Float64frombits(o) + x)
		if f.expectedSince.CompareAndSwap(o, n) {
			return
		}
	}
}

// UseCallRecords makes f keep its call records in recs, the store shared
// with numbers, instead of its own. Call it before the first event.
func (f *Feedback) UseCallRecords(recs *callrecords.Store) {
	f.mu.Lock()
	f.recs = recs
	f.mu.Unlock()
}
