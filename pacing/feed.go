package pacing

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Bid is the feed's aggregator's part of a recorded bid: exchange evidence
// (a bid, resolved after the notice window) and the skill's held bids
// (cost expected calls, as Charge returned).
func (p *Pacer) Bid(exchange, skill string, atNano int64, cost float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bidFoldLocked(exchange, skill, atNano, 1, cost)
}

// Win counts a won impression of skill at time at that is expected to
// bring callsPerWin calls: they are in flight until they arrive, and the
// exchange has one more win. own is true for this process's own wins (the
// in-process tee): only those settle its held bids, and other instances'
// wins too once their bids are counted (others.go).
func (p *Pacer) Win(skill, exchange string, at, now time.Time, callsPerWin float64, own bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.winFoldLocked(exchange, at)
	if skill == "" {
		return
	}
	pend := p.skillPend[skill]
	if pend == nil {
		pend = map[int64]float64{}
		p.skillPend[skill] = pend
	}
	if now.Sub(at) > p.cfg.TimeToCallMax {
		return
	}
	pend[at.Unix()/pendBucket] += callsPerWin
	if g := p.gateMap[skill]; g != nil && (own || p.others) && now.Sub(at) < p.cfg.Participation.NoticeWindow {
		g.wonByS[at.Unix()] += callsPerWin
	}
}

// Arrived counts an attributed call of skill that started at started: the
// bought calls arriving now, and slow start's check against predictions.
func (p *Pacer) Arrived(skill string, started time.Time) {
	if skill == "" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.arrivals[skill]
	if e == nil {
		if len(p.arrivals) >= maxSkills {
			return
		}
		e = &ewmaRate{}
		p.arrivals[skill] = e
	}
	e.add(unixS(started), p.cfg.Pacing.ArrivalWindow.Seconds())
	p.observeArrivalLocked(skill, started)
}

// maxSkills bounds the skills pacing keeps arrivals for (a hostile feed's
// skill names cannot grow it).
const maxSkills = 1000

// RegisterMetrics registers the pacing and participation metrics (names
// kept from before the split: callbid_feedback_pacing_*,
// callbid_participation_*, callbid_calls_*).
func (p *Pacer) RegisterMetrics(reg prometheus.Registerer) error {
	cs := []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "callbid_feedback_pacing_hard_stops_total",
			Help: "Pacing ticks with a skill in hard stop."}, func() float64 { return float64(p.hardStops.Load()) }),
		&paceCollector{p: p,
			mult: prometheus.NewDesc("callbid_feedback_pacing_multiplier", "Bid multiplier 1/(1+μ) per skill.", []string{"skill"}, nil),
			comm: prometheus.NewDesc("callbid_feedback_committed_calls_per_minute", "Calls bought but not yet arrived, as the arrival rate they will produce, per skill.", []string{"skill"}, nil),
			arr:  prometheus.NewDesc("callbid_feedback_arriving_calls_per_minute", "Bought (attributed) calls arriving now, moving average, per skill.", []string{"skill"}, nil),
			ext:  prometheus.NewDesc("callbid_feedback_commitments_per_minute", "CommittedCalls as given to capacity: committed above arriving, per skill.", []string{"skill"}, nil),
			stop: prometheus.NewDesc("callbid_feedback_pacing_stop", "1 when the skill is in hard stop.", []string{"skill"}, nil),
		},
		newPartCollector(p),
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("cannot register the pacing metrics: %w", err)
		}
	}
	return nil
}

// paceCollector reads the pacing snapshot at scrape time (skills change on reload).
type paceCollector struct {
	p                          *Pacer
	mult, comm, stop, arr, ext *prometheus.Desc
}

func (c *paceCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.mult, c.comm, c.stop, c.arr, c.ext} {
		ch <- d
	}
}

func (c *paceCollector) Collect(ch chan<- prometheus.Metric) {
	ps := c.p.pacer.Load()
	for s, v := range ps.skills {
		ch <- prometheus.MustNewConstMetric(c.mult, prometheus.GaugeValue, v.mult, s)
		st := 0.0
		if v.stop {
			st = 1
		}
		ch <- prometheus.MustNewConstMetric(c.stop, prometheus.GaugeValue, st, s)
	}
	for s, v := range ps.committed {
		ch <- prometheus.MustNewConstMetric(c.comm, prometheus.GaugeValue, v, s)
		ch <- prometheus.MustNewConstMetric(c.arr, prometheus.GaugeValue, ps.arriving[s], s)
		ch <- prometheus.MustNewConstMetric(c.ext, prometheus.GaugeValue, ps.extra[s], s)
	}
}
