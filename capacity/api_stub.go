package capacity

// This file fixes the signatures other packages code against. The capacity
// helper replaces the bodies (and may move them); the signatures stay.

import (
	"context"

	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/openrtb"
	"github.com/rs/zerolog"
)

// Config is the capacity section of the config file (yaml key "capacity").
type Config struct{}

// Validate reports every problem with its field path relative to "capacity".
func (c *Config) Validate() error { return nil }

// Commitments reports calls already committed by won impressions that have
// not arrived yet, per skill, in calls per minute. The feedback package
// implements it; nil means zero.
type Commitments interface {
	CommittedCalls(skill string) float64
}

// View is what the bid path learns about one skill requirement.
type View struct {
	Factor      float64             // 0 at no headroom, rising with headroom
	PremiumFree bool                // an agent at or above the premium proficiency is available
	NoBid       openrtb.NoBidReason // NBRNoHeadroom or NBRCapacityStale when Factor is 0
}

// Model turns agent state and call events into per-skill headroom.
type Model struct{}

// New builds a model for the given skills (from the campaigns).
func New(cfg Config, skills []string, log zerolog.Logger) *Model { return &Model{} }

// View is the bid-path read: ≤ 50 ns, 0 allocations, never waits for Kafka.
func (m *Model) View(skill string, minProficiency, premiumProficiency float64) View {
	return View{Factor: 1}
}

// Headroom is the extra calls per minute the skill can take at the service
// level target; waitingTooLong is the hard-stop signal for pacing.
func (m *Model) Headroom(skill string) (callsPerMin float64, waitingTooLong bool) { return 0, false }

// HandleAgentState applies one cc.agent-state.v1 record.
func (m *Model) HandleAgentState(msg events.Message) {}

// HandleCall applies one cc.call.v1 record.
func (m *Model) HandleCall(msg events.Message) {}

// SetCommitments sets the source of committed calls.
func (m *Model) SetCommitments(c Commitments) {}

// SetSkills replaces the skill set on config reload.
func (m *Model) SetSkills(skills []string) {}

// Ready reports whether the feed is fresh; reason says why not.
func (m *Model) Ready() (ok bool, reason string) { return false, "not implemented" }

// Run rebuilds snapshots, expires agents and watches the deadman until ctx is done.
func (m *Model) Run(ctx context.Context) {}
