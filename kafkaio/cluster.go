package kafkaio

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
)

// MissingTopicsError says which topics callbid needs that the cluster does
// not have, and how to create them.
type MissingTopicsError struct {
	Topics []string
	// Commands are kafka-topics.sh invocations that create them, one per
	// topic, with the cleanup policy each needs.
	Commands []string
}

func (e *MissingTopicsError) Error() string {
	return fmt.Sprintf("kafka topics missing: %s; create them (%s) or set kafka.topics.auto_create",
		strings.Join(e.Topics, ", "), strings.Join(e.Commands, " && "))
}

// CreateTopicCommand is the kafka-topics.sh command that creates topic as
// callbid would with kafka.topics.auto_create (partitions, replication,
// cleanup policy).
func CreateTopicCommand(cfg Config, topic string) string {
	cfg.SetDefaults()
	var b strings.Builder
	b.WriteString("kafka-topics.sh --bootstrap-server ")
	b.WriteString(strings.Join(cfg.Brokers, ","))
	if cfg.TLS.Enabled || cfg.SASL.Mechanism != "" {
		b.WriteString(" --command-config client.properties")
	}
	b.WriteString(" --create --if-not-exists --topic ")
	b.WriteString(topic)
	b.WriteString(" --partitions ")
	b.WriteString(strconv.Itoa(cfg.Topics.Partitions))
	if cfg.Topics.ReplicationFactor > 0 {
		b.WriteString(" --replication-factor ")
		b.WriteString(strconv.Itoa(cfg.Topics.ReplicationFactor))
	}
	if events.Compacted(topic) {
		b.WriteString(" --config cleanup.policy=compact")
	}
	return b.String()
}

// CheckTopics reports the topics of want that the cluster lacks. With
// cfg.Topics.AutoCreate it creates them (state topics compacted) and
// returns nil once they exist; otherwise it returns a *MissingTopicsError.
// It also warns (through log) when a topic that must be compacted exists
// with another cleanup policy.
func CheckTopics(ctx context.Context, cfg Config, want []string, log zerolog.Logger) error {
	cfg.SetDefaults()
	tr := newTransport(cfg)
	defer tr.CloseIdleConnections()
	cl := &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Transport: tr, Timeout: cfg.RequestTimeout}
	missing, err := missingTopics(ctx, cl, want)
	if err != nil {
		return classifySecurity(&cfg, err)
	}
	if len(missing) > 0 && cfg.Topics.AutoCreate {
		if err := createTopics(ctx, cl, cfg, missing...); err != nil {
			return err
		}
		log.Info().Strs("topics", missing).Msg("created the missing kafka topics (kafka.topics.auto_create)")
		if missing, err = missingTopics(ctx, cl, want); err != nil {
			return err
		}
	}
	if len(missing) > 0 {
		e := &MissingTopicsError{Topics: missing}
		for _, t := range missing {
			e.Commands = append(e.Commands, CreateTopicCommand(cfg, t))
		}
		return e
	}
	warnNotCompacted(ctx, cl, want, log)
	return nil
}

func missingTopics(ctx context.Context, cl *kafka.Client, want []string) ([]string, error) {
	md, err := cl.Metadata(ctx, &kafka.MetadataRequest{})
	if err != nil {
		return nil, fmt.Errorf("cannot list the kafka topics: %w", err)
	}
	have := make(map[string]bool, len(md.Topics))
	for _, t := range md.Topics {
		if t.Error == nil {
			have[t.Name] = true
		}
	}
	var missing []string
	for _, t := range want {
		if !have[t] {
			missing = append(missing, t)
		}
	}
	slices.Sort(missing)
	return missing, nil
}

// warnNotCompacted is advice only: a lease log with cleanup.policy=delete
// loses leases older than its retention on a restart.
func warnNotCompacted(ctx context.Context, cl *kafka.Client, topics []string, log zerolog.Logger) {
	req := &kafka.DescribeConfigsRequest{}
	for _, t := range topics {
		if events.Compacted(t) {
			req.Resources = append(req.Resources, kafka.DescribeConfigRequestResource{
				ResourceType: kafka.ResourceTypeTopic, ResourceName: t, ConfigNames: []string{"cleanup.policy"}})
		}
	}
	res, err := cl.DescribeConfigs(ctx, req)
	if err != nil {
		log.Debug().Err(err).Msg("cannot read the topics' cleanup.policy; not checked")
		return
	}
	for _, r := range res.Resources {
		for _, e := range r.ConfigEntries {
			if r.Error == nil && e.ConfigName == "cleanup.policy" && !strings.Contains(e.ConfigValue, "compact") {
				log.Warn().Str("topic", r.ResourceName).Str("cleanup_policy", e.ConfigValue).
					Msg("kafka topic should be compacted (cleanup.policy=compact): with delete, records older than retention.ms are lost on a restart")
			}
		}
	}
}

// ClusterCheck is what callbid checks of its Kafka cluster at start: that the
// brokers accept its credentials and certificate, and that its topics exist
// (creating them with kafka.topics.auto_create). It logs each problem once,
// reports it for /readyz and as metrics, and re-checks missing topics every
// RecheckEvery until an operator has created them. A refused credential is
// not retried: the Kafka settings need a restart to change.
type ClusterCheck struct {
	cfg    Config
	topics []string
	log    zerolog.Logger

	// RecheckEvery is the pause between checks while topics are missing or
	// no broker answers; default 30s.
	RecheckEvery time.Duration

	problem       atomic.Pointer[string] // nil: all good
	missing       atomic.Int64
	securityError atomic.Bool
}

// NewClusterCheck checks cfg's cluster for topics (usually AllTopics).
func NewClusterCheck(cfg Config, topics []string, log zerolog.Logger) *ClusterCheck {
	c := &ClusterCheck{cfg: cfg, topics: topics, log: log, RecheckEvery: 30 * time.Second}
	c.setProblem("kafka: brokers and topics not checked yet")
	return c
}

func (c *ClusterCheck) setProblem(p string) {
	if p == "" {
		c.problem.Store(nil)
		return
	}
	c.problem.Store(&p)
}

// Ready is false, with the reason, until the check has passed.
func (c *ClusterCheck) Ready() (bool, string) {
	if p := c.problem.Load(); p != nil {
		return false, *p
	}
	return true, ""
}

// Run checks until the cluster is fine, a security error makes further
// checks pointless, or ctx is done.
func (c *ClusterCheck) Run(ctx context.Context) {
	lastLogged := ""
	for {
		// Bounded, so a cluster that does not answer is reported (and
		// re-checked) rather than waited on silently.
		bctx, cancel := context.WithTimeout(ctx, c.RecheckEvery)
		err := CheckBrokers(bctx, c.cfg)
		cancel()
		if err == nil {
			err = CheckTopics(ctx, c.cfg, c.topics, c.log)
		}
		if ctx.Err() != nil {
			return
		}
		var se *SecurityError
		var mt *MissingTopicsError
		switch {
		case err == nil:
			c.missing.Store(0)
			c.setProblem("")
			if lastLogged != "" {
				c.log.Info().Msg("kafka cluster check passed: brokers accept callbid and every topic exists")
			}
			return
		case errors.As(err, &se):
			c.securityError.Store(true)
			c.setProblem("kafka: " + err.Error())
			c.log.Error().Err(err).Msg("kafka refused the connection settings (kafka.tls, kafka.sasl); callbid cannot read or write its topics until they are fixed and it is restarted")
			return
		case errors.As(err, &mt):
			c.missing.Store(int64(len(mt.Topics)))
			c.setProblem("kafka: " + err.Error())
			if msg := err.Error(); msg != lastLogged {
				c.log.Error().Strs("missing_topics", mt.Topics).Strs("create_with", mt.Commands).
					Msg("kafka topics callbid needs do not exist: records for them cannot be written or read; create them or set kafka.topics.auto_create")
				lastLogged = msg
			}
		default:
			// No broker answered within ctx, or the listing failed: the
			// consumers say so too; try again soon (CheckBrokers has already
			// backed off while waiting for a broker).
			c.setProblem("kafka: cannot check brokers and topics: " + err.Error())
			if msg := err.Error(); msg != lastLogged {
				c.log.Warn().Err(err).Msg("kafka cluster check failed; retrying")
				lastLogged = msg
			}
		}
		pause := c.RecheckEvery
		if mt == nil {
			pause = min(pause, max(c.cfg.RetryBackoffMax, DefaultRetryBackoffMax))
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// RegisterMetrics registers callbid_kafka_topics_missing and
// callbid_kafka_security_error.
func (c *ClusterCheck) RegisterMetrics(reg prometheus.Registerer) error {
	return errors.Join(
		reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "callbid_kafka_topics_missing",
			Help: "Topics callbid needs that the Kafka cluster lacks (last check)."},
			func() float64 { return float64(c.missing.Load()) })),
		reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "callbid_kafka_security_error",
			Help: "1 when the brokers refused callbid's SASL credentials or TLS settings."},
			func() float64 {
				if c.securityError.Load() {
					return 1
				}
				return 0
			})),
	)
}
