// Package forecast projects the contacts (calls, chats, texts, callbacks)
// that bidding will bring per skill × channel over the coming intervals,
// for callbid.demand.v1, so a workforce-management system can staff for
// them. It is arithmetic only: the caller (the demand feed) passes the
// impressions won whose contacts may still come, the rate at which it is
// winning now (from the matching requests seen and the win rate), and the
// distribution of the delay from win to contact it has learned.
//
// For a win at t with c expected contacts, the contacts expected in
// [a, b) are c·(F(b−t) − F(a−t)), F the delay's CDF. Wins still to come
// at w per minute from `from` on add ∫ w·c·(F(b−u) − F(a−u)) du over
// u ∈ [from, b), summed in 10-second steps. A win's contacts that have
// already come are not subtracted: the projection is an expectation from
// the win, which is what a workforce plan staffs for.
//
// Goroutines: none; Project is a pure function.
package forecast

import (
	"slices"
	"time"

	"github.com/callbid/callbid/channel"
)

// CDF is P(delay ≤ d) for a contact that comes: 0 for d < 0, rising to 1.
type CDF func(d time.Duration) float64

// Key names one projected series.
type Key struct {
	Skill   string
	Channel channel.Channel
}

// Win is one impression won, with the contacts it is expected to bring
// (the campaign's call rate per win, learned).
type Win struct {
	Key
	At       time.Time
	Contacts float64
}

// Rate is the pace of winning now: wins per minute and contacts per win,
// assumed to hold over the projected intervals.
type Rate struct {
	Key
	WinsPerMin float64
	Contacts   float64
}

// Input is what Project needs.
type Input struct {
	Wins     []Win
	Rates    []Rate
	Delay    CDF
	From     time.Time
	Interval time.Duration
	N        int // intervals
}

// step is the integration step for wins still to come.
const step = 10 * time.Second

// Project returns, per key, the contacts expected in each of the N
// intervals [From + i·Interval, From + (i+1)·Interval).
func Project(in Input) map[Key][]float64 {
	out := map[Key][]float64{}
	if in.N <= 0 || in.Interval <= 0 || in.Delay == nil {
		return out
	}
	row := func(k Key) []float64 {
		r := out[k]
		if r == nil {
			r = make([]float64, in.N)
			out[k] = r
		}
		return r
	}
	add := func(r []float64, at time.Time, c float64) {
		for i := range r {
			a := in.From.Add(time.Duration(i) * in.Interval)
			b := a.Add(in.Interval)
			r[i] += c * (in.Delay(b.Sub(at)) - in.Delay(a.Sub(at)))
		}
	}
	for _, w := range in.Wins {
		add(row(w.Key), w.At, w.Contacts)
	}
	end := in.From.Add(time.Duration(in.N) * in.Interval)
	for _, rt := range in.Rates {
		if !(rt.WinsPerMin > 0) {
			continue
		}
		r := row(rt.Key)
		perStep := rt.WinsPerMin * step.Minutes() * rt.Contacts
		for u := in.From.Add(step / 2); u.Before(end); u = u.Add(step) {
			add(r, u, perStep)
		}
	}
	return out
}

// EmpiricalCDF is the CDF of observed delays (for callers without a
// learned distribution, and tests).
func EmpiricalCDF(samples []time.Duration) CDF {
	s := slices.Clone(samples)
	slices.Sort(s)
	return func(d time.Duration) float64 {
		if len(s) == 0 {
			return 0
		}
		n, _ := slices.BinarySearchFunc(s, d, func(x, d time.Duration) int {
			if x <= d {
				return -1
			}
			return 1
		})
		return float64(n) / float64(len(s))
	}
}
