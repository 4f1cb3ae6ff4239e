package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sync"
	"time"

	"github.com/callbid/callbid"
	"github.com/callbid/callbid/bidder"
	"github.com/callbid/callbid/capacity"
	"github.com/callbid/callbid/ccsim"
	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/feedback"
	"github.com/callbid/callbid/numbers"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"
)

type app struct {
	log zerolog.Logger

	mu  sync.Mutex // serialises reloads
	cfg *callbid.Config

	embedded  *events.Embedded
	producer  *events.Producer
	pools     *numbers.Pools
	model     *capacity.Model
	feedback  *feedback.Feedback
	bidder    *bidder.Bidder
	server    *bidder.Server
	consumers map[string]*events.Consumer

	feeds   context.CancelFunc // stops consumers, simulator and model/feedback loops
	wg      sync.WaitGroup
	served  chan error
	started time.Time
}

// start builds every part bottom-up and starts feeds and listeners.
func start(ctx context.Context, cfg *callbid.Config, log zerolog.Logger) (*app, error) {
	a := &app{log: log, cfg: cfg, consumers: map[string]*events.Consumer{}, started: time.Now()}
	for _, n := range cfg.Notes {
		log.Info().Msg(n)
	}
	log.Info().Str("config", cfg.Source).Int("campaigns", len(cfg.Campaigns)).Int("pools", len(cfg.Numbers.Pools)).Msg("config loaded")

	if cfg.Kafka.Embedded.Enabled && len(cfg.Kafka.Brokers) == 0 {
		emb, err := events.StartEmbedded(cfg.Kafka.Embedded, events.AllTopics, log)
		if err != nil {
			return nil, fmt.Errorf("cannot start the embedded Kafka broker: %w", err)
		}
		a.embedded = emb
		cfg.Kafka.UseEmbedded(emb)
		log.Warn().Str("addr", emb.Addr()).Msg("DEMO: using the embedded in-process Kafka-protocol broker (kfake); set CALLBID_KAFKA_BROKERS for real brokers")
	}

	feedCtx, feeds := context.WithCancel(ctx)
	a.feeds = feeds

	a.producer = events.NewProducer(cfg.Kafka, log)
	pools, err := numbers.New(cfg.Numbers, a.producer, log)
	if err != nil {
		a.abort()
		return nil, fmt.Errorf("cannot build the number pools: %w", err)
	}
	a.pools = pools
	a.pools.PauseUntilReplayed()
	a.model = capacity.New(cfg.Capacity, cfg.Skills(), log)
	a.feedback = feedback.New(cfg.Feedback, cfg.FeedbackCampaigns(), a.model, a.producer, log)
	a.model.SetCommitments(a.feedback)

	b, err := bidder.New(cfg.Config, bidder.Deps{
		Reserver:  a.pools,
		Capacity:  a.model,
		Feedback:  a.feedback,
		Publisher: a.producer,
	}, log)
	if err != nil {
		a.abort()
		return nil, fmt.Errorf("cannot build the bidder: %w", err)
	}
	a.bidder = b

	// Each topic has one consumer; a record goes to every part that learns
	// from it, from that consumer's goroutine.
	a.consume(feedCtx, events.TopicLeases, a.pools.ApplyLeaseEvent)
	a.consume(feedCtx, events.TopicAgentState, a.model.HandleAgentState)
	a.consume(feedCtx, events.TopicCall, a.model.HandleCall, a.pools.HandleCallEvent, a.feedback.HandleCall)
	a.consume(feedCtx, events.TopicOutcome, a.pools.HandleOutcome, a.feedback.HandleOutcome)
	// Today's bills of the previous process go back into the budgets.
	a.consume(feedCtx, events.TopicImpressions, a.feedback.HandleImpression, a.bidder.ReplaySpend)
	a.consume(feedCtx, events.TopicAttribution, a.feedback.HandleAttribution)
	a.consume(feedCtx, events.TopicBids, a.feedback.HandleBids)
	a.goRun(func() { a.pools.Run(feedCtx) })
	a.goRun(func() { a.model.Run(feedCtx) })
	a.goRun(func() { a.feedback.Run(feedCtx) })

	if cfg.Simulator.Enabled {
		sim := ccsim.New(cfg.Simulator, time.Now(), log)
		log.Warn().Msg("DEMO: a SIMULATED contact center streams agent states and calls into Kafka (simulator.enabled)")
		a.goRun(func() { sim.Run(feedCtx, a.producer) })
	}

	// Leases must be replayed before a number is handed out again, or a
	// number leased before the restart could go to a second impression.
	a.openPoolsAfterReplay(feedCtx)

	reg := prometheus.NewRegistry()
	if err := a.registerMetrics(reg); err != nil {
		a.abort()
		return nil, fmt.Errorf("cannot register metrics: %w", err)
	}
	a.server = bidder.NewServer(b, bidder.ServerOptions{
		Calls:    a.pools.HandleCalls,
		Ready:    a.ready,
		Reload:   func() error { return a.reloadFrom(cfg.Source) },
		Gatherer: reg,
		Admin: map[string]fasthttp.RequestHandler{
			"/admin/pools": a.pools.HandleAdmin,
			"/v1/report":   a.feedback.HandleReport,
		},
	}, log)
	a.served = make(chan error, 1)
	go func() { a.served <- a.server.ListenAndServe() }()
	select {
	case err := <-a.served:
		a.abort()
		return nil, fmt.Errorf("cannot listen: %w", err)
	case <-time.After(200 * time.Millisecond):
	}
	log.Info().Str("listen", cfg.Server.Listen).Str("admin", cfg.Server.AdminListen).Msg("callbid is serving")
	return a, nil
}

func (a *app) consume(ctx context.Context, topic string, handlers ...func(events.Message)) {
	handle := handlers[0]
	if len(handlers) > 1 {
		handle = func(m events.Message) {
			for _, h := range handlers {
				h(m)
			}
		}
	}
	c := events.NewConsumer(a.cfg.Kafka, topic, handle, a.log)
	a.consumers[topic] = c
	a.goRun(func() { c.Run(ctx) })
}

func (a *app) goRun(f func()) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		f()
	}()
}

// openPoolsAfterReplay lets the pools reserve numbers once the lease log has
// been replayed. Until then bids no-bid (pool) and /readyz says why; the
// listeners do not wait for it, so a bidder whose Kafka is down at start still
// serves, and picks the feeds up when the broker appears.
func (a *app) openPoolsAfterReplay(ctx context.Context) {
	c := a.consumers[events.TopicLeases]
	a.goRun(func() {
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for !c.CaughtUp() {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
		a.pools.ReplayDone()
		a.log.Info().Dur("took", time.Since(a.started)).Msg("lease log replayed; numbers can be reserved")
	})
}

// ready is /readyz: config loaded, every feed caught up, capacity not stale.
func (a *app) ready() (bool, []string) {
	var reasons []string
	if a.pools.Replaying() {
		reasons = append(reasons, "numbers: waiting for the lease log (callbid.leases.v1) before reserving numbers")
	}
	if ok, why := a.pools.LeaseLogReady(); !ok {
		reasons = append(reasons, why)
	}
	for topic, c := range a.consumers {
		if !c.CaughtUp() {
			reasons = append(reasons, topic+": not caught up with the topic yet")
		}
	}
	if ok, why := a.model.Ready(); !ok {
		reasons = append(reasons, why)
	}
	if ok, why := a.feedback.Ready(); !ok {
		reasons = append(reasons, why)
	}
	return len(reasons) == 0, reasons
}

func (a *app) registerMetrics(reg *prometheus.Registry) error {
	errs := []error{
		reg.Register(collectors.NewGoCollector()),
		reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})),
		a.bidder.RegisterMetrics(reg),
		a.pools.RegisterMetrics(reg),
		a.pools.RegisterLeaseLogMetrics(reg),
		a.model.RegisterMetrics(reg),
		a.feedback.RegisterMetrics(reg),
		a.producer.RegisterMetrics(reg),
	}
	for _, c := range a.consumers {
		errs = append(errs, c.RegisterMetrics(reg)) // labelled by topic already
	}
	return errors.Join(errs...)
}

// reload re-reads the config file; a config that does not validate leaves the
// running one in place and says why.
func (a *app) reload(path string) {
	if err := a.reloadFrom(path); err != nil {
		a.log.Error().Err(err).Msg("config reload failed; keeping the running config")
	}
}

func (a *app) reloadFrom(path string) error {
	if path == "" || path == "embedded default" {
		return errors.New("callbid runs on the embedded default config: there is no file to reload")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	cfg, err := callbid.Load(path, os.Getenv)
	if err != nil {
		return err
	}
	cfg.KeepRunning(a.cfg)
	if err := a.bidder.Apply(cfg.Config); err != nil {
		return fmt.Errorf("cannot apply the campaigns: %w", err)
	}
	a.model.SetSkills(cfg.Skills())
	a.feedback.SetCampaigns(cfg.FeedbackCampaigns())
	if !reflect.DeepEqual(cfg.Numbers.Pools, a.cfg.Numbers.Pools) {
		a.log.Warn().Msg("numbers.pools changed: pool changes take effect on restart; the running pools are kept")
	}
	a.cfg = cfg
	a.log.Info().Str("config", path).Int("campaigns", len(cfg.Campaigns)).Msg("config reloaded")
	return nil
}

// stop shuts down in reverse order: listeners first (requests in flight
// finish, notices waiting for their lease record included), then feeds and
// loops (the pools write their last holds), then the producer flushes —
// each topic on its own connections, so the lease log never waits behind
// droppable records — then the broker. Lease records still unwritten when
// ctx ends are logged with their count.
func (a *app) stop(ctx context.Context, cancel context.CancelFunc) error {
	var errs []error
	if a.server != nil {
		errs = append(errs, a.server.Shutdown(ctx))
	}
	a.feeds()
	done := make(chan struct{})
	go func() { a.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, ctx.Err())
	}
	if l := a.producer.Durable(events.TopicLeases); l != nil {
		if h := l.Health(time.Now()); h.Pending > 0 {
			a.log.Info().Int("pending", h.Pending).Msg("writing the lease records left before stopping")
		}
	}
	if err := a.producer.Close(ctx); err != nil {
		a.log.Error().Err(err).Msg("kafka producer closed with records unwritten")
		errs = append(errs, err)
	}
	if a.embedded != nil {
		a.embedded.Close()
	}
	cancel()
	a.log.Info().Msg("stopped")
	return errors.Join(errs...)
}

// abort undoes a partial start.
func (a *app) abort() {
	if a.feeds != nil {
		a.feeds()
	}
	a.wg.Wait()
	if a.producer != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = a.producer.Close(ctx)
		cancel()
	}
	if a.embedded != nil {
		a.embedded.Close()
	}
}
