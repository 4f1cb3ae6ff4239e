package openrtb

import (
	"testing"
	"time"
)

func TestDeadline(t *testing.T) {
	ms := time.Millisecond
	cases := []struct {
		tmax                 int64
		allow, fallback, max time.Duration
		want                 time.Duration
	}{
		{120, 20 * ms, 80 * ms, 0, 100 * ms},
		{120, 20 * ms, 80 * ms, 50 * ms, 50 * ms},
		{0, 20 * ms, 80 * ms, 0, 80 * ms},
		{0, 20 * ms, 80 * ms, 50 * ms, 50 * ms},
		{-3, 20 * ms, 80 * ms, 0, 80 * ms},
		{15, 20 * ms, 80 * ms, 50 * ms, 0},
		{20, 20 * ms, 80 * ms, 50 * ms, 0},
		{1 << 62, 20 * ms, 80 * ms, 0, time.Duration(1<<62)/ms*ms - 20*ms},
	}
	for _, c := range cases {
		if got := Deadline(c.tmax, c.allow, c.fallback, c.max); got != c.want {
			t.Errorf("Deadline(%d, %v, %v, %v) = %v, want %v", c.tmax, c.allow, c.fallback, c.max, got, c.want)
		}
	}
}
