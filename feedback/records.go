package feedback

import (
	"context"
	"time"

	"github.com/callbid/callbid/channel"
	"github.com/callbid/callbid/reports"
)

const (
	recBid = iota + 1
)

// maxPub and maxExch bound the copied ids; longer ids are truncated.
const (
	maxPub  = 64
	maxExch = 32
)

// record is one bid-path count, a value type so sending it allocates
// nothing. Publisher and exchange ids are copied (they may alias a request
// buffer that is reused); campaign and skill come from config and are
// long-lived strings.
type record struct {
	kind     uint8
	pubLen   uint8
	exchLen  uint8
	skill    string
	campaign string
	price    int64
	value    int64 // the price before shading
	at       int64
	cost     float64 // expected calls charged to the skill's bucket
	ch       channel.Channel
	pub      [maxPub]byte
	exch     [maxExch]byte
}

// RecordSeen counts a bid request that matched a campaign of skill. Never
// blocks: a full queue drops the count (callbid_feedback_records_dropped_total).
// skill must be a long-lived string (from config).
func (f *Feedback) RecordSeen(skill, exchange string, now time.Time) {
	// A per-skill counter, not a record: the fold counts seen requests per
	// skill only (seen.go).
	f.seen.add(skill, now)
}

// RecordBid counts a bid and charges its expected calls to the skill's
// participation bucket (see Admit). It copies publisherID and exchange (truncated to
// 64 and 32 bytes); campaignID and skill must be long-lived strings. Never blocks.
func (f *Feedback) RecordBid(campaignID, skill, publisherID, exchange string, priceMicros, valueMicros int64, now time.Time) {
	f.RecordChannelBid(campaignID, skill, publisherID, exchange, channel.Voice, priceMicros, valueMicros, now)
}

// RecordChannelBid is RecordBid for a bid on channel ch
// (bidder.ChannelBidRecorder): its report row and tally are the channel's,
// and a chat, sms or callback bid charges no call to the skill's
// participation bucket (channels.go).
func (f *Feedback) RecordChannelBid(campaignID, skill, publisherID, exchange string, ch channel.Channel, priceMicros, valueMicros int64, now time.Time) {
	r := record{kind: recBid, skill: skill, campaign: campaignID, price: priceMicros, value: valueMicros, at: now.UnixNano(),
		cost: f.charge(campaignID, skill, publisherID, exchange, ch), ch: ch}
	r.pubLen = uint8(copy(r.pub[:], publisherID))
	r.exchLen = uint8(copy(r.exch[:], exchange))
	f.send(&r)
}

func (f *Feedback) send(r *record) {
	if !f.records.put(r) {
		f.st.recordsDropped.Add(1)
	}
}

// aggregate is the one goroutine that folds bid-path counts into the report
// rows and the demand feed.
func (f *Feedback) aggregate(ctx context.Context) {
	// Poll rather than be woken per record: that makes this goroutine
	// runnable on every bid, a goroutine switch per request on a single-P
	// bidder. Every aggregateEvery the ring is folded in batches.
	t := time.NewTicker(aggregateEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			for f.drainSome() {
			}
			return
		case <-t.C:
			for f.drainSome() {
			}
		}
	}
}

// aggregateEvery is how often queued bid-path records are folded in. The
// queue (record_queue, default 65536) holds far more than one period's
// records at bid rates one core can serve.
const aggregateEvery = 5 * time.Millisecond

// drain folds everything queued now without waiting.
func (f *Feedback) drain() {
	for f.drainSome() {
	}
}

// drainSome folds up to one batch; it reports whether the batch was full
// (more may be queued).
func (f *Feedback) drainSome() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen.fold(f.reports.SeenN)
	var r record
	var run bidRun
	defer f.foldRunLocked(&run)
	for range 4096 {
		if !f.records.get(&r) {
			return false
		}
		f.foldLocked(&run, &r)
	}
	return true
}

// bidRun is consecutive bid records alike in every field the fold keys on
// (campaign, skill, channel, publisher, exchange, and the second, or the
// finer bucket reports.FoldNanos asks for): they are folded as one, which
// looks each report row, demand interval, exchange and skill up once per
// run instead of once per bid. Under one exchange's steady traffic most
// bids of a 5 ms pass are one run.
type bidRun struct {
	r      record // the first record: the key fields
	n      int64
	priced int64 // bids with a price
	price  int64 // Σ price of priced bids
	value  int64 // Σ max(value, price) of priced bids
	cost   float64
	last   int64 // the latest at
}

// foldLocked adds bid record r to run, folding run first when r does not
// belong to it.
func (f *Feedback) foldLocked(run *bidRun, r *record) {
	if r.kind != recBid {
		return
	}
	if run.n > 0 && !run.same(r, f.foldNanos) {
		f.foldRunLocked(run)
	}
	if run.n == 0 {
		run.r = *r
	}
	run.n++
	if r.price > 0 {
		run.priced++
		run.price += r.price
		run.value += max(r.value, r.price)
	}
	if r.cost > 0 {
		run.cost += r.cost
	}
	run.last = max(run.last, r.at)
}

func (run *bidRun) same(r *record, bucket int64) bool {
	a := &run.r
	return a.campaign == r.campaign && a.skill == r.skill && a.ch == r.ch &&
		a.at/bucket == r.at/bucket && a.at >= 0 && r.at >= 0 &&
		string(a.pub[:a.pubLen]) == string(r.pub[:r.pubLen]) &&
		string(a.exch[:a.exchLen]) == string(r.exch[:r.exchLen])
}

// foldRunLocked folds run's bids into the report rows, the demand feed and
// pacing, and empties it.
func (f *Feedback) foldRunLocked(run *bidRun) {
	if run.n == 0 {
		return
	}
	r := &run.r
	exch := f.internBytesLocked(r.exch[:r.exchLen])
	f.lastBidAt.Store(run.last)
	f.bidsSinceImp.Add(run.n)
	pub := f.internBytesLocked(r.pub[:r.pubLen])
	f.reports.BidN(reports.Key{Hour: r.at / 1e9 / 3600, Campaign: f.internLocked(r.campaign), Publisher: pub, Exchange: exch, Channel: r.ch},
		r.skill, run.n, run.priced, run.price, run.value, run.last)
	f.pace.BidN(exch, r.skill, run.last, run.n, run.cost)
	*run = bidRun{}
}

func (f *Feedback) internBytesLocked(b []byte) string {
	if v, ok := f.intern[string(b)]; ok {
		return v
	}
	s := string(b)
	f.intern[s] = s
	return s
}
