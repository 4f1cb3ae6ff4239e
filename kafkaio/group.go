package kafkaio

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
)

// PoolGroup keeps this instance in the Kafka consumer group (kafka.group_id)
// of the lease topic, so the group coordinator — not a protocol of
// callbid's own — decides which instance owns which lease partitions
// (kafka.shared_pools). It reads nothing through the group (every instance
// reads the whole lease topic with its own Consumer) and commits no
// offsets; membership only decides ownership.
//
// Assign is called with the topic's partition count and the partitions of
// each new generation, and with (n, nil) as soon as a generation ends
// (rebalance, lost coordinator, shutdown) — before the next one is joined.
// Kafka's eager rebalance protocol makes every member give up its
// partitions before any member gets new ones, so two live members never own
// a partition at once; a member that dies owns nothing from the moment it
// dies, and its partitions move after kafka.group_session_timeout.
//
// Goroutines: Run (one) calls Assign; Owned is safe from any goroutine.
type PoolGroup struct {
	cfg    Config
	log    zerolog.Logger
	assign func(partitions int, owned []int)
	gens   atomic.Uint64
	joined atomic.Bool
	owned  atomic.Pointer[[]int]
}

// NewPoolGroup builds the membership; Run joins.
func NewPoolGroup(cfg Config, log zerolog.Logger, assign func(partitions int, owned []int)) *PoolGroup {
	cfg.SetDefaults()
	return &PoolGroup{cfg: cfg, log: log.With().Str("group_id", cfg.GroupID).Logger(), assign: assign}
}

// GroupID is the consumer group joined.
func (g *PoolGroup) GroupID() string { return g.cfg.GroupID }

// Joined reports whether this instance has had an assignment since start.
func (g *PoolGroup) Joined() bool { return g.joined.Load() }

// Generations counts the group generations this instance took part in.
func (g *PoolGroup) Generations() uint64 { return g.gens.Load() }

func (g *PoolGroup) dialer() *kafka.Dialer {
	d := &kafka.Dialer{ClientID: g.cfg.ClientID, Timeout: g.cfg.DialTimeout, DualStack: true}
	if tc, err := g.cfg.TLS.build(); err == nil {
		d.TLS = tc
	}
	if m, err := g.cfg.SASL.build(); err == nil {
		d.SASLMechanism = m
	}
	return d
}

// Run stays in the group until ctx is done, rejoining with backoff when the
// broker or coordinator is away.
func (g *PoolGroup) Run(ctx context.Context) {
	d := g.dialer()
	sess := g.cfg.GroupSessionTimeout
	cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID: g.cfg.GroupID, Brokers: g.cfg.Brokers, Dialer: d, Topics: []string{events.TopicLeases},
		SessionTimeout: sess, HeartbeatInterval: sess / 5, RebalanceTimeout: sess,
		JoinGroupBackoff: g.cfg.RetryBackoffMin, WatchPartitionChanges: true,
		PartitionWatchInterval: 5 * time.Second, Timeout: g.cfg.RequestTimeout,
	})
	if err != nil {
		g.log.Error().Err(err).Msg("cannot join the pool-sharing consumer group; this instance reserves no number")
		return
	}
	defer cg.Close()
	for attempt := 0; ; attempt++ {
		gen, err := cg.Next(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if !errors.Is(err, kafka.ErrGroupClosed) {
				g.log.Warn().Err(err).Msg("pool-sharing consumer group: cannot join yet; no number is reserved until it does")
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff(attempt, g.cfg.RetryBackoffMin, g.cfg.RetryBackoffMax)):
			}
			continue
		}
		attempt = 0
		n, err := g.partitions(ctx, d)
		if err != nil {
			g.log.Warn().Err(err).Msg("pool-sharing consumer group: cannot read the lease topic's partition count")
			gen.Start(func(gctx context.Context) { <-gctx.Done() })
			continue
		}
		var owned []int
		for _, pa := range gen.Assignments[events.TopicLeases] {
			owned = append(owned, pa.ID)
		}
		slices.Sort(owned)
		g.owned.Store(&owned)
		g.gens.Add(1)
		g.assign(n, owned)
		g.joined.Store(true)
		g.log.Info().Int32("generation", gen.ID).Str("member", gen.MemberID).Ints("owned", owned).Int("partitions", n).
			Msg("pool-sharing consumer group: lease partitions assigned")
		// The generation's context ends on a rebalance; ownership goes
		// before kafka-go joins the next generation.
		gen.Start(func(gctx context.Context) {
			<-gctx.Done()
			empty := []int{}
			g.owned.Store(&empty)
			g.assign(n, nil)
		})
	}
}

// Owned is the current assignment (empty between generations).
func (g *PoolGroup) Owned() []int {
	if o := g.owned.Load(); o != nil {
		return *o
	}
	return nil
}

func (g *PoolGroup) partitions(ctx context.Context, d *kafka.Dialer) (int, error) {
	var last error
	for _, b := range g.cfg.Brokers {
		ps, err := d.LookupPartitions(ctx, "tcp", b, events.TopicLeases)
		if err == nil && len(ps) > 0 {
			return len(ps), nil
		}
		if err == nil {
			err = errors.New("the lease topic has no partitions")
		}
		last = err
	}
	return 0, last
}
