package reports

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"time"

	"github.com/callbid/callbid/channel"
	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/forecast"
)

// Key is one hourly report row. Wins and spend land in the hour of the
// impression, calls and outcomes in the hour the call started. Channel is
// the contact channel the impression or bid was for (a chat invitation's
// bids, wins and chats are its own rows).
type Key struct {
	Hour                          int64 // unix hours
	Campaign, Publisher, Exchange string
	Channel                       channel.Channel
}

type counts struct {
	bids, wins       int64
	spendCPM         int64 // Σ clearing price, CPM micro-units (spend = /1000)
	pricedBids       int64 // bids this process priced (a tally from callbid.bids.v1 carries counts only)
	bidCPM, valueCPM int64 // Σ bid and Σ value (the price before shading) of pricedBids, CPM micro-units
	calls, qualified int64
	repeat           int64 // of calls, those from a repeat caller
	sales, revenue   int64 // revenue in micro-units
}

func (f *Reports) rowLocked(k Key) *counts {
	if k.Hour < f.clock().Add(-f.cfg.ReportRetention).Unix()/3600 {
		return nil
	}
	r := f.rows[k]
	if r == nil {
		r = &counts{}
		f.rows[k] = r
	}
	return r
}

// Bid counts a bid in its row, the demand interval and the tally (the
// feed's aggregator calls it with the bid path's records): its price and
// value (the price before shading), CPM micro-units; a price of 0 is a
// bid without them.
func (f *Reports) Bid(k Key, skill string, priceMicros, valueMicros, atNano int64) {
	if priceMicros > 0 {
		f.BidN(k, skill, 1, 1, priceMicros, max(valueMicros, priceMicros), atNano)
	} else {
		f.BidN(k, skill, 1, 0, 0, 0, atNano)
	}
}

// Seen counts a bid request that matched a campaign of skill.
func (f *Reports) Seen(skill string, atNano int64) { f.SeenN(skill, atNano, 1) }

// SeenN is Seen for n requests of skill at once, the latest at atNano (the
// feed folds the bid path's per-skill counters every few milliseconds).
func (f *Reports) SeenN(skill string, atNano, n int64) {
	if n <= 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen.Add(n)
	f.demandSeenLocked(skill, atNano, n)
	f.tallySeenLocked(skill, atNano, n)
}

// Win counts a won impression (first notice of its bid id) at its price,
// and in skill's demand interval with the calls and qualified calls it is
// expected to bring.
func (f *Reports) Win(k Key, skill string, priceMicros int64, currency string, at time.Time, calls, qualified float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r := f.rowLocked(k); r != nil {
		r.wins++
		r.spendCPM += priceMicros
	}
	if f.currency == "" && currency != "" {
		f.currency = currency
	}
	if skill != "" {
		f.projWinLocked(forecast.Key{Skill: skill, Channel: k.Channel}, at, calls)
	}
	if skill == "" || !f.inDemandLocked(at.UnixNano()) {
		return
	}
	a := f.demandAccLocked(skill)
	a.wins++
	a.spendCPM += priceMicros
	a.calls += calls
	a.qual += qualified
	if k.Channel < channel.Count {
		a.chWins[k.Channel]++
		a.chCalls[k.Channel] += calls
	}
}

// Call is what one call adds to its row; calls are upserts, so the feed
// adds a call's old contribution with sign −1 and its new one with +1.
// Repeat is the part of Calls from a repeat caller (the same caller about
// the same campaign within the feed's repeat_window); the feed counts a
// repeat caller's qualified call once, on their first call.
type Call struct {
	Calls, Qualified, Sales int64
	Repeat                  int64
	Revenue                 int64 // micro-units
}

// AddCall adds sign × c to the row k.
func (f *Reports) AddCall(k Key, c Call, sign int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r := f.rowLocked(k); r != nil {
		r.calls += sign * c.Calls
		r.repeat += sign * c.Repeat
		r.qualified += sign * c.Qualified
		r.sales += sign * c.Sales
		r.revenue += sign * c.Revenue
	}
}

// Row is one line of GET /v1/report. Money is in currency units;
// ratios are null when their denominator is 0. cost_per_call is spend per
// qualified call; cpa is spend per sale.
type Row struct {
	Key            string   `json:"key"`
	Bids           int64    `json:"bids"`
	Wins           int64    `json:"wins"`
	Spend          float64  `json:"spend"`
	Calls          int64    `json:"calls"`
	UniqueCalls    int64    `json:"unique_calls"` // calls − repeat_calls: one per caller and campaign within repeat_window
	RepeatCalls    int64    `json:"repeat_calls"` // calls from a caller who called the campaign within repeat_window
	QualifiedCalls int64    `json:"qualified_calls"`
	Sales          int64    `json:"sales"`
	Revenue        float64  `json:"revenue"`
	CostPerCall    *float64 `json:"cost_per_call"`
	CPA            *float64 `json:"cpa"`
	CallRate       *float64 `json:"call_rate"`
	CloseRate      *float64 `json:"close_rate"`
	// Value, bid and clearing price side by side (CPM, bid currency):
	// the mean price the campaign's value gave and the mean bid after
	// shading, over the bids this process priced; the mean clearing price
	// over the wins (spend per win × 1000).
	MeanValueCPM    *float64 `json:"mean_value_cpm"`
	MeanBidCPM      *float64 `json:"mean_bid_cpm"`
	MeanClearingCPM *float64 `json:"mean_clearing_cpm"`
}

// View is the body of GET /v1/report.
type View struct {
	From           *time.Time `json:"from,omitempty"`
	To             *time.Time `json:"to,omitempty"`
	GroupBy        string     `json:"group_by"`
	Currency       string     `json:"currency,omitempty"`
	Rows           []Row      `json:"rows"`
	Total          Row        `json:"total"`
	RecordsDropped int64      `json:"records_dropped"` // bid-path counts lost to a full queue
	BidsSince      time.Time  `json:"bids_since"`      // start of this process; earlier bids come from callbid.bids.v1
}

func ratio(n, d float64) *float64 {
	if d == 0 {
		return nil
	}
	v := n / d
	return &v
}

func (c *counts) row(key string) Row {
	spend := float64(c.spendCPM) / 1000 / 1e6
	return Row{
		Key: key, Bids: c.bids, Wins: c.wins, Spend: spend,
		Calls: c.calls, UniqueCalls: c.calls - c.repeat, RepeatCalls: c.repeat, QualifiedCalls: c.qualified, Sales: c.sales, Revenue: float64(c.revenue) / 1e6,
		CostPerCall: ratio(spend, float64(c.qualified)),
		CPA:         ratio(spend, float64(c.sales)),
		CallRate:    ratio(float64(c.qualified), float64(c.wins)),
		CloseRate:   ratio(float64(c.sales), float64(c.qualified)),

		MeanValueCPM:    ratio(float64(c.valueCPM)/1e6, float64(c.pricedBids)),
		MeanBidCPM:      ratio(float64(c.bidCPM)/1e6, float64(c.pricedBids)),
		MeanClearingCPM: ratio(float64(c.spendCPM)/1e6, float64(c.wins)),
	}
}

func (c *counts) add(o *counts) {
	c.bids += o.bids
	c.wins += o.wins
	c.spendCPM += o.spendCPM
	c.pricedBids += o.pricedBids
	c.bidCPM += o.bidCPM
	c.valueCPM += o.valueCPM
	c.calls += o.calls
	c.repeat += o.repeat
	c.qualified += o.qualified
	c.sales += o.sales
	c.revenue += o.revenue
}

// Query selects and groups report rows: the hourly rows whose hour starts
// within [From, To) (zero times mean unbounded), grouped by GroupBy
// (campaign, publisher, exchange, hour or channel).
type Query struct {
	From, To time.Time
	GroupBy  string
}

// ParseQuery reads the query parameters of GET /v1/report as strings:
// from and to RFC3339 (hour resolution: an hour is in when it starts
// within [from, to)), group_by campaign|publisher|exchange|hour|channel (default
// campaign), format json|csv (default json). Errors read as sentences for
// a 400 answer.
func ParseQuery(from, to, groupBy, format string) (q Query, csv bool, err error) {
	if from != "" {
		if q.From, err = time.Parse(time.RFC3339, from); err != nil {
			return q, false, fmt.Errorf("from %q is not an RFC3339 time", from)
		}
	}
	if to != "" {
		if q.To, err = time.Parse(time.RFC3339, to); err != nil {
			return q, false, fmt.Errorf("to %q is not an RFC3339 time", to)
		}
	}
	q.GroupBy = groupBy
	if q.GroupBy == "" {
		q.GroupBy = "campaign"
	}
	switch format {
	case "", "json":
	case "csv":
		csv = true
	default:
		return q, false, fmt.Errorf("format %q is not json or csv", format)
	}
	return q, csv, nil
}

// Report aggregates the rows q selects. An unknown group_by is an error.
func (f *Reports) Report(q Query) (View, error) {
	from, to, groupBy := q.From, q.To, q.GroupBy
	switch groupBy {
	case "campaign", "publisher", "exchange", "hour", "channel":
	default:
		return View{}, fmt.Errorf("group_by %q is not one of campaign, publisher, exchange, hour, channel", groupBy)
	}
	rep := View{GroupBy: groupBy, BidsSince: f.started}
	if !from.IsZero() {
		rep.From = &from
	}
	if !to.IsZero() {
		rep.To = &to
	}
	groups := map[string]*counts{}
	var total counts
	f.mu.Lock()
	rep.Currency = f.currency
	for k, c := range f.rows {
		start := time.Unix(k.Hour*3600, 0)
		if (!from.IsZero() && start.Before(from)) || (!to.IsZero() && !start.Before(to)) {
			continue
		}
		var key string
		switch groupBy {
		case "campaign":
			key = k.Campaign
		case "publisher":
			key = k.Publisher
		case "exchange":
			key = k.Exchange
		case "hour":
			key = start.UTC().Format(time.RFC3339)
		case "channel":
			key = k.Channel.String()
		}
		g := groups[key]
		if g == nil {
			g = &counts{}
			groups[key] = g
		}
		g.add(c)
		total.add(c)
	}
	f.mu.Unlock()
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	rep.Rows = make([]Row, 0, len(keys))
	for _, k := range keys {
		rep.Rows = append(rep.Rows, groups[k].row(k))
	}
	rep.Total = total.row("total")
	rep.RecordsDropped = f.droppedNow()
	return rep, nil
}

// WriteJSON writes the report as JSON (Content-Type application/json).
func (r *View) WriteJSON(w io.Writer) error {
	return json.NewEncoder(w).Encode(r)
}

// WriteCSV writes the rows and the total (key "total") with a header line
// (Content-Type text/csv; charset=utf-8).
func (r *View) WriteCSV(w io.Writer) error {
	_, err := w.Write(r.CSV())
	return err
}

// CSV renders the rows and the total (key "total") with a header line.
func (r *View) CSV() []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write([]string{r.GroupBy, "bids", "wins", "spend", "calls", "qualified_calls", "sales", "revenue",
		"cost_per_call", "cpa", "call_rate", "close_rate", "unique_calls", "repeat_calls",
		"mean_value_cpm", "mean_bid_cpm", "mean_clearing_cpm"})
	opt := func(p *float64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatFloat(*p, 'f', -1, 64)
	}
	line := func(x Row) {
		_ = w.Write([]string{x.Key, strconv.FormatInt(x.Bids, 10), strconv.FormatInt(x.Wins, 10),
			strconv.FormatFloat(x.Spend, 'f', 6, 64), strconv.FormatInt(x.Calls, 10),
			strconv.FormatInt(x.QualifiedCalls, 10), strconv.FormatInt(x.Sales, 10),
			strconv.FormatFloat(x.Revenue, 'f', 6, 64), opt(x.CostPerCall), opt(x.CPA), opt(x.CallRate), opt(x.CloseRate),
			strconv.FormatInt(x.UniqueCalls, 10), strconv.FormatInt(x.RepeatCalls, 10),
			opt(x.MeanValueCPM), opt(x.MeanBidCPM), opt(x.MeanClearingCPM)})
	}
	for _, x := range r.Rows {
		line(x)
	}
	line(r.Total)
	w.Flush()
	return buf.Bytes()
}

// Demand is one callbid.demand.v1 event (key: skill): what one interval's
// bidding bought for a skill, for workforce planning. The record type is
// the events package's; the alias keeps this package's readers working.
type Demand = events.Demand

type demandAcc struct {
	seen, bids, wins, spendCPM int64
	calls, qual                float64
	chWins                     [channel.Count]int64 // wins and their expected contacts per channel (projection.go)
	chCalls                    [channel.Count]float64
}

type demandState struct {
	start       time.Time
	acc         map[string]*demandAcc
	droppedMark int64
}

func (f *Reports) demandAccLocked(skill string) *demandAcc {
	if f.demand.acc == nil {
		f.demand.acc = map[string]*demandAcc{}
	}
	a := f.demand.acc[skill]
	if a == nil {
		a = &demandAcc{}
		f.demand.acc[skill] = a
	}
	return a
}

func (f *Reports) inDemandLocked(atNano int64) bool {
	s := f.demand.start
	return !s.IsZero() && atNano >= s.UnixNano() && atNano < s.Add(f.cfg.DemandInterval).UnixNano()
}

func (f *Reports) demandSeenLocked(skill string, at, n int64) {
	if skill != "" && f.inDemandLocked(at) {
		f.demandAccLocked(skill).seen += n
	}
}

func (f *Reports) demandBidLocked(skill string, at, n int64) {
	if skill != "" && f.inDemandLocked(at) {
		f.demandAccLocked(skill).bids += n
	}
}

type outMsg struct{ key, value []byte }

// demandLocked closes the interval when it is over and returns its events.
func (f *Reports) demandLocked(now time.Time) []outMsg {
	d := &f.demand
	if d.start.IsZero() {
		d.start = now.Truncate(f.cfg.DemandInterval)
		d.droppedMark = f.droppedNow()
		f.openDemandLocked()
		return nil
	}
	end := d.start.Add(f.cfg.DemandInterval)
	if now.Before(end) {
		return nil
	}
	dropped := f.droppedNow()
	skills := append([]string(nil), f.skills...)
	for s := range d.acc {
		if _, ok := f.campaignSkillLocked(s); !ok {
			skills = append(skills, s)
		}
	}
	var out []outMsg
	for _, s := range skills {
		a := f.demandAccLocked(s)
		mult, committed := 1.0, 0.0
		if f.pace != nil {
			mult, _ = f.pace.Pacing(s)
			committed, _ = f.pace.Committed(s)
		}
		ev := Demand{Skill: s, IntervalStart: d.start.UTC(), IntervalEnd: end.UTC(), RequestsSeen: a.seen, Bids: a.bids,
			Wins: a.wins, Spend: events.Money{AmountMicros: a.spendCPM / 1000, Currency: f.currency},
			ProjectedCalls: a.calls, ProjectedQualifiedCalls: a.qual, CommittedCallsPerMin: committed,
			PacingMultiplier: mult, RecordsDropped: dropped - d.droppedMark,
			Projection: f.projectLocked(s, end, a)}
		out = append(out, outMsg{key: []byte(s), value: events.AppendDemand(nil, &ev)})
	}
	d.acc = nil
	d.droppedMark = dropped
	d.start = now.Truncate(f.cfg.DemandInterval)
	return out
}

func (f *Reports) campaignSkillLocked(s string) (int, bool) {
	i := sort.SearchStrings(f.skills, s)
	return i, i < len(f.skills) && f.skills[i] == s
}
