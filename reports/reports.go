package reports

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Config is the reports part of the feedback section (yaml keys
// feedback.report_retention and feedback.demand_interval).
type Config struct {
	// ReportRetention is how long hourly report rows are kept. Default 720h.
	ReportRetention time.Duration `yaml:"report_retention"`
	// DemandInterval is the period of the callbid.demand.v1 feed. Default 15m.
	DemandInterval time.Duration `yaml:"demand_interval"`
}

// SetDefaults fills zero fields.
func (c *Config) SetDefaults() {
	if c.ReportRetention == 0 {
		c.ReportRetention = 720 * time.Hour
	}
	if c.DemandInterval == 0 {
		c.DemandInterval = 15 * time.Minute
	}
}

// Validate reports every problem with its field path relative to the section.
func (c *Config) Validate() error {
	var errs []error
	if c.ReportRetention < 0 {
		errs = append(errs, fmt.Errorf("report_retention: %s must not be negative", c.ReportRetention))
	}
	if c.DemandInterval < 0 {
		errs = append(errs, fmt.Errorf("demand_interval: %s must not be negative", c.DemandInterval))
	}
	return errors.Join(errs...)
}

// Publisher sends an event to a Kafka topic without blocking (*kafkaio.Producer).
type Publisher interface {
	Publish(topic string, key, value []byte) bool
}

// Pacing is what the demand feed reports of each skill's pacing
// (*feedback.Feedback, the pacing owner).
type Pacing interface {
	Pacing(skill string) (multiplier float64, stop bool)
	Committed(skill string) (committed, arriving float64)
}

// Reports keeps the hourly report rows, the bid tally it publishes to
// callbid.bids.v1 and the demand feed (see doc.go).
type Reports struct {
	cfg     Config
	pub     Publisher
	pace    Pacing
	log     zerolog.Logger
	clock   func() time.Time
	dropped func() int64 // bid-path counts the feed's queue dropped
	started time.Time

	seen, bids        atomic.Int64
	publishDropped    atomic.Int64
	badJSON, badValue atomic.Int64
	lastSweep         time.Time

	mu       sync.Mutex
	rows     map[Key]*counts
	currency string
	skills   []string // sorted
	demand   demandState
	proj     projState
	tally    tallyState
	intern   map[string]string
}

// New builds the reports; cfg gets its defaults and must pass Validate.
// pace may be nil (the demand feed then shows multiplier 1).
func New(cfg Config, pub Publisher, pace Pacing, log zerolog.Logger) (*Reports, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Reports{cfg: cfg, pub: pub, pace: pace, log: log, clock: time.Now, started: time.Now(),
		rows: map[Key]*counts{}, tally: newTallyState(), intern: map[string]string{}}, nil
}

// SetClock replaces the clock (tests; call before use).
func (f *Reports) SetClock(c func() time.Time) { f.clock = c }

// CountDropped gives the count of bid-path records the feed dropped, shown
// in the report and the demand feed.
func (f *Reports) CountDropped(dropped func() int64) { f.dropped = dropped }

// SetSkills sets the campaigns' skills: the demand feed reports each every
// interval, with or without bids.
func (f *Reports) SetSkills(skills []string) {
	s := append([]string(nil), skills...)
	sort.Strings(s)
	f.mu.Lock()
	f.skills = s
	f.mu.Unlock()
}

// Totals are the bids and matching requests counted so far (this process's
// and those replayed from callbid.bids.v1).
func (f *Reports) Totals() (seen, bids int64) { return f.seen.Load(), f.bids.Load() }

// Malformed counts callbid.bids.v1 records skipped, by reason.
func (f *Reports) Malformed() map[string]int64 {
	out := map[string]int64{}
	if v := f.badJSON.Load(); v != 0 {
		out["bad_json"] = v
	}
	if v := f.badValue.Load(); v != 0 {
		out["negative_value"] = v
	}
	return out
}

// Tick closes the demand interval when it is over (publishing its events)
// and expires old rows; the feed calls it every pacing tick.
func (f *Reports) Tick(now time.Time) {
	f.mu.Lock()
	if d := now.Sub(f.lastSweep); d >= time.Minute || d < 0 {
		cut := now.Add(-f.cfg.ReportRetention).Unix() / 3600
		for k := range f.rows {
			if k.Hour < cut {
				delete(f.rows, k)
			}
		}
		if len(f.intern) > 200_000 {
			f.intern = make(map[string]string)
		}
		f.lastSweep = now
	}
	msgs := f.demandLocked(now)
	f.mu.Unlock()
	for _, m := range msgs {
		if f.pub != nil && !f.pub.Publish(events.TopicDemand, m.key, m.value) {
			f.publishDropped.Add(1)
		}
	}
}

func (f *Reports) droppedNow() int64 {
	if f.dropped == nil {
		return 0
	}
	return f.dropped()
}

// internLocked returns a shared copy of s, so long-lived keys do not pin
// message buffers and repeated ids share memory.
func (f *Reports) internLocked(s string) string {
	if v, ok := f.intern[s]; ok {
		return v
	}
	f.intern[s] = s
	return s
}

// RegisterMetrics registers the counters reports owns, under the names they
// had in the feedback package (dashboards keep working).
func (f *Reports) RegisterMetrics(reg prometheus.Registerer) error {
	cf := func(name, help string, labels prometheus.Labels, v *atomic.Int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels},
			func() float64 { return float64(v.Load()) })
	}
	bad := func(reason string) prometheus.Labels {
		return prometheus.Labels{"topic": events.TopicBids, "reason": reason}
	}
	for _, c := range []prometheus.Collector{
		cf("callbid_feedback_requests_seen_total", "Bid requests that matched a campaign (RecordSeen).", nil, &f.seen),
		cf("callbid_feedback_bids_total", "Bids counted (RecordBid).", nil, &f.bids),
		cf("callbid_reports_publish_dropped_total", "Bid tallies and demand events the producer refused.", nil, &f.publishDropped),
		cf("callbid_feedback_malformed_events_total", "Events skipped because they were malformed, by topic and reason.", bad("bad_json"), &f.badJSON),
		cf("callbid_feedback_malformed_events_total", "Events skipped because they were malformed, by topic and reason.", bad("negative_value"), &f.badValue),
	} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("cannot register the report metrics: %w", err)
		}
	}
	return nil
}
