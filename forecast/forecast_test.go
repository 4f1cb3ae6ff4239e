package forecast

import (
	"math"
	"testing"
	"time"

	"github.com/callbid/callbid/channel"
)

var t0 = time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)

func TestEmpiricalCDF(t *testing.T) {
	f := EmpiricalCDF([]time.Duration{3 * time.Minute, time.Minute, 2 * time.Minute, 4 * time.Minute})
	for d, want := range map[time.Duration]float64{-time.Second: 0, 0: 0, time.Minute: 0.25, 150 * time.Second: 0.5, time.Hour: 1} {
		if got := f(d); got != want {
			t.Errorf("F(%v) = %v, want %v", d, got, want)
		}
	}
}

func TestProjectOneWin(t *testing.T) {
	k := Key{"mortgage", channel.Chat}
	got := Project(Input{Wins: []Win{{Key: k, At: t0, Contacts: 0.5}},
		Delay: EmpiricalCDF([]time.Duration{time.Minute, 6 * time.Minute}), From: t0, Interval: 5 * time.Minute, N: 2})
	if r := got[k]; len(r) != 2 || r[0] != 0.25 || r[1] != 0.25 {
		t.Fatalf("projection %v, want [0.25 0.25]", r)
	}
	if len(Project(Input{N: 0})) != 0 {
		t.Fatal("no intervals projected something")
	}
}

// The acceptance check with an independent model: a campaign wins one
// impression every 20 s; 4 of 5 wins bring a call, 4 to 6 minutes later
// (a deterministic spread). At +30m the projection for the next 10
// minutes — from the wins so far, the current pace and the delays seen in
// the first 20 minutes — is within 20% of the calls that then arrive.
func TestProjectionMatchesArrivals(t *testing.T) {
	k := Key{"mortgage", channel.Voice}
	type call struct{ won, at time.Time }
	var wins []Win
	var calls []call
	for i := range 180 { // one hour
		at := t0.Add(time.Duration(i) * 20 * time.Second)
		wins = append(wins, Win{Key: k, At: at, Contacts: 0.8})
		if i%5 != 4 {
			delay := 4*time.Minute + time.Duration(i*53%120)*time.Second
			calls = append(calls, call{won: at, at: at.Add(delay)})
		}
	}
	now := t0.Add(30 * time.Minute)
	var seen []time.Duration // delays of calls arrived in the first 20 minutes
	arrivedIn := func(a, b time.Time) int {
		n := 0
		for _, c := range calls {
			if !c.at.Before(a) && c.at.Before(b) {
				n++
			}
		}
		return n
	}
	for _, c := range calls {
		if c.at.Before(t0.Add(20 * time.Minute)) {
			seen = append(seen, c.at.Sub(c.won))
		}
	}
	var past []Win
	for _, w := range wins {
		if w.At.Before(now) {
			past = append(past, w)
		}
	}
	// The test's own pace: wins in the last 10 minutes, per minute; calls per win so far.
	pace := 0.0
	for _, w := range past {
		if w.At.After(now.Add(-10 * time.Minute)) {
			pace += 0.1
		}
	}
	got := Project(Input{Wins: past, Rates: []Rate{{Key: k, WinsPerMin: pace, Contacts: 0.8}},
		Delay: EmpiricalCDF(seen), From: now, Interval: 10 * time.Minute, N: 1})[k][0]
	want := float64(arrivedIn(now, now.Add(10*time.Minute)))
	t.Logf("projected %.1f calls for [+30m, +40m), %v arrived", got, want)
	if math.Abs(got-want) > 0.2*want {
		t.Errorf("projection %.1f, arrivals %v: off by more than 20%%", got, want)
	}
}
