package reports

import (
	"sort"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/forecast"
	"github.com/callbid/callbid/hitrate"
)

// The projection of callbid.demand.v1: the contacts expected per skill over
// the next projectIntervals demand intervals, for workforce planning. It is
// forecast.Project over the wins still in flight (kept here, in buckets),
// the pace of winning in the interval just ended, and the delay from win to
// contact the hit-rate model has learned.
const (
	projectIntervals = 4
	winBucket        = 10 * time.Second
	// winHorizon is how long a win is kept as still in flight: the default
	// feedback.time_to_call.max, past which hitrate counts no call.
	winHorizon = 2 * time.Hour
)

// bucketWin is the wins of one skill in one winBucket, with the contacts
// they are expected to bring.
type bucketWin struct {
	start    int64 // unix nanoseconds, a multiple of winBucket
	contacts float64
}

type projState struct {
	delay func(skill string) forecast.CDF
	wins  map[string][]bucketWin // per skill, ascending by start
}

// SetDelays gives the demand feed the learned delay from win to contact per
// skill (a nil CDF: none learned yet), which turns its projection on. Call
// it before use; delay is called under the reports' lock and must not call
// back into it.
func (f *Reports) SetDelays(delay func(skill string) forecast.CDF) {
	f.mu.Lock()
	f.proj.delay = delay
	f.mu.Unlock()
}

// Arrivals is the hit-rate model as the projection reads it
// (*hitrate.HitRates).
type Arrivals interface {
	Arrival(skill string) *hitrate.Delay
}

// HitRateDelays adapts the hit-rate model's learned time to call for
// SetDelays.
func HitRateDelays(h Arrivals) func(skill string) forecast.CDF {
	return func(skill string) forecast.CDF {
		d := h.Arrival(skill)
		if d == nil {
			return nil
		}
		return func(x time.Duration) float64 { return d.At(x.Seconds()) }
	}
}

// projWinLocked keeps a win of skill at `at`, expected to bring contacts.
func (f *Reports) projWinLocked(skill string, at time.Time, contacts float64) {
	if f.proj.delay == nil || !(contacts > 0) || at.Before(f.clock().Add(-winHorizon)) {
		return // an old win replayed at start brings no more contacts
	}
	if f.proj.wins == nil {
		f.proj.wins = map[string][]bucketWin{}
	}
	start := at.UnixNano() - at.UnixNano()%int64(winBucket)
	ws := f.proj.wins[skill]
	if n := len(ws); n > 0 && ws[n-1].start == start {
		ws[n-1].contacts += contacts
		return
	}
	i := sort.Search(len(ws), func(i int) bool { return ws[i].start >= start })
	if i < len(ws) && ws[i].start == start {
		ws[i].contacts += contacts
		return
	}
	ws = append(ws, bucketWin{})
	copy(ws[i+1:], ws[i:])
	ws[i] = bucketWin{start: start, contacts: contacts}
	f.proj.wins[skill] = ws
}

// projectLocked returns skill's projection for the projectIntervals demand
// intervals from `from`, the interval just closed having won wins bringing
// contacts; nil without a learned delay. It drops the wins older than
// winHorizon.
func (f *Reports) projectLocked(skill string, from time.Time, wins int64, contacts float64) []events.Projected {
	if f.proj.delay == nil {
		return nil
	}
	ws := f.proj.wins[skill]
	cut := f.clock().Add(-winHorizon).UnixNano()
	drop := sort.Search(len(ws), func(i int) bool { return ws[i].start >= cut })
	ws = append(ws[:0], ws[drop:]...)
	if f.proj.wins != nil {
		f.proj.wins[skill] = ws
	}
	cdf := f.proj.delay(skill)
	if cdf == nil {
		return nil
	}
	k := forecast.Key{Skill: skill}
	in := forecast.Input{Delay: cdf, From: from, Interval: f.cfg.DemandInterval, N: projectIntervals,
		Wins: make([]forecast.Win, len(ws))}
	for i, w := range ws {
		in.Wins[i] = forecast.Win{Key: k, At: time.Unix(0, w.start+int64(winBucket)/2), Contacts: w.contacts}
	}
	if wins > 0 {
		in.Rates = []forecast.Rate{{Key: k, WinsPerMin: float64(wins) / f.cfg.DemandInterval.Minutes(), Contacts: contacts / float64(wins)}}
	}
	row := forecast.Project(in)[k]
	out := make([]events.Projected, projectIntervals)
	for i := range out {
		a := from.Add(time.Duration(i) * f.cfg.DemandInterval)
		out[i] = events.Projected{IntervalStart: a.UTC(), IntervalEnd: a.Add(f.cfg.DemandInterval).UTC()}
		if row != nil {
			out[i].Calls = row[i]
		}
	}
	return out
}
