package reports

import (
	"sort"
	"time"

	"github.com/callbid/callbid/channel"
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

// bucketWin is the wins of one skill × channel in one winBucket, with the
// contacts they are expected to bring.
type bucketWin struct {
	start    int64 // unix nanoseconds, a multiple of winBucket
	contacts float64
}

type projState struct {
	delay func(skill string) forecast.CDF
	wins  map[forecast.Key][]bucketWin // per skill × channel, ascending by start
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

// projWinLocked keeps a win of skill × channel at `at`, expected to bring
// contacts.
func (f *Reports) projWinLocked(k forecast.Key, at time.Time, contacts float64) {
	if f.proj.delay == nil || !(contacts > 0) || at.Before(f.clock().Add(-winHorizon)) {
		return // an old win replayed at start brings no more contacts
	}
	if f.proj.wins == nil {
		f.proj.wins = map[forecast.Key][]bucketWin{}
	}
	start := at.UnixNano() - at.UnixNano()%int64(winBucket)
	ws := f.proj.wins[k]
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
	f.proj.wins[k] = ws
}

// projectLocked returns skill's projection for the projectIntervals demand
// intervals from `from`, the interval just closed being a (its wins and
// the contacts they bring, per channel); nil without a learned delay. The
// first projectIntervals entries are the skill's total (no channel, as
// before channels), then projectIntervals for each channel with contacts
// in flight or won in the interval, in channel order. Every channel uses
// the skill's learned delay. It drops the wins older than winHorizon.
func (f *Reports) projectLocked(skill string, from time.Time, a *demandAcc) []events.Projected {
	if f.proj.delay == nil {
		return nil
	}
	cut := f.clock().Add(-winHorizon).UnixNano()
	var keys []forecast.Key
	var wins []forecast.Win
	for ch := range channel.Count {
		k := forecast.Key{Skill: skill, Channel: channel.Channel(ch)}
		ws := f.proj.wins[k]
		drop := sort.Search(len(ws), func(i int) bool { return ws[i].start >= cut })
		if drop > 0 {
			ws = append(ws[:0], ws[drop:]...)
			f.proj.wins[k] = ws
		}
		if len(ws) == 0 && a.chWins[ch] == 0 {
			continue
		}
		keys = append(keys, k)
		for _, w := range ws {
			wins = append(wins, forecast.Win{Key: k, At: time.Unix(0, w.start+int64(winBucket)/2), Contacts: w.contacts})
		}
	}
	cdf := f.proj.delay(skill)
	if cdf == nil {
		return nil
	}
	in := forecast.Input{Delay: cdf, From: from, Interval: f.cfg.DemandInterval, N: projectIntervals, Wins: wins}
	for _, k := range keys {
		if n := a.chWins[k.Channel]; n > 0 {
			in.Rates = append(in.Rates, forecast.Rate{Key: k, WinsPerMin: float64(n) / f.cfg.DemandInterval.Minutes(),
				Contacts: a.chCalls[k.Channel] / float64(n)})
		}
	}
	rows := forecast.Project(in)
	out := make([]events.Projected, projectIntervals, projectIntervals*(1+len(keys)))
	entry := func(i int) events.Projected {
		s := from.Add(time.Duration(i) * f.cfg.DemandInterval)
		return events.Projected{IntervalStart: s.UTC(), IntervalEnd: s.Add(f.cfg.DemandInterval).UTC()}
	}
	for i := range out {
		out[i] = entry(i)
	}
	for _, k := range keys {
		row := rows[k]
		for i := range projectIntervals {
			e := entry(i)
			e.Channel = k.Channel.String()
			if row != nil {
				e.Calls = row[i]
				out[i].Calls += row[i]
			}
			out = append(out, e)
		}
	}
	return out
}
