package status

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/callbid/callbid/capacity"
	"github.com/callbid/callbid/feedback"
	"github.com/callbid/callbid/numbers"
)

// fakeWorld is a hand-written stand-in for the running parts.
type fakeWorld struct {
	now        time.Time
	ready      bool
	reasons    []string
	stale      bool
	skills     []capacity.SkillStats
	pools      []numbers.PoolStats
	bids, wins int64
	reportFrom time.Time
	rows       []feedback.ReportRow
}

func (w *fakeWorld) sources(loc *time.Location) Sources {
	cpa := 12.5
	return Sources{
		Version: "1.2.3",
		Started: w.now.Add(-time.Hour),
		Now:     func() time.Time { return w.now },
		Ready:   func() (bool, []string) { return w.ready, w.reasons },
		Health: []func() (bool, string){
			func() (bool, string) {
				if w.stale {
					return false, "capacity feed stale: no agent-state event for 45s"
				}
				return true, ""
			},
		},
		Skills:     func() ([]capacity.SkillStats, bool) { return w.skills, w.stale },
		Pacing:     func(string) (float64, bool) { return 0.8, false },
		Committed:  func(string) (float64, float64) { return 2, 1.5 },
		SkillExtra: func(string) []Figure { return []Figure{{Name: "participation", Value: 0.4}} },
		Pools:      func() numbers.Stats { return numbers.Stats{Pools: w.pools} },
		Report: func(from, to time.Time, groupBy string) (*feedback.Report, error) {
			w.reportFrom = from
			if groupBy != "campaign" {
				return nil, errors.New("want group_by campaign")
			}
			rows := append([]feedback.ReportRow(nil), w.rows...)
			for i := range rows {
				if rows[i].Key == "c1" {
					rows[i].CPA = &cpa
				}
			}
			return &feedback.Report{Rows: rows}, nil
		},
		Campaigns: func() []Campaign {
			return []Campaign{{ID: "c1", Skill: "mortgage", DailyBudget: 200, Currency: "USD"}, {ID: "c2", Skill: "legal", Currency: "USD"}}
		},
		Feeds: func() []Feed {
			return []Feed{
				{Topic: "cc.call.v1", Lag: -1},
				{Topic: "cc.agent-state.v1", LastMessage: w.now.Add(-1500 * time.Millisecond), Lag: 7, CaughtUp: true},
			}
		},
		Counters: func() (int64, int64) { return w.bids, w.wins },
		Location: func() *time.Location { return loc },
	}
}

func newWorld() *fakeWorld {
	return &fakeWorld{
		now:   time.Date(2026, 12, 7, 15, 30, 0, 0, time.UTC),
		ready: true,
		skills: []capacity.SkillStats{
			{Skill: "mortgage", Staffed: 30, Available: 12, Busy: 15, ACW: 3, Waiting: 1, LambdaMaxPerMinute: 8.5, HeadroomPerMinute: 2.25, ArrivalPerMinute: 6},
		},
		pools: []numbers.PoolStats{
			{ID: "p-ok", Size: 100, Utilization: 0.5, TargetUtilization: 0.75, NeededSize: 80},
			{ID: "p-hot", Size: 100, Utilization: 0.9, TargetUtilization: 0.75, ExhaustionNoBids: 42, NeededSize: 300},
		},
		rows: []feedback.ReportRow{{Key: "c1", Bids: 1000, Wins: 40, Spend: 50, Calls: 5, QualifiedCalls: 4, Sales: 4}},
	}
}

func TestSnapshotJoinsTheSources(t *testing.T) {
	w := newWorld()
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	p := New(w.sources(ny), 10*time.Second)
	s := p.Snapshot()
	if !s.Ready || len(s.NotReady) != 0 || s.Version != "1.2.3" || s.UptimeSeconds != 3600 {
		t.Errorf("header: %+v", s)
	}
	// Today is the budget day in server.time_zone: 15:30 UTC is 10:30 in New York.
	if want := time.Date(2026, 12, 7, 0, 0, 0, 0, ny); !w.reportFrom.Equal(want) {
		t.Errorf("report from %v, want midnight in New York %v", w.reportFrom, want)
	}
	if len(s.Skills) != 1 {
		t.Fatalf("skills: %+v", s.Skills)
	}
	k := s.Skills[0]
	if k.Staffed != 30 || k.Available != 12 || k.Busy != 18 || k.LambdaMax != 8.5 || k.Headroom != 2.25 ||
		k.Pacing != 0.8 || k.Committed != 2 || k.Arriving != 1.5 || len(k.Extra) != 1 || k.Extra[0].Name != "participation" {
		t.Errorf("skill row: %+v", k)
	}
	if len(s.Pools) != 2 || s.Pools[0].AboveTarget || !s.Pools[1].AboveTarget || s.Pools[1].ExhaustionNoBids != 42 || s.Pools[1].NeededSize != 300 {
		t.Errorf("pools: %+v", s.Pools)
	}
	if len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0], "p-hot") {
		t.Errorf("warnings: %q", s.Warnings)
	}
	c1, c2 := s.Campaigns[0], s.Campaigns[1]
	if c1.ID != "c1" || c1.Spend != 50 || c1.BudgetUsed == nil || *c1.BudgetUsed != 0.25 || c1.Bids != 1000 || c1.Wins != 40 ||
		c1.Calls != 5 || c1.CPA == nil || *c1.CPA != 12.5 {
		t.Errorf("campaign c1: %+v", c1)
	}
	if c2.ID != "c2" || c2.BudgetUsed != nil || c2.Bids != 0 || c2.CPA != nil {
		t.Errorf("campaign without budget or rows: %+v", c2)
	}
	if len(s.Feeds) != 2 || s.Feeds[0].Topic != "cc.agent-state.v1" || s.Feeds[0].AgeSeconds == nil ||
		*s.Feeds[0].AgeSeconds != 1.5 || s.Feeds[0].Lag != 7 || s.Feeds[1].AgeSeconds != nil || s.Feeds[1].Lag != -1 {
		t.Errorf("feeds (sorted by topic): %+v", s.Feeds)
	}

	// A stale capacity feed is a warning and a flag, not unreadiness: the
	// page reports whatever Ready says.
	w.stale = true
	w.ready, w.reasons = false, []string{"numbers: waiting for the lease log"}
	s = p.Snapshot()
	if s.Ready || len(s.NotReady) != 1 || !s.CapacityStale || !strings.Contains(strings.Join(s.Warnings, "\n"), "capacity feed stale") {
		t.Errorf("stale and unready: %+v", s)
	}
}

func TestHistoryKeepsTheLastHour(t *testing.T) {
	w := newWorld()
	p := New(w.sources(time.UTC), 10*time.Second)
	start := w.now
	for i := range 400 { // 4000 s: more than an hour
		w.now = start.Add(time.Duration(i) * 10 * time.Second)
		w.skills[0].Available = i % 30
		w.bids += 60 // 60 per 10 s = 360/min
		w.wins += 1
		p.Sample(w.now)
	}
	h := p.Snapshot().History
	if len(h.Times) != 361 {
		t.Fatalf("%d samples, want 361 (one hour at 10 s, both ends)", len(h.Times))
	}
	for i := 1; i < len(h.Times); i++ {
		if h.Times[i]-h.Times[i-1] != 10 {
			t.Fatalf("times not in order at %d: %v", i, h.Times[i-1:i+1])
		}
	}
	if h.Times[len(h.Times)-1] != w.now.Unix() {
		t.Errorf("the newest sample is not last")
	}
	series := map[string]*Series{}
	for _, s := range h.Series {
		series[s.Chart+"/"+s.Name] = s
	}
	av := series["available/mortgage"]
	if av == nil || *av.Values[len(av.Values)-1] != float64(399%30) {
		t.Fatalf("available series: %+v", av)
	}
	if u := series["utilization/p-hot"]; u == nil || *u.Values[0] != 90 {
		t.Errorf("utilization in percent: %+v", u)
	}
	bids := series["rates/bids"]
	if bids == nil || bids.Values[0] != nil || *bids.Values[1] != 360 || *series["rates/wins"].Values[1] != 6 {
		t.Errorf("bid rate per minute: %+v", bids)
	}
	// Charts come in the page's order.
	if h.Series[0].Chart != "headroom" || h.Series[len(h.Series)-1].Chart != "rates" {
		t.Errorf("series order: first %s, last %s", h.Series[0].Chart, h.Series[len(h.Series)-1].Chart)
	}
}

func render(t *testing.T, p *Page, live bool) string {
	t.Helper()
	var buf bytes.Buffer
	if err := p.Render(&buf, live); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestPageShowsTheFiguresEscaped(t *testing.T) {
	w := newWorld()
	w.skills = append(w.skills, capacity.SkillStats{Skill: `<script>alert(1)</script>`, Staffed: 1})
	p := New(w.sources(time.UTC), 10*time.Second)
	p.Sample(w.now.Add(-time.Minute))
	p.Sample(w.now)

	body := render(t, p, false)
	for _, want := range []string{
		`<title>callbid status</title>`, `id="ready">READY`,
		`<tr data-skill="mortgage">`, `<td data-k="available">12</td>`, `<td data-k="lambda_max">8.50</td>`, `<td data-k="headroom">2.25</td>`,
		`participation 0.40`,
		`<tr data-pool="p-hot" class="hot">`, `<td data-k="exhaustion_nobids">42</td>`, `<td data-k="needed_size">300</td>`,
		`<tr data-campaign="c1">`, `<td data-k="spend">50.00 USD</td>`, `25.0%`, `<td data-k="cpa">12.50</td>`,
		`<tr data-feed="cc.agent-state.v1">`, `<td data-k="age">1.5s ago</td>`, `<td data-k="lag">unknown</td>`,
		`data-chart="headroom"`, `<polyline`, `fetch('/?part=live'`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, "<script>alert(1)") {
		t.Error("a skill name from events reached the page unescaped")
	}
	// No external assets: nothing is loaded from another origin.
	for _, bad := range []string{"src=\"http", "href=\"http", "@import", "url(http"} {
		if strings.Contains(body, bad) {
			t.Errorf("page references an external asset: %q", bad)
		}
	}

	live := render(t, p, true)
	if strings.Contains(live, "<html") || !strings.Contains(live, `data-skill="mortgage"`) {
		t.Errorf("live part: %.200s", live)
	}

	raw, err := json.Marshal(p.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	var s Snapshot
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	if len(s.Skills) != 2 || len(s.History.Times) != 2 {
		t.Errorf("status.json: %d skills, %d samples", len(s.Skills), len(s.History.Times))
	}
}

func TestChartBreaksAtGaps(t *testing.T) {
	now := time.Unix(10_000, 0)
	one, two := 1.0, 2.0
	svg := string(svgChart("k", "T", "u", now, []int64{9_000, 9_010, 9_020, 9_030},
		[]*Series{{Name: "a", Values: []*float64{&one, &two, nil, &one}}}))
	if n := strings.Count(svg, "<polyline"); n != 2 {
		t.Errorf("%d polylines, want 2 (a gap splits the line):\n%s", n, svg)
	}
	if !strings.Contains(svg, `data-series="a">1</b>`) {
		t.Errorf("legend does not show the last value:\n%s", svg)
	}
	if got := niceCeil(7.3); got != 10 {
		t.Errorf("niceCeil(7.3) = %v", got)
	}
}
