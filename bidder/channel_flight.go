package bidder

import (
	"math"
	"sync/atomic"
	"time"
)

// A chat, sms or callback channel has no pacing of its own: voice pacing
// steers calls against the voice agents, and the channel's headroom
// (capacity.Channels) counts the sessions open, not those that the
// impressions just bought will open. Left at that, a bidder answering
// thousands of requests a second while three sessions are free would buy
// hundreds of chats before the first one opens. The flight counts the
// contacts the channel's bids of the last flightWindow may bring — each
// bid P(win) × contacts per win — and the channel bids only while they are
// fewer than its free sessions or slots. A minute covers a chat opened from
// a banner (seconds after the click); contacts that come later are counted
// by the channel's open sessions once they start.
const (
	flightWindow  = time.Minute
	flightBuckets = 60 // one a second
	flightUnit    = 1e6
)

// defaultContactRate is the contacts per win assumed for a campaign
// without expected_call_rate (hitrate's default_prior_call_rate default).
const defaultContactRate = 0.01

// flight is a sliding minute of expected contacts in one-second buckets;
// the bid path adds and reads it with atomics (no lock, no allocation). A
// bucket is reset by the first add of a new second; an add racing that
// reset may be lost, which only undercounts one bid.
type flight struct {
	sec [flightBuckets]atomic.Int64 // the unix second each bucket holds
	n   [flightBuckets]atomic.Int64 // its contacts, in 1e-6
}

func (f *flight) add(now time.Time, contacts float64) {
	if !(contacts > 0) {
		return
	}
	s := now.Unix()
	i := int(s % flightBuckets)
	if old := f.sec[i].Load(); old != s && f.sec[i].CompareAndSwap(old, s) {
		f.n[i].Store(0)
	}
	f.n[i].Add(int64(math.Ceil(contacts * flightUnit)))
}

// contacts is the sum over the last flightWindow.
func (f *flight) contacts(now time.Time) float64 {
	s := now.Unix()
	var sum int64
	for i := range f.n {
		if d := s - f.sec[i].Load(); d >= 0 && d < flightBuckets {
			sum += f.n[i].Load()
		}
	}
	return float64(sum) / flightUnit
}
