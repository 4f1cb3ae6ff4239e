package openrtb

import "time"

// Deadline is the time callbid has to answer a request with tmax tmaxMS
// milliseconds: tmax minus the network allowance (tmax includes Internet
// latency both ways). When the request has no tmax (tmaxMS <= 0), fallback
// is used as is. The result is capped at max when max > 0. A result <= 0
// means there is no time to bid: the caller answers at once with
// openrtb3.NoBidInsufficientTime.
func Deadline(tmaxMS int64, allowance, fallback, max time.Duration) time.Duration {
	var d time.Duration
	if tmaxMS <= 0 {
		d = fallback
	} else {
		// Clamp before multiplying so an absurd tmax cannot overflow.
		const maxMS = int64(time.Duration(1<<62) / time.Millisecond)
		d = time.Duration(min(tmaxMS, maxMS))*time.Millisecond - allowance
	}
	if max > 0 && d > max {
		d = max
	}
	if d < 0 {
		d = 0
	}
	return d
}
