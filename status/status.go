package status

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/callbid/callbid/capacity"
	"github.com/callbid/callbid/numbers"
	"github.com/callbid/callbid/reports"
)

// Sources are where the page reads its figures; the root wiring fills them
// from the running parts. A nil source leaves its section empty.
type Sources struct {
	Version string
	Started time.Time
	// Ready is /readyz's answer.
	Ready func() (ok bool, reasons []string)
	// Health lists feed problems that do not make callbid unready (capacity
	// stale, feedback stalled): each check says ok or why not.
	Health []func() (ok bool, why string)
	// Skills is capacity.Model.Stats.
	Skills func() (skills []capacity.SkillStats, stale bool)
	// Pacing and Committed are pacing.Pacer's per-skill view.
	Pacing    func(skill string) (multiplier float64, stop bool)
	Committed func(skill string) (committed, arriving float64)
	// SkillExtra adds figures to a skill's row: participation and calls in
	// flight from the closed loop once it exposes them. nil: none.
	SkillExtra func(skill string) []Figure
	// Pools is numbers.Pools.Stats.
	Pools func() numbers.Stats
	// Report is reports.Reports.Report.
	Report func(q reports.Query) (reports.View, error)
	// Campaigns are the configured campaigns (budgets), re-read per render
	// so a reload shows.
	Campaigns func() []Campaign
	// Feeds are the Kafka consumers.
	Feeds func() []Feed
	// Counters are cumulative bids and wins (feedback's counters), charted
	// as per-minute rates.
	Counters func() (bids, wins int64)
	// Location is the budget-day time zone (server.time_zone).
	Location func() *time.Location
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Campaign is what the page needs of a configured campaign.
type Campaign struct {
	ID          string
	Skill       string
	DailyBudget float64 // campaign currency; 0 = unlimited
	Currency    string
}

// Feed is one Kafka consumer's health.
type Feed struct {
	Topic       string
	LastMessage time.Time // zero before the first record
	Lag         int64     // records behind; -1 before the partitions are known
	CaughtUp    bool
}

// Figure is a named number shown in a row.
type Figure struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
}

// Page serves the status page and samples its history.
type Page struct {
	src  Sources
	mu   sync.Mutex
	ring ring
}

// HistoryLength is how much history the charts show.
const HistoryLength = time.Hour

// New returns a page reading from src, keeping an hour of samples taken
// every interval (10 s when zero).
func New(src Sources, interval time.Duration) *Page {
	if interval <= 0 {
		interval = 10 * time.Second
	}
	if src.Now == nil {
		src.Now = time.Now
	}
	if src.Location == nil {
		src.Location = func() *time.Location { return time.UTC }
	}
	n := int(HistoryLength/interval) + 1
	return &Page{src: src, ring: ring{interval: interval, buf: make([]sample, n)}}
}

// Snapshot is the page's figures; GET /status.json serves it.
type Snapshot struct {
	Version       string        `json:"version"`
	Now           time.Time     `json:"now"`
	UptimeSeconds float64       `json:"uptime_seconds"`
	Ready         bool          `json:"ready"`
	NotReady      []string      `json:"not_ready_reasons"`
	Warnings      []string      `json:"warnings"`
	CapacityStale bool          `json:"capacity_stale"`
	Skills        []SkillRow    `json:"skills"`
	Pools         []PoolRow     `json:"pools"`
	Campaigns     []CampaignRow `json:"campaigns"`
	Feeds         []FeedRow     `json:"feeds"`
	History       History       `json:"history"`
}

// SkillRow is one skill's staffing and headroom.
type SkillRow struct {
	Skill         string   `json:"skill"`
	Staffed       int      `json:"staffed"`
	Available     int      `json:"available"`
	Busy          int      `json:"busy"`
	Waiting       int      `json:"waiting"`
	LambdaMax     float64  `json:"lambda_max_per_minute"`
	Headroom      float64  `json:"headroom_per_minute"`
	Arrival       float64  `json:"arrival_per_minute"`
	Committed     float64  `json:"committed_per_minute"`
	Arriving      float64  `json:"bought_arriving_per_minute"`
	Factor        float64  `json:"factor"`
	Pacing        float64  `json:"pacing_multiplier"`
	PacingStopped bool     `json:"pacing_stopped"`
	Extra         []Figure `json:"extra,omitempty"`
}

// PoolRow is one tracking-number pool's pressure.
type PoolRow struct {
	ID                 string  `json:"id"`
	Size               int     `json:"size"`
	Utilization        float64 `json:"utilization"`
	Target             float64 `json:"target_utilization"`
	AboveTarget        bool    `json:"above_target"`
	ExhaustionNoBids   uint64  `json:"exhaustion_nobids"`
	NeededSize         int     `json:"needed_size"`
	NeededSizeObserved int     `json:"needed_size_observed"`
}

// CampaignRow is one campaign's day so far (budget day in server.time_zone,
// counted from the report's hourly rows).
type CampaignRow struct {
	ID          string   `json:"id"`
	Skill       string   `json:"skill"`
	Currency    string   `json:"currency"`
	Budget      float64  `json:"daily_budget"` // 0 = unlimited
	Spend       float64  `json:"spend_today"`
	BudgetUsed  *float64 `json:"budget_used"` // spend/budget; null when unlimited
	Bids        int64    `json:"bids"`
	Wins        int64    `json:"wins"`
	Calls       int64    `json:"calls"`
	Qualified   int64    `json:"qualified_calls"`
	Sales       int64    `json:"sales"`
	CostPerCall *float64 `json:"cost_per_call"`
	CPA         *float64 `json:"cpa"`
}

// FeedRow is one consumer's age and lag.
type FeedRow struct {
	Topic      string   `json:"topic"`
	AgeSeconds *float64 `json:"age_seconds"` // null before the first record
	Lag        int64    `json:"lag"`
	CaughtUp   bool     `json:"caught_up"`
}

// Snapshot reads every source now.
func (p *Page) Snapshot() Snapshot {
	s := p.src
	now := s.Now()
	snap := Snapshot{Version: s.Version, Now: now, UptimeSeconds: now.Sub(s.Started).Seconds(),
		NotReady: []string{}, Warnings: []string{}, Skills: []SkillRow{}, Pools: []PoolRow{},
		Campaigns: []CampaignRow{}, Feeds: []FeedRow{}}
	if s.Ready != nil {
		ok, reasons := s.Ready()
		snap.Ready = ok
		snap.NotReady = append(snap.NotReady, reasons...)
	} else {
		snap.Ready = true
	}
	for _, h := range s.Health {
		if ok, why := h(); !ok {
			snap.Warnings = append(snap.Warnings, why)
		}
	}
	if s.Skills != nil {
		skills, stale := s.Skills()
		snap.CapacityStale = stale
		for _, k := range skills {
			r := SkillRow{Skill: k.Skill, Staffed: k.Staffed, Available: k.Available, Busy: k.Busy + k.ACW,
				Waiting: k.Waiting, LambdaMax: k.LambdaMaxPerMinute, Headroom: k.HeadroomPerMinute,
				Arrival: k.ArrivalPerMinute, Factor: k.FactorByMinProficiency[0], Pacing: 1}
			if s.Pacing != nil {
				r.Pacing, r.PacingStopped = s.Pacing(k.Skill)
			}
			if s.Committed != nil {
				r.Committed, r.Arriving = s.Committed(k.Skill)
			}
			if s.SkillExtra != nil {
				r.Extra = s.SkillExtra(k.Skill)
			}
			snap.Skills = append(snap.Skills, r)
		}
	}
	if s.Pools != nil {
		for _, ps := range s.Pools().Pools {
			r := PoolRow{ID: ps.ID, Size: ps.Size, Utilization: ps.Utilization, Target: ps.TargetUtilization,
				AboveTarget: ps.Utilization > ps.TargetUtilization, ExhaustionNoBids: ps.ExhaustionNoBids,
				NeededSize: ps.NeededSize, NeededSizeObserved: ps.NeededSizeObserved}
			if r.AboveTarget {
				snap.Warnings = append(snap.Warnings, "pool "+ps.ID+" is above its target utilization: grow it towards needed_size_observed")
			}
			snap.Pools = append(snap.Pools, r)
		}
	}
	snap.Campaigns = p.campaigns(now)
	if s.Feeds != nil {
		for _, f := range s.Feeds() {
			r := FeedRow{Topic: f.Topic, Lag: f.Lag, CaughtUp: f.CaughtUp}
			if !f.LastMessage.IsZero() {
				age := now.Sub(f.LastMessage).Seconds()
				r.AgeSeconds = &age
			}
			snap.Feeds = append(snap.Feeds, r)
		}
		slices.SortFunc(snap.Feeds, func(a, b FeedRow) int { return cmp.Compare(a.Topic, b.Topic) })
	}
	p.mu.Lock()
	snap.History = p.ring.history(now)
	p.mu.Unlock()
	return snap
}

// campaigns joins the configured campaigns with today's report rows.
func (p *Page) campaigns(now time.Time) []CampaignRow {
	s := p.src
	out := []CampaignRow{}
	if s.Campaigns == nil {
		return out
	}
	rows := map[string]reports.Row{}
	if s.Report != nil {
		y, m, d := now.In(s.Location()).Date()
		today := time.Date(y, m, d, 0, 0, 0, 0, s.Location())
		if rep, err := s.Report(reports.Query{From: today, GroupBy: "campaign"}); err == nil {
			for _, r := range rep.Rows {
				rows[r.Key] = r
			}
		}
	}
	for _, c := range s.Campaigns() {
		r := rows[c.ID]
		row := CampaignRow{ID: c.ID, Skill: c.Skill, Currency: c.Currency, Budget: c.DailyBudget, Spend: r.Spend,
			Bids: r.Bids, Wins: r.Wins, Calls: r.Calls, Qualified: r.QualifiedCalls, Sales: r.Sales,
			CostPerCall: r.CostPerCall, CPA: r.CPA}
		if c.DailyBudget > 0 {
			u := r.Spend / c.DailyBudget
			row.BudgetUsed = &u
		}
		out = append(out, row)
	}
	return out
}
