package capacity

import (
	"github.com/callbid/callbid/events"
	"github.com/twmb/franz-go/pkg/kfake"
)

// testBroker is an in-process kfake broker for the Kafka tests of this
// package (package embedbroker is for commands only).
type testBroker struct{ c *kfake.Cluster }

func (b *testBroker) Addr() string { return b.c.ListenAddrs()[0] }
func (b *testBroker) Close()       { b.c.Close() }

// startBroker starts kfake on a free port with topics of the given
// partitions (compacted where events.Compacted says).
func startBroker(partitions int, topics ...string) (*testBroker, error) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(partitions))
	if err != nil {
		return nil, err
	}
	for _, tp := range topics {
		var conf map[string]string
		if events.Compacted(tp) {
			conf = map[string]string{"cleanup.policy": "compact"}
		}
		if err := c.CreateTopic(tp, int32(partitions), conf); err != nil {
			c.Close()
			return nil, err
		}
	}
	return &testBroker{c: c}, nil
}
