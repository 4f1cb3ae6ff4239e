// Package embedbroker owns the in-process Kafka-protocol broker (kfake) of the
// out-of-the-box demo and of tests. Only commands (cmd/) and tests import it,
// so the domain packages and events do not link kfake into production builds.
//
// Goroutines: kfake runs its own; Start and Close may be called from any
// goroutine.
package embedbroker

import (
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/kafkaio"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kfake"
)

// Broker is an in-process Kafka-protocol broker (kfake) on a loopback
// port, for the out-of-the-box demo and for tests. It is not a production
// broker: one node, no replication, in memory unless DataDir is set.
type Broker struct {
	c    *kfake.Cluster
	addr string
}

// Start starts the broker (the kafka.embedded section; Enabled is not looked
// at) and creates topics with cfg.Partitions partitions each (the state
// topics compacted, as events.Compacted says); other topics are created on
// first use. Extra kfake options (kfake.EnableSASL, kfake.Superuser,
// kfake.TLS) let tests run it as a secured cluster.
func Start(cfg kafkaio.EmbeddedConfig, topics []string, log zerolog.Logger, extra ...kfake.Opt) (*Broker, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("cannot start the embedded kafka broker: %w", err)
	}
	host, ps, _ := net.SplitHostPort(cfg.Listen)
	port, _ := strconv.Atoi(ps)
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(port),
		// kfake always asks for 127.0.0.1; bind the configured loopback host.
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			return net.Listen(network, net.JoinHostPort(host, strconv.Itoa(port)))
		}),
		kfake.AllowAutoTopicCreation(),
		// Compact every 30 s instead of kfake's hourly default: every bid
		// writes a hold record to the compacted lease log, which should stay
		// near one record per number.
		kfake.BrokerConfigs(map[string]string{"log.cleaner.backoff.ms": "30000"}),
		kfake.DefaultNumPartitions(cfg.Partitions),
		kfake.WithLogger(kfakeLogger{log}),
	}
	if cfg.DataDir != "" {
		opts = append(opts, kfake.DataDir(cfg.DataDir))
	}
	opts = append(opts, extra...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("cannot start the embedded kafka broker on %s: %w", cfg.Listen, err)
	}
	for _, t := range topics {
		// History topics are capped by size (the broker holds them in this
		// process's memory); state topics are compacted and never cut.
		conf := map[string]string{"retention.bytes": strconv.FormatInt(cfg.RetentionBytes, 10)}
		if events.Compacted(t) {
			conf = map[string]string{"cleanup.policy": "compact"}
		}
		if err := c.CreateTopic(t, int32(cfg.Partitions), conf); err != nil && c.TopicInfo(t) == nil {
			c.Close()
			return nil, fmt.Errorf("cannot create topic %q on the embedded kafka broker: %w", t, err)
		}
	}
	addrs := c.ListenAddrs()
	if len(addrs) == 0 {
		c.Close()
		return nil, errors.New("cannot start the embedded kafka broker: it reports no listen address")
	}
	e := &Broker{c: c, addr: addrs[0]}
	log.Info().Str("addr", e.addr).Strs("topics", topics).Int("partitions", cfg.Partitions).
		Bool("persistent", cfg.DataDir != "").Msg("embedded kafka broker (kfake) started; for demos and tests only")
	return e, nil
}

// Addr is the broker's host:port.
func (e *Broker) Addr() string { return e.addr }

// Close stops the broker; clients connected to it see the broker go down.
func (e *Broker) Close() { e.c.Close() }

// kfakeLogger forwards kfake's warnings and errors; its info/debug output is
// per request and stays off.
type kfakeLogger struct{ log zerolog.Logger }

func (l kfakeLogger) Logf(level kfake.LogLevel, msg string, args ...any) {
	switch level {
	case kfake.LogLevelError:
		l.log.Error().Str("component", "kfake").Msgf(msg, args...)
	case kfake.LogLevelWarn:
		l.log.Warn().Str("component", "kfake").Msgf(msg, args...)
	}
}
