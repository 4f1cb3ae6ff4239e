package status

import (
	"context"
	"math"
	"slices"
	"time"
)

// sample is one point of every charted series.
type sample struct {
	at         time.Time
	headroom   map[string]float64 // by skill
	available  map[string]float64 // by skill
	util       map[string]float64 // by pool, 0–1
	bids, wins int64              // cumulative
	counters   bool               // bids/wins were read
}

// ring holds the last hour of samples, oldest overwritten first.
type ring struct {
	interval time.Duration
	buf      []sample
	next, n  int
}

func (r *ring) add(s sample) {
	r.buf[r.next] = s
	r.next = (r.next + 1) % len(r.buf)
	r.n = min(r.n+1, len(r.buf))
}

// ordered returns the samples younger than HistoryLength, oldest first.
func (r *ring) ordered(now time.Time) []sample {
	out := make([]sample, 0, r.n)
	for i := range r.n {
		s := r.buf[(r.next-r.n+i+len(r.buf))%len(r.buf)]
		if now.Sub(s.at) <= HistoryLength {
			out = append(out, s)
		}
	}
	return out
}

// History is the charted last hour: one value per sample time for each
// series (null where the series had no value, e.g. a skill not yet seen).
type History struct {
	IntervalSeconds float64   `json:"interval_seconds"`
	Times           []int64   `json:"times"` // unix seconds
	Series          []*Series `json:"series"`
}

// Series is one line of one chart.
type Series struct {
	Chart  string     `json:"chart"` // headroom, available, utilization, bids, wins
	Name   string     `json:"name"`  // skill or pool id; "all" for totals
	Values []*float64 `json:"values"`
}

// Chart names, in the order the page draws them.
var charts = []struct{ key, title, unit string }{
	{"headroom", "Headroom by skill", "calls/min"},
	{"available", "Available agents by skill", "agents"},
	{"utilization", "Pool utilization", "%"},
	{"rates", "Bids and wins", "per min"},
}

func (r *ring) history(now time.Time) History {
	ss := r.ordered(now)
	h := History{IntervalSeconds: r.interval.Seconds(), Times: make([]int64, len(ss)), Series: []*Series{}}
	index := map[[2]string]*Series{}
	get := func(chart, name string) *Series {
		k := [2]string{chart, name}
		if s, ok := index[k]; ok {
			return s
		}
		s := &Series{Chart: chart, Name: name, Values: make([]*float64, len(ss))}
		index[k] = s
		h.Series = append(h.Series, s)
		return s
	}
	put := func(chart, name string, i int, v float64) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return
		}
		get(chart, name).Values[i] = &v
	}
	for i, s := range ss {
		h.Times[i] = s.at.Unix()
		for k, v := range s.headroom {
			put("headroom", k, i, v)
		}
		for k, v := range s.available {
			put("available", k, i, v)
		}
		for k, v := range s.util {
			put("utilization", k, i, 100*v)
		}
		if i > 0 && s.counters && ss[i-1].counters {
			if dt := s.at.Sub(ss[i-1].at).Minutes(); dt > 0 {
				put("rates", "bids", i, float64(s.bids-ss[i-1].bids)/dt)
				put("rates", "wins", i, float64(s.wins-ss[i-1].wins)/dt)
			}
		}
	}
	order := map[string]int{}
	for i, c := range charts {
		order[c.key] = i
	}
	slices.SortStableFunc(h.Series, func(a, b *Series) int {
		if d := order[a.Chart] - order[b.Chart]; d != 0 {
			return d
		}
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return h
}

// Sample records one point of every charted series at now. Run calls it
// every interval; tests call it with their own clock.
func (p *Page) Sample(now time.Time) {
	s := sample{at: now, headroom: map[string]float64{}, available: map[string]float64{}, util: map[string]float64{}}
	if p.src.Skills != nil {
		skills, _ := p.src.Skills()
		for _, k := range skills {
			s.headroom[k.Skill] = k.HeadroomPerMinute
			s.available[k.Skill] = float64(k.Available)
		}
	}
	if p.src.Pools != nil {
		for _, ps := range p.src.Pools().Pools {
			s.util[ps.ID] = ps.Utilization
		}
	}
	if p.src.Counters != nil {
		s.bids, s.wins = p.src.Counters()
		s.counters = true
	}
	p.mu.Lock()
	p.ring.add(s)
	p.mu.Unlock()
}

// Run samples at once and then every interval until ctx is done. Start it
// once, in its own goroutine.
func (p *Page) Run(ctx context.Context) {
	p.Sample(p.src.Now())
	t := time.NewTicker(p.ring.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.Sample(p.src.Now())
		}
	}
}
