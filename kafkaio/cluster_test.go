package kafkaio

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// syncBuf is a log sink safe for the check's goroutine and the test.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

var inboundTopics = []string{events.TopicAgentState, events.TopicCall, events.TopicOutcome}

func TestCheckTopicsMissing(t *testing.T) {
	b := startKfake(t, EmbeddedConfig{Partitions: 2}, inboundTopics) // auto-creation off, as on most clusters
	defer b.Close()
	cfg := testConfig(b.Addr())
	cfg.Topics.ReplicationFactor = 3
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := CheckTopics(ctx, cfg, events.Required(false), zerolog.Nop()) // cc.schedule.v1 is not required then
	var mt *MissingTopicsError
	if !errors.As(err, &mt) {
		t.Fatalf("CheckTopics = %v, want *MissingTopicsError", err)
	}
	want := []string{events.TopicAttribution, events.TopicBids, events.TopicDemand, events.TopicImpressions, events.TopicLeases}
	if !slices.Equal(mt.Topics, want) {
		t.Errorf("missing %q, want %q", mt.Topics, want)
	}
	leases := "kafka-topics.sh --bootstrap-server " + b.Addr() + " --create --if-not-exists --topic callbid.leases.v1 --partitions 6 --replication-factor 3 --config cleanup.policy=compact"
	if !slices.Contains(mt.Commands, leases) {
		t.Errorf("commands %q lack %q", mt.Commands, leases)
	}
	for _, c := range mt.Commands {
		if strings.Contains(c, events.TopicImpressions) && strings.Contains(c, "compact") {
			t.Errorf("impressions must not be compacted (every win and bill is replayed): %s", c)
		}
	}
	if msg := err.Error(); !strings.Contains(msg, "callbid.leases.v1") || !strings.Contains(msg, "kafka.topics.auto_create") {
		t.Errorf("error does not name the topics and the setting: %s", msg)
	}
	// Nothing was created behind the operator's back.
	if b.c.TopicInfo(events.TopicLeases) != nil {
		t.Error("CheckTopics created a topic without kafka.topics.auto_create")
	}
}

func TestCheckTopicsAutoCreate(t *testing.T) {
	b := startKfake(t, EmbeddedConfig{Partitions: 2}, inboundTopics)
	defer b.Close()
	cfg := testConfig(b.Addr())
	cfg.Topics.AutoCreate = true
	cfg.Topics.Partitions = 3
	var logs syncBuf
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := CheckTopics(ctx, cfg, events.AllTopics, zerolog.New(&logs)); err != nil {
		t.Fatalf("CheckTopics with auto_create: %v", err)
	}
	for _, topic := range events.AllTopics {
		info := b.c.TopicInfo(topic)
		if info == nil {
			t.Errorf("%s not created", topic)
			continue
		}
		policy := ""
		if p := info.Configs["cleanup.policy"]; p != nil {
			policy = *p
		}
		if events.Compacted(topic) != (policy == "compact") {
			t.Errorf("%s has cleanup.policy %q; compacted should be %v", topic, policy, events.Compacted(topic))
		}
	}
	if !strings.Contains(logs.String(), "created the missing kafka topics") {
		t.Errorf("no log of the creation: %s", logs.String())
	}
	// A second check finds everything and creates nothing.
	if err := CheckTopics(ctx, cfg, events.AllTopics, zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
}

func TestCheckTopicsWarnsWhenNotCompacted(t *testing.T) {
	b := startKfake(t, EmbeddedConfig{Partitions: 2}, nil)
	defer b.Close()
	if err := b.c.CreateTopic(events.TopicLeases, 2, map[string]string{"cleanup.policy": "delete"}); err != nil {
		t.Fatal(err)
	}
	var logs syncBuf
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := CheckTopics(ctx, testConfig(b.Addr()), []string{events.TopicLeases}, zerolog.New(&logs)); err != nil {
		t.Fatal(err)
	}
	if l := logs.String(); !strings.Contains(l, `"topic":"callbid.leases.v1"`) || !strings.Contains(l, "should be compacted") {
		t.Errorf("no warning about the lease log's cleanup policy: %s", l)
	}
}

func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

func TestClusterCheckMissingThenCreated(t *testing.T) {
	b := startKfake(t, EmbeddedConfig{Partitions: 2}, inboundTopics)
	defer b.Close()
	cfg := testConfig(b.Addr())
	var logs syncBuf
	// What callbid checks with capacity.channels.schedules off: a missing
	// cc.schedule.v1 is not a missing topic then.
	cc := NewClusterCheck(cfg, events.Required(false), zerolog.New(&logs))
	cc.RecheckEvery = 20 * time.Millisecond
	reg := prometheus.NewRegistry()
	if err := cc.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	if ok, why := cc.Ready(); ok || !strings.Contains(why, "not checked yet") {
		t.Fatalf("Ready before the check = %v %q", ok, why)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { cc.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	waitFor(t, 10*time.Second, "missing topics reported", func() bool {
		_, why := cc.Ready()
		return strings.Contains(why, "kafka topics missing")
	})
	_, why := cc.Ready()
	if !strings.Contains(why, "callbid.leases.v1") || !strings.Contains(why, "kafka-topics.sh") || strings.Contains(why, events.TopicSchedule) {
		t.Errorf("readiness reason %q does not name the topic and the command", why)
	}
	if n := gauge(t, reg, "callbid_kafka_topics_missing"); n != 5 {
		t.Errorf("callbid_kafka_topics_missing = %v, want 5", n)
	}
	// The operator creates them; the re-check clears readiness.
	if err := EnsureTopics(ctx, cfg, events.Required(false)...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "ready once the topics exist", func() bool { ok, _ := cc.Ready(); return ok })
	<-done // Run returns once the cluster is fine
	if n := gauge(t, reg, "callbid_kafka_topics_missing"); n != 0 {
		t.Errorf("callbid_kafka_topics_missing = %v after creation", n)
	}
	if n := strings.Count(logs.String(), "kafka topics callbid needs do not exist"); n != 1 {
		t.Errorf("missing topics logged %d times, want once:\n%s", n, logs.String())
	}
}

func TestClusterCheckWrongPassword(t *testing.T) {
	pki := newTestPKI(t)
	b := startSecureBroker(t, pki)
	defer b.Close()
	cfg := testConfig(b.Addr())
	cfg.TLS = TLSConfig{Enabled: true, CAFile: pki.caFile}
	cfg.SASL = SASLConfig{Mechanism: MechanismSCRAMSHA256, Username: "scram256-user", Password: "wrong"}
	var logs syncBuf
	cc := NewClusterCheck(cfg, events.AllTopics, zerolog.New(&logs))
	reg := prometheus.NewRegistry()
	if err := cc.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cc.Run(ctx) // returns by itself: a refused password is not retried
	if ctx.Err() != nil {
		t.Fatal("Run retried a refused password until the deadline")
	}
	ok, why := cc.Ready()
	if ok || !strings.Contains(why, "SASL SCRAM-SHA-256 authentication") {
		t.Errorf("Ready = %v %q, want the SASL failure", ok, why)
	}
	if n := strings.Count(logs.String(), `"level":"error"`); n != 1 {
		t.Errorf("%d error lines, want exactly one:\n%s", n, logs.String())
	}
	if gauge(t, reg, "callbid_kafka_security_error") != 1 {
		t.Error("callbid_kafka_security_error is not 1")
	}
}
