package feedback

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/kafkaio"
)

// The bid-path counters (bids per report row, requests seen and bids per
// skill and demand interval) are not on any inbound topic, so feedback
// publishes them itself: every tallyEvery the deltas since the last flush go
// to events.TopicBids, keyed by this process's instance id. A restarted
// process replays the topic like the others and gets its counters back;
// while following it live, a process skips its own records, which it
// counted when they happened.

// tallyEvery bounds what a crash loses of the bid counters.
const tallyEvery = 5 * time.Second

type tallyRow struct {
	Hour      int64  `json:"h"` // unix hours
	Campaign  string `json:"c"`
	Publisher string `json:"p"`
	Exchange  string `json:"x"`
	Bids      int64  `json:"b"`
}

type tallyDemand struct {
	Skill string `json:"s"`
	Start int64  `json:"start"` // demand interval start, unix seconds
	Seen  int64  `json:"seen"`
	Bids  int64  `json:"bids"`
}

type tallyMsg struct {
	Instance string        `json:"o"`
	At       time.Time     `json:"at"`
	Seen     int64         `json:"seen"`
	Bids     int64         `json:"bids"`
	Rows     []tallyRow    `json:"rows,omitempty"`
	Demand   []tallyDemand `json:"demand,omitempty"`
}

type demandKey struct {
	skill string
	start int64 // unix seconds
}

// tallyState is guarded by Feedback.mu.
type tallyState struct {
	instance   string
	seen, bids int64
	rows       map[reportKey]int64
	demand     map[demandKey]*[2]int64 // seen, bids
	// carry holds replayed demand counts for an interval that has not
	// started here yet (replay runs before the first demand tick).
	carry map[demandKey]*[2]int64
}

func newTallyState() tallyState {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return tallyState{instance: hex.EncodeToString(b[:]), rows: map[reportKey]int64{},
		demand: map[demandKey]*[2]int64{}, carry: map[demandKey]*[2]int64{}}
}

func (f *Feedback) tallySeenLocked(skill string, at int64) {
	f.tally.seen++
	if skill != "" {
		f.tallyDemandLocked(skill, at)[0]++
	}
}

func (f *Feedback) tallyBidLocked(k reportKey, skill string, at int64) {
	f.tally.bids++
	f.tally.rows[k]++
	if skill != "" {
		f.tallyDemandLocked(skill, at)[1]++
	}
}

func (f *Feedback) tallyDemandLocked(skill string, at int64) *[2]int64 {
	k := demandKey{skill, time.Unix(0, at).Truncate(f.cfg.DemandInterval).Unix()}
	c := f.tally.demand[k]
	if c == nil {
		c = &[2]int64{}
		f.tally.demand[k] = c
	}
	return c
}

// flushTally publishes the counters since the last flush.
func (f *Feedback) flushTally(now time.Time) {
	f.mu.Lock()
	t := &f.tally
	if t.seen == 0 && t.bids == 0 {
		f.mu.Unlock()
		return
	}
	m := tallyMsg{Instance: t.instance, At: now.UTC(), Seen: t.seen, Bids: t.bids}
	for k, n := range t.rows {
		m.Rows = append(m.Rows, tallyRow{Hour: k.hour, Campaign: k.campaign, Publisher: k.publisher, Exchange: k.exchange, Bids: n})
	}
	for k, c := range t.demand {
		m.Demand = append(m.Demand, tallyDemand{Skill: k.skill, Start: k.start, Seen: c[0], Bids: c[1]})
	}
	t.seen, t.bids = 0, 0
	clear(t.rows)
	clear(t.demand)
	f.mu.Unlock()
	b, err := json.Marshal(&m)
	if err != nil {
		f.log.Error().Err(err).Msg("cannot encode the bid tally")
		return
	}
	if f.pub == nil || !f.pub.Publish(events.TopicBids, []byte(m.Instance), b) {
		f.st.publishDropped.Add(1)
	}
}

// HandleBids applies one callbid.bids.v1 record: bid-path counters of an
// earlier (or another) callbid process. Records of this process are skipped.
func (f *Feedback) HandleBids(msg kafkaio.Message) {
	var m tallyMsg
	if err := json.Unmarshal(msg.Value, &m); err != nil || m.Instance == "" {
		f.st.bad(tBids, badJSON)
		return
	}
	if m.Seen < 0 || m.Bids < 0 {
		f.st.bad(tBids, badValue)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if m.Instance == f.tally.instance {
		return // counted when it happened
	}
	f.st.seen.Add(m.Seen)
	f.st.bids.Add(m.Bids)
	for _, r := range m.Rows {
		if r.Bids <= 0 {
			continue
		}
		k := reportKey{hour: r.Hour, campaign: f.internLocked(r.Campaign), publisher: f.internLocked(r.Publisher), exchange: f.internLocked(r.Exchange)}
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
func (f *Feedback) applyDemandLocked(k demandKey, seen, bids int64) {
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
func (f *Feedback) openDemandLocked() {
	for k, c := range f.tally.carry {
		if k.start == f.demand.start.Unix() {
			a := f.demandAccLocked(k.skill)
			a.seen += c[0]
			a.bids += c[1]
		}
	}
	clear(f.tally.carry)
}
