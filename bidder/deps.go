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
	// Win leases on a win notice; WinStale asks for Restore.
	Win(ref numbers.Ref, billed bool, now time.Time) numbers.WinResult
	// Bill is Win for a billing notice; first is false when the reservation
	// was billed before (also across a restart).
	Bill(ref numbers.Ref, now time.Time) (r numbers.WinResult, first bool)
	// Restore re-creates a reservation of an earlier process that the pool
	// lost, from what the notice token says, and leases it when that is safe.
	Restore(ref numbers.Ref, c *numbers.Claim, reservedAt time.Time, billed bool, now time.Time) (r numbers.WinResult, first bool)
	// AwaitLease returns once the reservation's lease record is durable in
	// Kafka, or an error after numbers.durable_timeout.
	AwaitLease(ref numbers.Ref) error
	// Replaying is true until the lease log is read back after a start; win
	// and billing notices are answered 503 meanwhile.
	Replaying() bool
	Loss(ref numbers.Ref, now time.Time)
}

// Capacity is the live skilled-agent view (*capacity.Model).
type Capacity interface {
	View(skill string, minProficiency, premiumProficiency float64) capacity.View
}

// HitRates is the learned per campaign × publisher call-rate factor
// (*hitrate.HitRates).
type HitRates interface {
	HitRate(campaignID, publisherID string) float64
}

// Pacer is the per-skill price multiplier and hard stop (*pacing.Pacer).
type Pacer interface {
	Pacing(skill string) (multiplier float64, stop bool)
}

// TrafficFilter is the invalid-traffic check (*traffic.Filter).
type TrafficFilter interface {
	Allowed(ipHash, ifaHash uint64) bool
	// AllowedIP checks the raw device ip against the blocked ranges.
	AllowedIP(ip string) bool
}

// BidRecorder takes the bid path's non-blocking counts (*feedback.Feedback).
type BidRecorder interface {
	RecordSeen(skill, exchange string, now time.Time)
	// priceMicros is the bid; valueMicros the price the campaign's value
	// gave before shading (equal when the bid was not shaded), so reports
	// show the saving.
	RecordBid(campaignID, skill, publisherID, exchange string, priceMicros, valueMicros int64, now time.Time)
}

// Feedback is what the bid path reads of what happened after earlier bids:
// the small interfaces above, each implemented by the package that owns it
// and put together by the wiring (see FeedbackParts).
type Feedback interface {
	HitRates
	Pacer
	TrafficFilter
	BidRecorder
}

// FeedbackParts puts the owners of the Feedback interfaces together.
type FeedbackParts struct {
	HitRates
	Pacer
	TrafficFilter
	BidRecorder
}

// Participation is the per-skill volume control (*pacing.Pacer):
// Admit is false when another bid would buy more calls than the skill's
// agents can take, whatever the price. The bid's expected calls are charged
// when it is recorded (BidRecorder.RecordBid, which charges pacing.Pacer.Charge).
type Participation interface {
	Admit(skill string) bool
}

// Publisher sends events to Kafka without blocking (*kafkaio.Producer).
type Publisher interface {
	Publish(topic string, key, value []byte) bool
}
