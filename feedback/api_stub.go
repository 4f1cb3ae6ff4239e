package feedback

// This file fixes the signatures other packages code against. The feedback
// helper replaces the bodies (and may move them); the signatures stay.

import (
	"context"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"
)

// Publisher sends an event to a Kafka topic without blocking (*events.Producer).
type Publisher interface {
	Publish(topic string, key, value []byte) bool
}

// Headroom is the capacity model's view that pacing steers by (*capacity.Model).
type Headroom interface {
	Headroom(skill string) (callsPerMin float64, waitingTooLong bool)
}

// Config is the feedback section of the config file (yaml key "feedback").
type Config struct{}

// Validate reports every problem with its field path relative to "feedback".
func (c *Config) Validate() error { return nil }

// Campaign is what feedback needs to know of a campaign (built from the
// campaign config by the root wiring).
type Campaign struct {
	ID            string
	Skill         string
	PriorCallRate float64 // expected qualified calls per won impression
	PriorClose    float64 // expected sales per qualified call
	ValuePerCall  int64   // micro-units; 0 for base-CPM campaigns
}

// Feedback learns hit rates, paces to capacity and serves reports.
type Feedback struct{}

// New builds feedback state.
func New(cfg Config, campaigns []Campaign, headroom Headroom, pub Publisher, log zerolog.Logger) *Feedback {
	return &Feedback{}
}

// HitRate is the bid-path factor for a publisher: its smoothed call rate over
// the campaign's prior (1 for a new publisher). ≤ 50 ns, 0 allocations.
func (f *Feedback) HitRate(campaignID, publisherID string) float64 { return 1 }

// Pacing is the bid-path pacing multiplier for a skill (1/(1+μ)); stop is the
// hard stop when calls wait longer than the service-level target.
func (f *Feedback) Pacing(skill string) (multiplier float64, stop bool) { return 1, false }

// Allowed is the bid-path invalid-traffic check on hashed device ip and ifa.
func (f *Feedback) Allowed(ipHash, ifaHash uint64) bool { return true }

// RecordSeen counts a bid request that matched a campaign of skill. Never blocks.
func (f *Feedback) RecordSeen(skill, exchange string, now time.Time) {}

// RecordBid counts a bid. It copies publisherID. Never blocks.
func (f *Feedback) RecordBid(campaignID, skill, publisherID, exchange string, priceMicros int64, now time.Time) {}

// CommittedCalls implements capacity.Commitments.
func (f *Feedback) CommittedCalls(skill string) float64 { return 0 }

// HandleImpression applies one callbid.impressions.v1 record.
func (f *Feedback) HandleImpression(msg events.Message) {}

// HandleAttribution applies one callbid.attribution.v1 record.
func (f *Feedback) HandleAttribution(msg events.Message) {}

// HandleCall applies one cc.call.v1 record.
func (f *Feedback) HandleCall(msg events.Message) {}

// HandleOutcome applies one cc.outcome.v1 record.
func (f *Feedback) HandleOutcome(msg events.Message) {}

// SetCampaigns replaces the campaign set on config reload.
func (f *Feedback) SetCampaigns(c []Campaign) {}

// HandleReport serves GET /v1/report on the admin listener.
func (f *Feedback) HandleReport(ctx *fasthttp.RequestCtx) {}

// Ready reports whether the feedback feeds are fresh; reason says why not.
func (f *Feedback) Ready() (ok bool, reason string) { return true, "" }

// Run drives pacing, the demand feed and snapshot publishing until ctx is done.
func (f *Feedback) Run(ctx context.Context) {}
