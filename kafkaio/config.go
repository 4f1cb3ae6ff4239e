package kafkaio

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/segmentio/kafka-go"
)

// Defaults for the zero values of Config (SetDefaults fills them; the
// constructors apply them to their own copy, so calling SetDefaults is
// optional).
const (
	DefaultClientID       = "callbid"
	DefaultDialTimeout    = 5 * time.Second
	DefaultRequestTimeout = 10 * time.Second
	DefaultMinBytes       = 1
	DefaultMaxBytes       = 4 << 20
	DefaultMaxWait        = 500 * time.Millisecond
	// With shared_pools every instance reads the others' lease records; a
	// fetch per few records was most of what sharing cost in CPU (README
	// "Running several instances"), so a fetch then waits for 64 KiB or
	// 50 ms.
	DefaultSharedMinBytes    = 64 << 10
	DefaultSharedMaxWait     = 50 * time.Millisecond
	DefaultBatchSize         = 1000
	DefaultBatchBytes        = 1 << 20
	DefaultBatchTimeout      = 10 * time.Millisecond
	DefaultRequiredAcks      = "all"
	DefaultQueueSize         = 65536
	DefaultRetryBackoffMin   = 100 * time.Millisecond
	DefaultRetryBackoffMax   = 5 * time.Second
	DefaultEmbeddedListen    = "127.0.0.1:0"
	DefaultEmbeddedPartition = 4
	DefaultTopicPartitions   = 6
)

// Config is the kafka section of the config file (yaml key "kafka"). Zero
// values mean the documented default.
type Config struct {
	// Brokers are host:port bootstrap addresses. Empty with Embedded.Enabled
	// means the in-process kfake broker (see UseEmbedded); when both are set
	// the brokers win and nothing embedded starts (so a config rewritten by
	// UseEmbedded still validates).
	Brokers []string `yaml:"brokers"`
	// ClientID names callbid in broker logs and quotas; default "callbid".
	ClientID string `yaml:"client_id"`
	// DialTimeout bounds a TCP connect; default 5s.
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// RequestTimeout bounds one request round trip (metadata, list
	// offsets, fetch, produce); default 10s; at least twice MaxWait,
	// because kafka-go tells the broker half of it.
	RequestTimeout time.Duration `yaml:"request_timeout"`

	// Consumer fetch sizing: the broker answers a fetch once MinBytes are
	// available or MaxWait has passed, with at most MaxBytes per partition.
	// Defaults 1 byte, 4 MiB, 500ms (MinBytes 1 keeps latency low: the
	// long poll returns as soon as one record arrives); with SharedPools
	// 64 KiB and 50ms.
	MinBytes int           `yaml:"min_bytes"`
	MaxBytes int           `yaml:"max_bytes"`
	MaxWait  time.Duration `yaml:"max_wait"`

	// Producer batching: a batch per partition is sent when it holds
	// BatchSize records or BatchBytes bytes or BatchTimeout has passed.
	// Defaults 1000, 1 MiB, 10ms.
	BatchSize    int           `yaml:"batch_size"`
	BatchBytes   int64         `yaml:"batch_bytes"`
	BatchTimeout time.Duration `yaml:"batch_timeout"`
	// RequiredAcks is "all" (default), "one" or "none".
	RequiredAcks string `yaml:"required_acks"`
	// QueueSize bounds the records a Producer holds while the broker is
	// slow or down; beyond it Publish drops and counts. Default 65536.
	QueueSize int `yaml:"queue_size"`

	// RetryBackoffMin/Max bound the exponential backoff between attempts
	// when the broker is unreachable (consumer and producer). Defaults
	// 100ms and 5s.
	RetryBackoffMin time.Duration `yaml:"retry_backoff_min"`
	RetryBackoffMax time.Duration `yaml:"retry_backoff_max"`

	// TLS and SASL secure the connections to managed clusters (MSK,
	// Confluent Cloud, Aiven); see security.go.
	TLS  TLSConfig  `yaml:"tls"`
	SASL SASLConfig `yaml:"sasl"`

	// MaxFutureSkew is how far after its record's timestamp (or now, if
	// earlier) an inbound event's time may lie; later ones are rejected and
	// counted (callbid_events_bad_total{reason="future_time"}), so no
	// clock or record far ahead can pin state. Default 5m.
	MaxFutureSkew time.Duration `yaml:"max_future_skew"`

	Embedded EmbeddedConfig `yaml:"embedded"`
	Topics   TopicsConfig   `yaml:"topics"`

	// SharedPools: several instances share the number pools. Each joins the
	// consumer group GroupID on the lease topic and reserves only numbers
	// whose lease key maps to the partitions the group assigns it (see
	// PoolGroup). Off (default): one instance owns every number.
	SharedPools bool `yaml:"shared_pools"`
	// GroupID is the consumer group of instances sharing pools; default
	// "callbid".
	GroupID string `yaml:"group_id"`
	// GroupSessionTimeout is how long the group waits for a silent member
	// before its partitions move to the others; default 10s (brokers
	// accept 6s–5m by default).
	GroupSessionTimeout time.Duration `yaml:"group_session_timeout"`
}

// EmbeddedConfig controls the in-process Kafka-protocol broker (kfake) used
// by the demo default and by tests.
type EmbeddedConfig struct {
	Enabled bool `yaml:"enabled"`
	// Listen is a loopback host:port; port 0 picks a free port. Default
	// "127.0.0.1:0".
	Listen string `yaml:"listen"`
	// Partitions per seeded topic; default 4.
	Partitions int `yaml:"partitions"`
	// DataDir, when set, persists the broker's log there so a restart keeps
	// the topics (leases, impressions); empty keeps everything in memory.
	DataDir string `yaml:"data_dir"`
	// RetentionBytes bounds each partition of the topics that are not
	// compacted (impressions, attribution, bids, demand, calls): the demo
	// broker lives in callbid's own memory, so its history is capped and the
	// oldest records are dropped on the broker's 30 s cleaner tick. The
	// compacted state topics (leases, agent state, outcomes) are never cut by
	// size. Default 8 MiB.
	RetentionBytes int64 `yaml:"retention_bytes"`
}

// DefaultEmbeddedRetentionBytes bounds each non-compacted partition of the
// embedded broker.
const DefaultEmbeddedRetentionBytes = 8 << 20

// TopicsConfig says whether callbid creates the topics it uses when they
// are missing (with CreateTopics; the state topics are created compacted).
type TopicsConfig struct {
	AutoCreate bool `yaml:"auto_create"`
	// Partitions for created topics; default 6.
	Partitions int `yaml:"partitions"`
	// ReplicationFactor for created topics; 0 means the broker's default.
	ReplicationFactor int `yaml:"replication_factor"`
}

// SetDefaults fills every zero value with its default.
func (c *Config) SetDefaults() {
	setDefault(&c.ClientID, DefaultClientID)
	setDefault(&c.DialTimeout, DefaultDialTimeout)
	setDefault(&c.RequestTimeout, DefaultRequestTimeout)
	if c.SharedPools {
		setDefault(&c.MinBytes, DefaultSharedMinBytes)
		setDefault(&c.MaxWait, DefaultSharedMaxWait)
	}
	setDefault(&c.MinBytes, DefaultMinBytes)
	setDefault(&c.MaxBytes, DefaultMaxBytes)
	setDefault(&c.MaxWait, DefaultMaxWait)
	setDefault(&c.BatchSize, DefaultBatchSize)
	setDefault(&c.BatchBytes, DefaultBatchBytes)
	setDefault(&c.BatchTimeout, DefaultBatchTimeout)
	setDefault(&c.RequiredAcks, DefaultRequiredAcks)
	setDefault(&c.QueueSize, DefaultQueueSize)
	setDefault(&c.RetryBackoffMin, DefaultRetryBackoffMin)
	setDefault(&c.RetryBackoffMax, DefaultRetryBackoffMax)
	setDefault(&c.MaxFutureSkew, events.DefaultMaxFutureSkew)
	c.Embedded.SetDefaults()
	setDefault(&c.Topics.Partitions, DefaultTopicPartitions)
	setDefault(&c.GroupID, "callbid")
	setDefault(&c.GroupSessionTimeout, 10*time.Second)
}

// SetDefaults fills every zero value with its default.
func (c *EmbeddedConfig) SetDefaults() {
	setDefault(&c.Listen, DefaultEmbeddedListen)
	setDefault(&c.Partitions, DefaultEmbeddedPartition)
	setDefault(&c.RetentionBytes, DefaultEmbeddedRetentionBytes)
}

func setDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

// UseEmbedded points the client settings at a started embedded broker
// (package embedbroker, which only commands and tests import).
func (c *Config) UseEmbedded(e interface{ Addr() string }) { c.Brokers = []string{e.Addr()} }

var clientIDRe = regexp.MustCompile(`^[A-Za-z0-9._-]{1,249}$`)

// Validate reports every problem with its field path relative to "kafka".
// Zero values are valid (they mean the default).
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if len(c.Brokers) == 0 && !c.Embedded.Enabled {
		add("brokers: at least one broker is required unless embedded.enabled is true")
	}
	for i, b := range c.Brokers {
		if err := checkHostPort(b, false); err != nil {
			add("brokers[%d]: %q is not host:port (%v)", i, b, err)
		}
	}
	if c.ClientID != "" && !clientIDRe.MatchString(c.ClientID) {
		add("client_id: %q must be 1-249 characters of letters, digits, '.', '_' or '-'", c.ClientID)
	}
	durationIn(&errs, "dial_timeout", c.DialTimeout, time.Millisecond, 5*time.Minute)
	durationIn(&errs, "request_timeout", c.RequestTimeout, 10*time.Millisecond, 10*time.Minute)
	intIn(&errs, "min_bytes", int64(c.MinBytes), 1, 64<<20)
	intIn(&errs, "max_bytes", int64(c.MaxBytes), 1024, 1<<30)
	durationIn(&errs, "max_wait", c.MaxWait, time.Millisecond, 30*time.Second)
	if c.MinBytes > 0 && c.MaxBytes > 0 && c.MinBytes > c.MaxBytes {
		add("min_bytes: %d is larger than max_bytes %d", c.MinBytes, c.MaxBytes)
	}
	d := *c
	d.SetDefaults()
	if d.RequestTimeout < 2*d.MaxWait {
		add("request_timeout: %s must be at least twice max_wait (%s)", d.RequestTimeout, d.MaxWait)
	}
	intIn(&errs, "batch_size", int64(c.BatchSize), 1, 1_000_000)
	intIn(&errs, "batch_bytes", c.BatchBytes, 1024, 1<<30)
	durationIn(&errs, "batch_timeout", c.BatchTimeout, time.Microsecond, 10*time.Second)
	if _, err := parseAcks(c.RequiredAcks); err != nil {
		add("required_acks: %v", err)
	}
	intIn(&errs, "queue_size", int64(c.QueueSize), 1, 100_000_000)
	durationIn(&errs, "retry_backoff_min", c.RetryBackoffMin, time.Millisecond, time.Minute)
	durationIn(&errs, "retry_backoff_max", c.RetryBackoffMax, time.Millisecond, 10*time.Minute)
	if d.RetryBackoffMin > d.RetryBackoffMax {
		add("retry_backoff_min: %s is larger than retry_backoff_max %s", d.RetryBackoffMin, d.RetryBackoffMax)
	}
	errs = append(errs, c.validateSecurity()...)
	durationIn(&errs, "max_future_skew", c.MaxFutureSkew, time.Second, 24*time.Hour)
	durationIn(&errs, "group_session_timeout", d.GroupSessionTimeout, time.Second, 30*time.Minute)
	if err := c.Embedded.Validate(); err != nil {
		errs = append(errs, err)
	}
	intIn(&errs, "topics.partitions", int64(c.Topics.Partitions), 1, 100_000)
	if c.Topics.ReplicationFactor < 0 || c.Topics.ReplicationFactor > 32 {
		add("topics.replication_factor: %d must be 0 (broker default) to 32", c.Topics.ReplicationFactor)
	}
	return errors.Join(errs...)
}

// Validate reports every problem of the embedded section with its field path
// relative to "kafka".
func (c *EmbeddedConfig) Validate() error {
	var errs []error
	if c.Listen != "" {
		if err := checkHostPort(c.Listen, true); err != nil {
			errs = append(errs, fmt.Errorf("embedded.listen: %q is not host:port (%v)", c.Listen, err))
		} else if host, _, _ := net.SplitHostPort(c.Listen); !isLoopback(host) {
			errs = append(errs, fmt.Errorf("embedded.listen: %q is not a loopback address; the embedded broker is for the demo and tests only", c.Listen))
		}
	}
	intIn(&errs, "embedded.partitions", int64(c.Partitions), 1, 1000)
	if c.RetentionBytes != 0 {
		intIn(&errs, "embedded.retention_bytes", c.RetentionBytes, 64<<10, 1<<40)
	}
	return errors.Join(errs...)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func checkHostPort(s string, allowZeroPort bool) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return errors.New("missing port or malformed address")
	}
	if host == "" {
		return errors.New("empty host")
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 || (p == 0 && !allowZeroPort) {
		return fmt.Errorf("port %q is not 1-65535", port)
	}
	return nil
}

// intIn checks v in [lo, hi], zero meaning the default.
func intIn(errs *[]error, path string, v, lo, hi int64) {
	if v != 0 && (v < lo || v > hi) {
		*errs = append(*errs, fmt.Errorf("%s: %d is outside %d-%d", path, v, lo, hi))
	}
}

func durationIn(errs *[]error, path string, v, lo, hi time.Duration) {
	if v != 0 && (v < lo || v > hi) {
		*errs = append(*errs, fmt.Errorf("%s: %s is outside %s-%s", path, v, lo, hi))
	}
}

func parseAcks(s string) (kafka.RequiredAcks, error) {
	switch s {
	case "", "all", "-1":
		return kafka.RequireAll, nil
	case "one", "1":
		return kafka.RequireOne, nil
	case "none", "0":
		return kafka.RequireNone, nil
	}
	return 0, fmt.Errorf("%q must be all, one or none", s)
}
