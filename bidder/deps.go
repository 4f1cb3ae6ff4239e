package bidder

import (
	"time"

	"github.com/callbid/callbid/capacity"
	"github.com/callbid/callbid/numbers"
)

// Reserver reserves tracking numbers and moves them on notices (*numbers.Pools).
type Reserver interface {
	PoolIndex(id string) (int, bool)
	Reserve(idx int, c *numbers.Claim, now time.Time) (numbers.Reservation, bool)
	Win(ref numbers.Ref, billed bool, now time.Time) numbers.WinResult
	Loss(ref numbers.Ref, now time.Time)
}

// Capacity is the live skilled-agent view (*capacity.Model).
type Capacity interface {
	View(skill string, minProficiency, premiumProficiency float64) capacity.View
}

// Feedback is the learned hit rate, pacing and traffic-quality view plus the
// non-blocking bid counters (*feedback.Feedback).
type Feedback interface {
	HitRate(campaignID, publisherID string) float64
	Pacing(skill string) (multiplier float64, stop bool)
	Allowed(ipHash, ifaHash uint64) bool
	// AllowedIP checks the raw device ip against the blocked ranges.
	AllowedIP(ip string) bool
	RecordSeen(skill, exchange string, now time.Time)
	RecordBid(campaignID, skill, publisherID, exchange string, priceMicros int64, now time.Time)
}

// Participation is the per-skill volume control (*feedback.Feedback):
// Admit is false when another bid would buy more calls than the skill's
// agents can take, whatever the price. The bid's expected calls are charged
// when it is recorded (Feedback.RecordBid).
type Participation interface {
	Admit(skill string) bool
}

// Publisher sends events to Kafka without blocking (*events.Producer).
type Publisher interface {
	Publish(topic string, key, value []byte) bool
}
