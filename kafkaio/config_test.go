package kafkaio

import (
	"strings"
	"testing"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/rs/zerolog"
	"gopkg.in/yaml.v3"
)

func TestConfigYAMLAndDefaults(t *testing.T) {
	var root struct {
		Kafka Config `yaml:"kafka"`
	}
	src := `
kafka:
  brokers: ["kafka-1:9092", "kafka-2:9092"]
  client_id: callbid-eu
  dial_timeout: 3s
  max_wait: 250ms
  batch_timeout: 5ms
  required_acks: one
  queue_size: 1000
  topics: {auto_create: true, partitions: 12, replication_factor: 3}
`
	if err := yaml.Unmarshal([]byte(src), &root); err != nil {
		t.Fatal(err)
	}
	c := root.Kafka
	if err := c.Validate(); err != nil {
		t.Fatalf("valid config rejected: %v", err)
	}
	if c.DialTimeout != 3*time.Second || c.MaxWait != 250*time.Millisecond || c.QueueSize != 1000 || c.Topics.Partitions != 12 {
		t.Errorf("decoded %+v", c)
	}
	c.SetDefaults()
	if c.BatchSize != DefaultBatchSize || c.MaxBytes != DefaultMaxBytes || c.RequiredAcks != "one" || c.RetryBackoffMax != DefaultRetryBackoffMax {
		t.Errorf("defaults not filled or overrode a set value: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
	var z Config
	z.Embedded.Enabled = true
	z.SetDefaults()
	if err := z.Validate(); err != nil {
		t.Errorf("embedded defaults do not validate: %v", err)
	}
}

func TestConfigValidateReportsEveryProblem(t *testing.T) {
	c := Config{
		Brokers:        []string{"foo", "ok:9092", "host:0", ":9092"},
		ClientID:       "bad id!",
		DialTimeout:    -time.Second,
		MinBytes:       5000,
		MaxBytes:       500,
		MaxWait:        time.Hour,
		RequestTimeout: time.Second,
		BatchSize:      -1,
		RequiredAcks:   "some",
		QueueSize:      -5,
		Embedded:       EmbeddedConfig{Enabled: true, Listen: "10.0.0.1:9092", Partitions: 5000},
		Topics:         TopicsConfig{ReplicationFactor: -1},
	}
	err := c.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	want := []string{
		`brokers[0]: "foo" is not host:port`,
		`brokers[2]: "host:0" is not host:port`,
		`brokers[3]: ":9092" is not host:port`,
		`client_id: "bad id!"`,
		`dial_timeout: -1s is outside`,
		`max_bytes: 500 is outside`,
		`min_bytes: 5000 is larger than max_bytes 500`,
		`max_wait: 1h0m0s is outside`,
		`request_timeout: 1s must be at least twice max_wait`,
		`batch_size: -1 is outside`,
		`required_acks: "some" must be all, one or none`,
		`queue_size: -5 is outside`,
		`embedded.listen: "10.0.0.1:9092" is not a loopback address`,
		`embedded.partitions: 5000 is outside`,
		`topics.replication_factor: -1`,
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in:\n%v", w, err)
		}
	}
	if strings.Contains(err.Error(), "brokers[1]") {
		t.Errorf("valid broker reported: %v", err)
	}
	if err := (&Config{}).Validate(); err == nil || !strings.HasPrefix(err.Error(), "brokers: at least one broker") {
		t.Errorf("empty config: %v", err)
	}
}

// With shared pools a fetch waits for more than one record (the lease
// records of the other instances arrive at their bid rate), unless the
// config sets its own sizing.
func TestConfigSharedPoolsFetchDefaults(t *testing.T) {
	var one, shared, set Config
	one.SetDefaults()
	shared.SharedPools, shared.Brokers = true, []string{"kafka-1:9092"}
	shared.SetDefaults()
	set.SharedPools, set.MinBytes, set.MaxWait = true, 1, time.Second
	set.SetDefaults()
	if one.MinBytes != DefaultMinBytes || one.MaxWait != DefaultMaxWait {
		t.Errorf("one instance: min_bytes %d, max_wait %s", one.MinBytes, one.MaxWait)
	}
	if shared.MinBytes != DefaultSharedMinBytes || shared.MaxWait != DefaultSharedMaxWait {
		t.Errorf("shared pools: min_bytes %d, max_wait %s", shared.MinBytes, shared.MaxWait)
	}
	if set.MinBytes != 1 || set.MaxWait != time.Second {
		t.Errorf("shared pools with sizing set: min_bytes %d, max_wait %s", set.MinBytes, set.MaxWait)
	}
	if err := shared.Validate(); err != nil {
		t.Errorf("shared pools defaults do not validate: %v", err)
	}
}

// The lease log's consumer waits for more than one record even for one
// instance (its records are mostly the process's own hold batches); other
// topics keep the low-latency sizing, and a sizing the config sets wins.
func TestLeaseConsumerFetchSizing(t *testing.T) {
	cfg := Config{Brokers: []string{"127.0.0.1:1"}}
	leases := NewConsumer(cfg, events.TopicLeases, func(Message) {}, zerolog.Nop())
	calls := NewConsumer(cfg, events.TopicCall, func(Message) {}, zerolog.Nop())
	cfg.MinBytes, cfg.MaxWait = 1, time.Second
	set := NewConsumer(cfg, events.TopicLeases, func(Message) {}, zerolog.Nop())
	for _, c := range []struct {
		c    *Consumer
		min  int
		wait time.Duration
		what string
	}{{leases, DefaultSharedMinBytes, DefaultSharedMaxWait, "lease log"}, {calls, DefaultMinBytes, DefaultMaxWait, "calls"},
		{set, 1, time.Second, "lease log with sizing set"}} {
		if c.c.cfg.MinBytes != c.min || c.c.cfg.MaxWait != c.wait {
			t.Errorf("%s: min_bytes %d, max_wait %s; want %d, %s", c.what, c.c.cfg.MinBytes, c.c.cfg.MaxWait, c.min, c.wait)
		}
	}
}
