package reports

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"

	"github.com/callbid/callbid/channel"
	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/kafkaio"
)

// The bid-path counters (bids per report row, requests seen and bids per
// skill and demand interval) are not on any inbound topic, so feedback
// publishes them itself: every 5 s (Flush) the deltas since the last flush go
// to events.TopicBids, keyed by this process's instance id. A restarted
// process replays the topic like the others and gets its counters back;
// while following it live, a process skips its own records, which it
// counted when they happened.

type demandKey struct {
	skill string
	start int64 // unix seconds
}

// tallyState is guarded by Reports.mu.
type tallyState struct {
	instance   string
	seen, bids int64
	rows       map[Key]int64
	demand     map[demandKey]*[2]int64 // seen, bids
	// carry holds replayed demand counts for an interval that has not
	// started here yet (replay runs before the first demand tick).
	carry map[demandKey]*[2]int64
}

func newTallyState() tallyState {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return tallyState{instance: hex.EncodeToString(b[:]), rows: map[Key]int64{},
		demand: map[demandKey]*[2]int64{}, carry: map[demandKey]*[2]int64{}}
}

func (f *Reports) tallySeenLocked(skill string, at, n int64) {
	f.tally.seen += n
	if skill != "" {
		f.tallyDemandLocked(skill, at)[0] += n
	}
}

func (f *Reports) tallyBidLocked(k Key, skill string, at, n int64) {
	f.tally.bids += n
	f.tally.rows[k] += n
	if skill != "" {
		f.tallyDemandLocked(skill, at)[1] += n
	}
}

func (f *Reports) tallyDemandLocked(skill string, at int64) *[2]int64 {
	k := demandKey{skill, time.Unix(0, at).Truncate(f.cfg.DemandInterval).Unix()}
	c := f.tally.demand[k]
	if c == nil {
		c = &[2]int64{}
		f.tally.demand[k] = c
	}
	return c
}

// Flush publishes the counters since the last flush to callbid.bids.v1
// (the feed calls it every 5 s and on shutdown).
func (f *Reports) Flush(now time.Time) {
	f.mu.Lock()
	t := &f.tally
	if t.seen == 0 && t.bids == 0 {
		f.mu.Unlock()
		return
	}
	m := events.Tally{Instance: t.instance, At: now.UTC(), Seen: t.seen, Bids: t.bids}
	for k, n := range t.rows {
		m.Rows = append(m.Rows, events.TallyRow{Hour: k.Hour, Campaign: k.Campaign, Publisher: k.Publisher, Exchange: k.Exchange, Bids: n,
			Channel: channelField(k.Channel)})
	}
	for k, c := range t.demand {
		m.Demand = append(m.Demand, events.TallyDemand{Skill: k.skill, Start: k.start, Seen: c[0], Bids: c[1]})
	}
	t.seen, t.bids = 0, 0
	clear(t.rows)
	clear(t.demand)
	f.mu.Unlock()
	b := events.AppendTally(nil, &m)
	if f.pub == nil || !f.pub.Publish(events.TopicBids, []byte(m.Instance), b) {
		f.publishDropped.Add(1)
	}
}

// HandleBids applies one callbid.bids.v1 record: bid-path counters of an
// earlier (or another) callbid process. Records of this process are skipped.
func (f *Reports) HandleBids(msg kafkaio.Message) {
	var m events.Tally
	if err := events.DecodeTally(msg.Value, &m); err != nil {
		var be *events.BadEvent
		if errors.As(err, &be) && be.Reason == events.ReasonNegativeValue {
			f.badValue.Add(1)
		} else {
			f.badJSON.Add(1)
		}
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if m.Instance == f.tally.instance {
		return // counted when it happened
	}
	f.seen.Add(m.Seen)
	f.bids.Add(m.Bids)
	for _, r := range m.Rows {
		if r.Bids <= 0 {
			continue
		}
		k := Key{Hour: r.Hour, Campaign: f.internLocked(r.Campaign), Publisher: f.internLocked(r.Publisher), Exchange: f.internLocked(r.Exchange),
			Channel: rowChannel(r.Channel)}
		if row := f.rowLocked(k); row != nil {
			row.bids += r.Bids
		}
	}
	for _, d := range m.Demand {
		if d.Skill == "" || d.Seen < 0 || d.Bids < 0 {
			continue
		}
		f.applyDemandLocked(demandKey{f.internLocked(d.Skill), d.Start}, d.Seen, d.Bids)
	}
}

// applyDemandLocked adds replayed counts to the open demand interval, or
// keeps them until it opens; counts of closed intervals were published
// already and are dropped.
func (f *Reports) applyDemandLocked(k demandKey, seen, bids int64) {
	start := f.demand.start
	switch {
	case start.IsZero():
		c := f.tally.carry[k]
		if c == nil {
			c = &[2]int64{}
			f.tally.carry[k] = c
		}
		c[0] += seen
		c[1] += bids
	case k.start == start.Unix():
		a := f.demandAccLocked(k.skill)
		a.seen += seen
		a.bids += bids
	}
}

// openDemandLocked merges what replay kept for the interval that opens.
func (f *Reports) openDemandLocked() {
	for k, c := range f.tally.carry {
		if k.start == f.demand.start.Unix() {
			a := f.demandAccLocked(k.skill)
			a.seen += c[0]
			a.bids += c[1]
		}
	}
	clear(f.tally.carry)
}

// channelField is a tally row's "ch": empty for calls.
func channelField(ch channel.Channel) string {
	if ch == channel.Voice {
		return ""
	}
	return ch.String()
}

// rowChannel reads a tally row's "ch": voice when absent or unknown.
func rowChannel(name string) channel.Channel {
	ch, _ := channel.Parse(name)
	return ch
}
