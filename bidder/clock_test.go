package bidder

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestLocalClock: localClock agrees with In(loc).Hour(), .Weekday() and
// dayIndex, across DST changes and before 1970.
func TestLocalClock(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, name := range []string{"UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Chatham", "America/St_Johns"} {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Skipf("no time zone data for %s: %v", name, err)
		}
		check := func(at time.Time) {
			t.Helper()
			l := at.In(loc)
			h, w, d := localClock(at, loc)
			if h != l.Hour() || w != l.Weekday() || d != dayIndex(l) {
				t.Fatalf("%s %v: localClock = %d %v %d, want %d %v %d", name, at, h, w, d, l.Hour(), l.Weekday(), dayIndex(l))
			}
		}
		// Every quarter hour around this year's and last year's DST changes.
		for _, start := range []time.Time{time.Date(2026, 3, 7, 0, 0, 0, 0, time.UTC), time.Date(2025, 10, 24, 0, 0, 0, 0, time.UTC)} {
			for m := 0; m < 10*24*60; m += 15 {
				check(start.Add(time.Duration(m) * time.Minute))
			}
		}
		for range 20_000 {
			check(time.Unix(rng.Int64N(4e9)-1e9, rng.Int64N(1e9)))
		}
	}
}
