package kafkaio

import (
	"context"
	"errors"
	"fmt"

	"github.com/callbid/callbid/events"
	"github.com/segmentio/kafka-go"
)

// EnsureTopics creates the topics that do not exist yet, with
// cfg.Topics.Partitions partitions and replication factor (the state topics
// compacted). Existing topics are left alone.
func EnsureTopics(ctx context.Context, cfg Config, topics ...string) error {
	cfg.SetDefaults()
	tr := newTransport(cfg)
	defer tr.CloseIdleConnections()
	cl := &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Transport: tr, Timeout: cfg.RequestTimeout}
	return createTopics(ctx, cl, cfg, topics...)
}

func createTopics(ctx context.Context, cl *kafka.Client, cfg Config, topics ...string) error {
	rf := cfg.Topics.ReplicationFactor
	if rf == 0 {
		rf = -1 // the broker's default.replication.factor
	}
	req := &kafka.CreateTopicsRequest{}
	for _, t := range topics {
		tc := kafka.TopicConfig{Topic: t, NumPartitions: cfg.Topics.Partitions, ReplicationFactor: rf}
		if events.Compacted(t) {
			tc.ConfigEntries = []kafka.ConfigEntry{{ConfigName: "cleanup.policy", ConfigValue: "compact"}}
		}
		req.Topics = append(req.Topics, tc)
	}
	res, err := cl.CreateTopics(ctx, req)
	if err != nil {
		return fmt.Errorf("cannot create topics %q: %w", topics, err)
	}
	var errs []error
	for t, e := range res.Errors {
		if e != nil && !errors.Is(e, kafka.TopicAlreadyExists) {
			errs = append(errs, fmt.Errorf("cannot create topic %q: %w", t, e))
		}
	}
	return errors.Join(errs...)
}

// CheckBrokers asks the cluster for its metadata, retrying with backoff
// until a broker answers or ctx is done, so a command can fail fast with a
// clear message. A failure retrying cannot fix — the brokers refuse the SASL
// credentials or the TLS certificate is not trusted — is returned at once as
// a *SecurityError naming the mechanism.
func CheckBrokers(ctx context.Context, cfg Config) error {
	cfg.SetDefaults()
	tr := newTransport(cfg)
	defer tr.CloseIdleConnections()
	var probe *saslProbe
	if tr.SASL != nil {
		probe = &saslProbe{Mechanism: tr.SASL}
		tr.SASL = probe
	}
	cl := &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Transport: tr, Timeout: cfg.RequestTimeout}
	var last error
	for attempt := 0; ; attempt++ {
		if attempt > 0 && !sleepCtx(ctx, backoff(attempt, cfg.RetryBackoffMin, cfg.RetryBackoffMax)) {
			return fmt.Errorf("no kafka broker of %q answered: %w", cfg.Brokers, last)
		}
		md, err := cl.Metadata(ctx, &kafka.MetadataRequest{})
		if err == nil && len(md.Brokers) > 0 {
			return nil
		}
		var se *SecurityError
		if err = classifySecurity(&cfg, probe.refused(err)); errors.As(err, &se) {
			return err
		}
		if err == nil {
			err = errors.New("metadata lists no brokers")
		}
		last = err
		tr.CloseIdleConnections()
	}
}
