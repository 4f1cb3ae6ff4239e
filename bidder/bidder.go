package bidder

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callbid/callbid/capacity"
	"github.com/rs/zerolog"
)

// Deps are the parts the bid path reads, built by the root wiring. Reserver
// is required; a nil Capacity or Feedback means neutral factors of 1 (the
// binary always wires both: this is for tests and tools); a nil Publisher
// drops impression events; a nil Participation bids whenever capacity and
// pacing allow.
type Deps struct {
	Reserver      Reserver
	Capacity      Capacity
	Channels      ChannelCapacity // nil: voice only (channel.go)
	Feedback      Feedback
	Participation Participation
	// ExchangeFactors is optional: nil bids as if every factor were 1.
	ExchangeFactors ExchangeFactors
	Publisher       Publisher
	// Now is the clock (time.Now when nil); tests pin it.
	Now func() time.Time
}

// Bidder decides bids and serves the bid and notice endpoints.
type Bidder struct {
	snap     atomic.Pointer[snapshot]
	prevSig  atomic.Pointer[signer] // the notice secret before the last change, still accepted
	deps     Deps
	log      zerolog.Logger
	debugLog zerolog.Logger // sampled, for no-bid reasons
	budgets  *budgetSet
	calls    *callTable  // call caps' counters, fed by the call consumers
	shade    *shader     // first-price win curves, fed by notices
	value    *valueTable // value-based bidding's close rates and revenue, fed by attributions
	dedupe   *dedupe
	holds    *holdLimiter       // per-source hold budgets, shared across snapshots
	chRates  ChannelHitRates    // per-channel hit rates behind Deps.Feedback, or nil (channel.go)
	chBids   ChannelBidRecorder // per-channel bid counts behind Deps.Feedback, or nil (channel.go)
	m        *metrics
	now      func() time.Time
	// pinnedClock: Deps.Now was given (tests); otherwise Bid uses the HTTP layer's
	// time.Now reading (BidInput.Now) as the decision's clock.
	pinnedClock bool
	started     time.Time // bills before it are replayed into budgets (ReplaySpend)
	// sharedSpend: other instances bill the same budgets (kafka.shared_pools);
	// ReplaySpend counts their bills as they come (see SharedSpend).
	sharedSpend atomic.Bool
	applyMu     sync.Mutex
	pool        sync.Pool // *decision
}

// New compiles cfg and builds a Bidder. It returns every config problem.
func New(cfg Config, deps Deps, log zerolog.Logger) (*Bidder, error) {
	if deps.Reserver == nil {
		return nil, errors.New("bidder: a Reserver (numbers pools) is required")
	}
	b := &Bidder{deps: deps, log: log, budgets: newBudgetSet(), calls: newCallTable(), shade: newShader(), value: newValueTable(), m: newMetrics(), now: deps.Now}
	b.holds = newHoldLimiter(b.m)
	b.debugLog = log.Sample(&zerolog.BurstSampler{Burst: 10, Period: time.Second, NextSampler: &zerolog.BasicSampler{N: 1000}})
	b.pinnedClock = b.now != nil
	b.started = time.Now()
	if b.now == nil {
		b.now = time.Now
	}
	cfg.SetDefaults()
	if b.deps.Capacity == nil {
		b.deps.Capacity = neutralCapacity{}
	}
	if b.deps.Feedback == nil {
		b.deps.Feedback = neutralFeedback{}
	}
	b.chRates, b.chBids = channelHitRates(b.deps.Feedback), channelBidRecorder(b.deps.Feedback)
	s, err := compile(cfg, deps.Reserver, b.budgets, b.holds, b.calls)
	if err != nil {
		return nil, err
	}
	b.dedupe = newDedupe(cfg.Server.NoticeTTL, 1<<15)
	b.snap.Store(s)
	return b, nil
}

// Apply compiles cfg and swaps it in for the following requests (hot
// reload). Requests in flight finish on the snapshot they started with.
// Budgets are kept by campaign id. On error the running config stays.
// Listener addresses, timeouts and body limits need a restart to change.
func (b *Bidder) Apply(cfg Config) error {
	b.applyMu.Lock()
	defer b.applyMu.Unlock()
	cfg.SetDefaults()
	s, err := compile(cfg, b.deps.Reserver, b.budgets, b.holds, b.calls)
	if err != nil {
		b.m.reloadErrors.Inc()
		return fmt.Errorf("keeping the running config: %w", err)
	}
	old := b.snap.Swap(s)
	if old != nil && old.cfg.Server.NoticeSecret != s.cfg.Server.NoticeSecret {
		b.prevSig.Store(old.signer)
	}
	b.m.reloads.Inc()
	b.log.Info().Int("campaigns", len(s.campaigns)).Msg("bidder config applied")
	return nil
}

// neutralCapacity stands in until a capacity model is wired.
type neutralCapacity struct{}

func (neutralCapacity) View(string, float64, float64) capacity.View {
	return capacity.View{Factor: 1}
}

// neutralFeedback stands in until feedback is wired.
type neutralFeedback struct{}

func (neutralFeedback) HitRate(string, string) float64                                    { return 1 }
func (neutralFeedback) Pacing(string) (float64, bool)                                     { return 1, false }
func (neutralFeedback) Allowed(uint64, uint64) bool                                       { return true }
func (neutralFeedback) AllowedIP(string) bool                                             { return true }
func (neutralFeedback) RecordSeen(string, string, time.Time)                              {}
func (neutralFeedback) RecordBid(string, string, string, string, int64, int64, time.Time) {}
