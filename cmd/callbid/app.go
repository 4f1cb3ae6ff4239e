package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callbid/callbid"
	"github.com/callbid/callbid/bidder"
	"github.com/callbid/callbid/callrecords"
	"github.com/callbid/callbid/capacity"
	"github.com/callbid/callbid/ccsim"
	"github.com/callbid/callbid/embedbroker"
	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/feedback"
	"github.com/callbid/callbid/httpapi"
	"github.com/callbid/callbid/kafkaio"
	"github.com/callbid/callbid/numbers"
	"github.com/callbid/callbid/status"
	"github.com/callbid/callbid/traffic"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"
)

type app struct {
	log zerolog.Logger

	mu  sync.Mutex // serialises reloads
	cfg *callbid.Config

	embedded  *embedbroker.Broker
	cluster   *kafkaio.ClusterCheck // brokers accept us, topics exist
	poolGroup *kafkaio.PoolGroup    // kafka.shared_pools: lease partition ownership
	producer  *kafkaio.Producer
	sim       *ccsim.Sim // the demo's simulated center; nil otherwise
	pools     *numbers.Pools
	model     *capacity.Model
	channels  *capacity.Channels // headroom per skill × channel, schedules
	feedback  *feedback.Feedback
	traffic   *traffic.Filter
	bidder    *bidder.Bidder
	server    *httpapi.Server
	consumers map[string]*kafkaio.Consumer

	feeds   context.CancelFunc // stops consumers, simulator and model/feedback loops
	wg      sync.WaitGroup
	served  chan error
	started time.Time

	id         buildIdentity
	publicAddr string // where the listeners are bound (a :0 port resolved)
	adminAddr  string
	listening  atomic.Bool // both listeners accept connections
	reloads    reloadMetrics
	status     *status.Page

	callRecords *callrecords.Store // numbers' and feedback's, shared
}

// start builds every part bottom-up and starts feeds and listeners.
func start(ctx context.Context, cfg *callbid.Config, log zerolog.Logger, id buildIdentity) (*app, error) {
	a := &app{log: log, cfg: cfg, consumers: map[string]*kafkaio.Consumer{}, started: time.Now(), id: id}
	for _, n := range cfg.Notes {
		log.Info().Msg(n)
	}
	for _, w := range cfg.Warnings {
		log.Warn().Msg(w)
	}
	log.Info().Str("config", cfg.Source).Int("campaigns", len(cfg.Campaigns)).Int("pools", len(cfg.Numbers.Pools)).
		Str("version", id.Version).Msg("config loaded")

	if cfg.Kafka.Embedded.Enabled && len(cfg.Kafka.Brokers) == 0 {
		emb, err := embedbroker.Start(cfg.Kafka.Embedded, events.AllTopics, log)
		if err != nil {
			return nil, fmt.Errorf("cannot start the embedded Kafka broker: %w", err)
		}
		a.embedded = emb
		cfg.Kafka.UseEmbedded(emb)
		log.Warn().Str("addr", emb.Addr()).Msg("DEMO: using the embedded in-process Kafka-protocol broker (kfake); set CALLBID_KAFKA_BROKERS for real brokers")
	}

	feedCtx, feeds := context.WithCancel(ctx)
	a.feeds = feeds
	a.cluster = kafkaio.NewClusterCheck(cfg.Kafka, events.Required(cfg.Capacity.Channels.Schedules), log)
	a.goRun(func() { a.cluster.Run(feedCtx) })

	a.producer = kafkaio.NewProducer(cfg.Kafka, log)
	model, err := capacity.New(cfg.Capacity, cfg.Skills(), log)
	if err != nil {
		a.abort()
		return nil, err
	}
	a.model = model
	a.channels = capacity.NewChannels(cfg.Capacity.Channels, a.model, cfg.Skills())
	fb, err := feedback.New(cfg.Feedback, cfg.FeedbackCampaigns(), a.model, a.producer, log)
	if err != nil {
		a.abort()
		return nil, fmt.Errorf("cannot build feedback: %w", err)
	}
	a.feedback = fb
	// One store holds every call record (numbers' and feedback's parts of
	// each call), bounded by call_records.
	recs, err := callrecords.New(cfg.CallRecords)
	if err != nil {
		a.abort()
		return nil, fmt.Errorf("cannot build the call records: %w", err)
	}
	a.callRecords = recs
	a.feedback.UseCallRecords(recs)
	tf, err := traffic.New(cfg.Feedback.Traffic, log)
	if err != nil {
		a.abort()
		return nil, fmt.Errorf("cannot build the traffic filter: %w", err)
	}
	a.traffic = tf
	a.feedback.CountDevicesIn(tf)
	// Calls bought but not yet arrived have one owner, pacing (its
	// participation bucket): capacity publishes facts and does not subtract them.
	// Wins and attributed calls reach feedback in-process as they are
	// published; Kafka brings them back only on replay (as duplicates).
	own := a.feedback.Tee(a.producer)
	pools, err := numbers.New(cfg.Numbers, own, log)
	if err != nil {
		a.abort()
		return nil, fmt.Errorf("cannot build the number pools: %w", err)
	}
	a.pools = pools
	a.pools.UseCallRecords(a.callRecords)
	// With kafka.shared_pools each instance buys only its share of the
	// agents' capacity (alone, Share is 1).
	a.feedback.Pacer().ShareWith(pools)
	// It also counts the other instances' bids (their hold records) in
	// p_win and the calls in flight (pacing/others.go).
	a.pools.OnOtherHold(a.feedback.Pacer().OtherBid)
	a.pools.PauseUntilReplayed()

	b, err := bidder.New(cfg.Config, bidder.Deps{
		Reserver:      a.pools,
		Capacity:      a.model,
		Channels:      a.channels,
		Feedback:      bidder.FeedbackParts{HitRates: a.feedback.HitRates(), Pacer: a.feedback.Pacer(), TrafficFilter: a.traffic, BidRecorder: a.feedback},
		Participation: a.feedback.Pacer(),
		// Exchanges are priced by the calls their impressions bring (hitrate/exchange.go).
		ExchangeFactors: a.feedback.HitRates(),
		Publisher:       own,
	}, log)
	if err != nil {
		a.abort()
		return nil, fmt.Errorf("cannot build the bidder: %w", err)
	}
	a.bidder = b

	// Each topic has one consumer; a record goes to every part that learns
	// from it, from that consumer's goroutine.
	a.consume(feedCtx, events.TopicLeases, a.pools.ApplyLeaseEvent)
	if cfg.Kafka.SharedPools {
		// Several instances share the pools: the consumer group on the
		// lease topic decides which numbers this one reserves. Nothing is
		// reserved until the first assignment.
		a.pools.SetOwnership(1, nil)
		// A gained partition's numbers wait until this consumer has read
		// it up to its end offset at assignment (numbers/gained.go).
		a.pools.ReadGainedWith(feedCtx, a.consumers[events.TopicLeases])
		a.bidder.SharedSpend(true)
		a.poolGroup = kafkaio.NewPoolGroup(cfg.Kafka, log, a.pools.SetOwnership)
		a.goRun(func() { a.poolGroup.Run(feedCtx) })
	}
	// The contact center's topics are decoded and checked once per record;
	// each part gets the typed value.
	a.run(feedCtx, kafkaio.NewRecordConsumer[events.AgentState](cfg.Kafka, log, a.model.HandleAgentState, a.channels.HandleAgentState))
	a.run(feedCtx, kafkaio.NewRecordConsumer[events.Call](cfg.Kafka, log, a.model.HandleCall, a.channels.HandleCall, a.pools.HandleCallEvent, a.feedback.HandleCall, a.bidder.HandleCall))
	if cfg.Capacity.Channels.Schedules {
		a.run(feedCtx, kafkaio.NewRecordConsumer[events.Schedule](cfg.Kafka, log, a.channels.HandleSchedule))
	}
	a.run(feedCtx, kafkaio.NewRecordConsumer[events.Outcome](cfg.Kafka, log, a.pools.HandleOutcome, a.feedback.HandleOutcome))
	// Today's bills of the previous process go back into the budgets.
	a.consume(feedCtx, events.TopicImpressions, a.feedback.HandleImpressionThen(a.bidder.ReplaySpendImpression)) // decoded once for both
	a.run(feedCtx, kafkaio.NewRecordConsumer[events.Attribution](cfg.Kafka, log, a.feedback.HandleAttribution, a.bidder.HandleAttribution))
	a.consume(feedCtx, events.TopicBids, a.feedback.Reports().HandleBids)
	a.goRun(func() { a.pools.Run(feedCtx) })
	a.goRun(func() { a.model.Run(feedCtx) })
	a.goRun(func() { a.channels.Run(feedCtx) })
	a.goRun(func() { a.feedback.Run(feedCtx) })
	a.goRun(func() { <-feedCtx.Done(); a.traffic.Close() })

	if cfg.Simulator.Enabled {
		sim, err := ccsim.New(cfg.Simulator, time.Now(), log)
		if err != nil {
			a.abort()
			return nil, err
		}
		a.sim = sim
		// The simulated audience calls a share of the numbers won
		// (simulator.audience); leases happen on notices, not on bids.
		a.pools.OnLease(sim.Won)
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
	page := a.statusPage()
	a.status = page
	a.goRun(func() { page.Run(feedCtx) })
	a.server = httpapi.NewServer(b, httpapi.Options{
		Pools:  a.pools,
		Status: page,
		Reports: map[string]httpapi.Report{
			"/v1/report":   httpapi.ReportRoute(a.feedback.Reports()),
			"/admin/rates": httpapi.RatesRoute(a.feedback.HitRates(), a.feedback.Pacer()),
		},
		Ready:    a.ready,
		Reload:   func() error { return a.reloadFrom(cfg.Source) },
		Gatherer: reg,
	}, log)
	if err := a.server.RegisterMetrics(reg); err != nil {
		a.abort()
		return nil, fmt.Errorf("cannot register metrics: %w", err)
	}
	// Bind both listeners here, before serving, so a port in use fails the
	// start at once and readiness knows they are up.
	pub, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		a.abort()
		return nil, fmt.Errorf("cannot listen on server.listen %s: %w", cfg.Server.Listen, err)
	}
	adm, err := net.Listen("tcp", cfg.Server.AdminListen)
	if err != nil {
		pub.Close()
		a.abort()
		return nil, fmt.Errorf("cannot listen on server.admin_listen %s: %w", cfg.Server.AdminListen, err)
	}
	a.publicAddr, a.adminAddr = pub.Addr().String(), adm.Addr().String()
	a.served = make(chan error, 1)
	go func() { a.served <- a.server.Serve(pub, adm) }()
	a.listening.Store(true)
	log.Info().Str("listen", a.publicAddr).Str("admin", a.adminAddr).Str("version", id.Version).Msg("callbid is serving")
	return a, nil
}

func (a *app) consume(ctx context.Context, topic string, handlers ...func(kafkaio.Message)) {
	handle := handlers[0]
	if len(handlers) > 1 {
		handle = func(m kafkaio.Message) {
			for _, h := range handlers {
				h(m)
			}
		}
	}
	a.run(ctx, kafkaio.NewConsumer(a.cfg.Kafka, topic, handle, a.log))
}

func (a *app) run(ctx context.Context, c *kafkaio.Consumer) {
	a.consumers[c.Topic()] = c
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

// ready is /readyz: can this process serve correct answers? The config is
// loaded (start got this far), the listeners accept, the lease log has been
// replayed (so no number leased before a restart is handed out twice), lease
// records can be written, and every topic has been replayed once since start
// (today's spend for budgets, hit rates for prices; this latches, so a later
// broker outage does not flap readiness). A stale capacity or feedback feed is NOT
// unready: callbid still answers correctly (nbr 501 within a millisecond),
// and pulling every instance out of the load balancer at once would make
// exchanges throttle the seat. Feed health goes to the status page, metrics
// and alerts instead.
func (a *app) ready() (bool, []string) {
	var reasons []string
	if ok, why := a.cluster.Ready(); !ok { // first: it is often the cause of the rest
		reasons = append(reasons, why)
	}
	if !a.listening.Load() {
		reasons = append(reasons, "listeners: not accepting connections yet")
	}
	if a.pools.Replaying() {
		reasons = append(reasons, "numbers: waiting for the lease log (callbid.leases.v1) before reserving numbers")
	}
	if a.poolGroup != nil && !a.poolGroup.Joined() {
		reasons = append(reasons, "numbers: waiting for the consumer group ("+a.poolGroup.GroupID()+") to assign lease partitions")
	}
	if ok, why := a.pools.LeaseLogReady(); !ok {
		reasons = append(reasons, why)
	}
	for _, topic := range slices.Sorted(maps.Keys(a.consumers)) {
		if topic != events.TopicLeases && !a.consumers[topic].CaughtUp() {
			reasons = append(reasons, topic+": not replayed since start yet")
		}
	}
	return len(reasons) == 0, reasons
}

// statusPage is the admin listener's / and /status.json: readiness, feed
// health, skills, pools, campaigns and feeds, read from the running parts.
func (a *app) statusPage() *status.Page {
	var zoneMu sync.Mutex
	var zoneName string
	var zone *time.Location
	return status.New(status.Sources{
		Version:   a.id.Version,
		Started:   a.started,
		Ready:     a.ready,
		Health:    []func() (bool, string){a.model.Ready, a.feedback.Ready},
		Skills:    a.model.Stats,
		Pacing:    a.feedback.Pacer().Pacing,
		Committed: a.feedback.Pacer().Committed,
		SkillExtra: func(skill string) []status.Figure {
			for _, sp := range a.feedback.Pacer().View().Skills {
				if sp.Skill == skill {
					return []status.Figure{{Name: "participation", Value: sp.Level},
						{Name: "calls in flight", Value: sp.InFlight}, {Name: "due within horizon", Value: sp.DueInHorizon}}
				}
			}
			return nil
		},
		Pools:  a.pools.Stats,
		Report: a.feedback.Reports().Report,
		Campaigns: func() []status.Campaign {
			cfg := a.config()
			out := make([]status.Campaign, 0, len(cfg.Campaigns))
			for _, c := range cfg.Campaigns {
				cur := c.Currency
				if cur == "" {
					cur = "USD"
				}
				out = append(out, status.Campaign{ID: c.ID, Skill: c.Skill.Name, DailyBudget: float64(c.DailyBudget) / 1e6, Currency: cur})
			}
			return out
		},
		Feeds: func() []status.Feed {
			out := make([]status.Feed, 0, len(a.consumers))
			for topic, c := range a.consumers {
				out = append(out, status.Feed{Topic: topic, LastMessage: c.LastMessageAt(), Lag: c.Lag(), CaughtUp: c.CaughtUp()})
			}
			return out
		},
		Counters: func() (int64, int64) {
			st := a.feedback.Stats()
			return st.Bids, st.Wins
		},
		Location: func() *time.Location {
			name := a.config().Server.TimeZone
			zoneMu.Lock()
			defer zoneMu.Unlock()
			if zone == nil || name != zoneName {
				if loc, err := time.LoadLocation(name); err == nil {
					zone, zoneName = loc, name
				} else if zone == nil {
					zone = time.UTC
				}
			}
			return zone
		},
	}, 10*time.Second)
}

// config is the running config (reloads swap it under a.mu).
func (a *app) config() *callbid.Config {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cfg
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
		a.callRecords.RegisterMetrics(reg),
		a.traffic.RegisterMetrics(reg),
		a.feedback.Reports().RegisterMetrics(reg),
		a.feedback.Pacer().RegisterMetrics(reg),
		a.producer.RegisterMetrics(reg),
		a.registerSimMetrics(reg),
		a.cluster.RegisterMetrics(reg),
		reg.Register(buildInfoCollector(a.id)),
		reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "callbid_ready",
			Help: "1 when /readyz answers 200 (listeners up, topics replayed, leases writable); a stale feed does not make it 0."},
			func() float64 {
				if ok, _ := a.ready(); ok {
					return 1
				}
				return 0
			})),
		a.reloads.register(reg, a.started),
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

// reloadFrom is every reload (file change, SIGHUP, POST /admin/reload); each
// attempt is counted by result, whatever made it fail.
func (a *app) reloadFrom(path string) (err error) {
	defer func() { a.reloads.record(err == nil, time.Now()) }()
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
	a.channels.SetSkills(cfg.Skills())
	a.feedback.SetCampaigns(cfg.FeedbackCampaigns())
	if !reflect.DeepEqual(cfg.Numbers.Pools, a.cfg.Numbers.Pools) {
		a.log.Warn().Msg("numbers.pools changed: pool changes take effect on restart; the running pools are kept")
	}
	if cfg.CallRecords != a.cfg.CallRecords {
		a.log.Warn().Msg("call_records changed: takes effect on restart; the running call records keep their bounds")
	}
	d := diffCampaigns(a.cfg.Campaigns, cfg.Campaigns)
	a.cfg = cfg
	a.log.Info().Str("config", path).Int("campaigns", len(cfg.Campaigns)).
		Strs("added", d.added).Strs("removed", d.removed).Strs("changed", d.changed).
		Msg("config reloaded: " + d.String())
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

// registerSimMetrics exposes the demo's SIMULATED agent gauges (labelled as
// such) next to what callbid's own model sees, so the two can be compared.
func (a *app) registerSimMetrics(reg prometheus.Registerer) error {
	if a.sim == nil {
		return nil
	}
	return a.sim.RegisterMetrics(reg)
}
