package kafkaio

import (
	"net"
	"strconv"
	"testing"

	"github.com/callbid/callbid/events"
	"github.com/twmb/franz-go/pkg/kfake"
)

// testBroker is a kfake broker for this package's tests. The embedbroker
// package imports kafkaio, so these internal tests start kfake themselves.
type testBroker struct{ c *kfake.Cluster }

func (b *testBroker) Addr() string { return b.c.ListenAddrs()[0] }
func (b *testBroker) Close()       { b.c.Close() }

// startEmbedded starts kfake on cfg.Listen (port 0: any) with the given
// topics created (compacted where Compacted says) and auto-creation on, like
// embedbroker.Start.
func startEmbedded(t testing.TB, cfg EmbeddedConfig, topics []string, opts ...kfake.Opt) *testBroker {
	t.Helper()
	return startKfake(t, cfg, topics, append(opts, kfake.AllowAutoTopicCreation())...)
}

// startKfake is startEmbedded with topic auto-creation off, as on most
// production clusters.
func startKfake(t testing.TB, cfg EmbeddedConfig, topics []string, opts ...kfake.Opt) *testBroker {
	t.Helper()
	cfg.SetDefaults()
	_, ps, _ := net.SplitHostPort(cfg.Listen) // kfake listens on 127.0.0.1
	port, _ := strconv.Atoi(ps)
	base := []kfake.Opt{kfake.NumBrokers(1), kfake.Ports(port), kfake.DefaultNumPartitions(cfg.Partitions)}
	if cfg.DataDir != "" {
		base = append(base, kfake.DataDir(cfg.DataDir))
	}
	c, err := kfake.NewCluster(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range topics {
		var conf map[string]string
		if events.Compacted(tp) {
			conf = map[string]string{"cleanup.policy": "compact"}
		}
		if err := c.CreateTopic(tp, int32(cfg.Partitions), conf); err != nil && c.TopicInfo(tp) == nil {
			c.Close()
			t.Fatal(err)
		}
	}
	return &testBroker{c: c}
}
