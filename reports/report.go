package feedback

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/valyala/fasthttp"
)

// reportKey is one hourly report row. Wins and spend land in the hour of the
// impression, calls and outcomes in the hour the call started.
type reportKey struct {
	hour                          int64 // unix hours
	campaign, publisher, exchange string
}

type counts struct {
	bids, wins       int64
	spendCPM         int64 // Σ clearing price, CPM micro-units (spend = /1000)
	calls, qualified int64
	sales, revenue   int64 // revenue in micro-units
}

func (f *Feedback) rowLocked(k reportKey) *counts {
	if k.hour < f.clock().Add(-f.cfg.ReportRetention).Unix()/3600 {
		return nil
	}
	r := f.rows[k]
	if r == nil {
		r = &counts{}
		f.rows[k] = r
	}
	return r
}

// ReportRow is one line of GET /v1/report. Money is in currency units;
// ratios are null when their denominator is 0. cost_per_call is spend per
// qualified call; cpa is spend per sale.
type ReportRow struct {
	Key            string   `json:"key"`
	Bids           int64    `json:"bids"`
	Wins           int64    `json:"wins"`
	Spend          float64  `json:"spend"`
	Calls          int64    `json:"calls"`
	QualifiedCalls int64    `json:"qualified_calls"`
	Sales          int64    `json:"sales"`
	Revenue        float64  `json:"revenue"`
	CostPerCall    *float64 `json:"cost_per_call"`
	CPA            *float64 `json:"cpa"`
	CallRate       *float64 `json:"call_rate"`
	CloseRate      *float64 `json:"close_rate"`
}

// Report is the body of GET /v1/report.
type Report struct {
	From           *time.Time  `json:"from,omitempty"`
	To             *time.Time  `json:"to,omitempty"`
	GroupBy        string      `json:"group_by"`
	Currency       string      `json:"currency,omitempty"`
	Rows           []ReportRow `json:"rows"`
	Total          ReportRow   `json:"total"`
	RecordsDropped int64       `json:"records_dropped"` // bid-path counts lost to a full queue
	BidsSince      time.Time   `json:"bids_since"`      // start of this process; earlier bids come from callbid.bids.v1
}

func ratio(n, d float64) *float64 {
	if d == 0 {
		return nil
	}
	v := n / d
	return &v
}

func (c *counts) row(key string) ReportRow {
	spend := float64(c.spendCPM) / 1000 / 1e6
	return ReportRow{
		Key: key, Bids: c.bids, Wins: c.wins, Spend: spend,
		Calls: c.calls, QualifiedCalls: c.qualified, Sales: c.sales, Revenue: float64(c.revenue) / 1e6,
		CostPerCall: ratio(spend, float64(c.qualified)),
		CPA:         ratio(spend, float64(c.sales)),
		CallRate:    ratio(float64(c.qualified), float64(c.wins)),
		CloseRate:   ratio(float64(c.sales), float64(c.qualified)),
	}
}

func (c *counts) add(o *counts) {
	c.bids += o.bids
	c.wins += o.wins
	c.spendCPM += o.spendCPM
	c.calls += o.calls
	c.qualified += o.qualified
	c.sales += o.sales
	c.revenue += o.revenue
}

// BuildReport aggregates the hourly rows whose hour starts within
// [from, to) (zero times mean unbounded) by groupBy: campaign, publisher,
// exchange or hour.
func (f *Feedback) BuildReport(from, to time.Time, groupBy string) (*Report, error) {
	switch groupBy {
	case "campaign", "publisher", "exchange", "hour":
	default:
		return nil, fmt.Errorf("group_by %q is not one of campaign, publisher, exchange, hour", groupBy)
	}
	rep := &Report{GroupBy: groupBy, BidsSince: f.started}
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
		start := time.Unix(k.hour*3600, 0)
		if (!from.IsZero() && start.Before(from)) || (!to.IsZero() && !start.Before(to)) {
			continue
		}
		var key string
		switch groupBy {
		case "campaign":
			key = k.campaign
		case "publisher":
			key = k.publisher
		case "exchange":
			key = k.exchange
		case "hour":
			key = start.UTC().Format(time.RFC3339)
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
	rep.Rows = make([]ReportRow, 0, len(keys))
	for _, k := range keys {
		rep.Rows = append(rep.Rows, groups[k].row(k))
	}
	rep.Total = total.row("total")
	rep.RecordsDropped = f.st.recordsDropped.Load()
	return rep, nil
}

// HandleReport serves GET /v1/report on the admin listener: ?from=&to=
// (RFC3339, hour resolution: an hour is in when it starts within [from,to)),
// ?group_by=campaign|publisher|exchange|hour (default campaign),
// ?format=json|csv (default json).
func (f *Feedback) HandleReport(ctx *fasthttp.RequestCtx) {
	if !ctx.IsGet() && !ctx.IsHead() {
		ctx.Error("only GET is allowed\n", fasthttp.StatusMethodNotAllowed)
		return
	}
	args := ctx.QueryArgs()
	var from, to time.Time
	var err error
	if b := args.Peek("from"); len(b) > 0 {
		if from, err = time.Parse(time.RFC3339, string(b)); err != nil {
			ctx.Error(fmt.Sprintf("from %q is not an RFC3339 time\n", b), fasthttp.StatusBadRequest)
			return
		}
	}
	if b := args.Peek("to"); len(b) > 0 {
		if to, err = time.Parse(time.RFC3339, string(b)); err != nil {
			ctx.Error(fmt.Sprintf("to %q is not an RFC3339 time\n", b), fasthttp.StatusBadRequest)
			return
		}
	}
	groupBy := string(args.Peek("group_by"))
	if groupBy == "" {
		groupBy = "campaign"
	}
	format := string(args.Peek("format"))
	if format != "" && format != "json" && format != "csv" {
		ctx.Error(fmt.Sprintf("format %q is not json or csv\n", format), fasthttp.StatusBadRequest)
		return
	}
	rep, err := f.BuildReport(from, to, groupBy)
	if err != nil {
		ctx.Error(err.Error()+"\n", fasthttp.StatusBadRequest)
		return
	}
	if format == "csv" {
		ctx.SetContentType("text/csv; charset=utf-8")
		ctx.SetBody(rep.CSV())
		return
	}
	b, _ := json.Marshal(rep)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

// CSV renders the rows and the total (key "total") with a header line.
func (r *Report) CSV() []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write([]string{r.GroupBy, "bids", "wins", "spend", "calls", "qualified_calls", "sales", "revenue",
		"cost_per_call", "cpa", "call_rate", "close_rate"})
	opt := func(p *float64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatFloat(*p, 'f', -1, 64)
	}
	line := func(x ReportRow) {
		_ = w.Write([]string{x.Key, strconv.FormatInt(x.Bids, 10), strconv.FormatInt(x.Wins, 10),
			strconv.FormatFloat(x.Spend, 'f', 6, 64), strconv.FormatInt(x.Calls, 10),
			strconv.FormatInt(x.QualifiedCalls, 10), strconv.FormatInt(x.Sales, 10),
			strconv.FormatFloat(x.Revenue, 'f', 6, 64), opt(x.CostPerCall), opt(x.CPA), opt(x.CallRate), opt(x.CloseRate)})
	}
	for _, x := range r.Rows {
		line(x)
	}
	line(r.Total)
	w.Flush()
	return buf.Bytes()
}

// Demand is one callbid.demand.v1 event (key: skill): what one interval's
// bidding bought for a skill, for workforce planning.
type Demand struct {
	Skill         string       `json:"skill"`
	IntervalStart time.Time    `json:"interval_start"`
	IntervalEnd   time.Time    `json:"interval_end"`
	RequestsSeen  int64        `json:"requests_seen"` // bid requests that matched a campaign of the skill
	Bids          int64        `json:"bids"`
	Wins          int64        `json:"wins"` // won impressions, by impression time
	Spend         events.Money `json:"spend"`
	// ProjectedCalls are the calls expected from this interval's wins (any
	// attributed call); ProjectedQualifiedCalls the qualified share.
	ProjectedCalls          float64 `json:"projected_calls"`
	ProjectedQualifiedCalls float64 `json:"projected_qualified_calls"`
	// CommittedCallsPerMin is the arrival rate still to come from all
	// impressions won so far, at interval end.
	CommittedCallsPerMin float64 `json:"committed_calls_per_min"`
	PacingMultiplier     float64 `json:"pacing_multiplier"`
	RecordsDropped       int64   `json:"records_dropped"` // seen/bid counts lost in this interval
}

type demandAcc struct {
	seen, bids, wins, spendCPM int64
	calls, qual                float64
}

type demandState struct {
	start       time.Time
	acc         map[string]*demandAcc
	droppedMark int64
}

func (f *Feedback) demandAccLocked(skill string) *demandAcc {
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

func (f *Feedback) inDemandLocked(atNano int64) bool {
	s := f.demand.start
	return !s.IsZero() && atNano >= s.UnixNano() && atNano < s.Add(f.cfg.DemandInterval).UnixNano()
}

func (f *Feedback) demandSeenLocked(skill string, at int64) {
	if skill != "" && f.inDemandLocked(at) {
		f.demandAccLocked(skill).seen++
	}
}

func (f *Feedback) demandBidLocked(skill string, at int64) {
	if skill != "" && f.inDemandLocked(at) {
		f.demandAccLocked(skill).bids++
	}
}

func (f *Feedback) demandWinLocked(c *cell, im *events.Impression) {
	if c.skill == "" || !f.inDemandLocked(im.At.UnixNano()) {
		return
	}
	a := f.demandAccLocked(c.skill)
	a.wins++
	a.spendCPM += im.PriceMicros
	a.calls += c.anyRate
	a.qual += c.callRate
}

type outMsg struct{ key, value []byte }

// demandLocked closes the interval when it is over and returns its events.
func (f *Feedback) demandLocked(now time.Time) []outMsg {
	d := &f.demand
	if d.start.IsZero() {
		d.start = now.Truncate(f.cfg.DemandInterval)
		d.droppedMark = f.st.recordsDropped.Load()
		f.openDemandLocked()
		return nil
	}
	end := d.start.Add(f.cfg.DemandInterval)
	if now.Before(end) {
		return nil
	}
	dropped := f.st.recordsDropped.Load()
	ps := f.pacer.Load()
	skills := append([]string(nil), f.skills...)
	for s := range d.acc {
		if _, ok := f.campaignSkillLocked(s); !ok {
			skills = append(skills, s)
		}
	}
	var out []outMsg
	for _, s := range skills {
		a := f.demandAccLocked(s)
		mult := 1.0
		if p, ok := ps.skills[s]; ok {
			mult = p.mult
		}
		ev := Demand{Skill: s, IntervalStart: d.start.UTC(), IntervalEnd: end.UTC(), RequestsSeen: a.seen, Bids: a.bids,
			Wins: a.wins, Spend: events.Money{AmountMicros: a.spendCPM / 1000, Currency: f.currency},
			ProjectedCalls: a.calls, ProjectedQualifiedCalls: a.qual, CommittedCallsPerMin: ps.committed[s],
			PacingMultiplier: mult, RecordsDropped: dropped - d.droppedMark}
		b, err := json.Marshal(&ev)
		if err == nil {
			out = append(out, outMsg{key: []byte(s), value: b})
		}
	}
	d.acc = nil
	d.droppedMark = dropped
	d.start = now.Truncate(f.cfg.DemandInterval)
	return out
}

func (f *Feedback) campaignSkillLocked(s string) (int, bool) {
	i := sort.SearchStrings(f.skills, s)
	return i, i < len(f.skills) && f.skills[i] == s
}
