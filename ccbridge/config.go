package ccbridge

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/kafkaio"
)

// Defaults for the zero values of Config.
const (
	DefaultAdminListen       = "127.0.0.1:8091"
	DefaultMaxBodyBytes      = 1 << 20
	DefaultHeartbeatInterval = 60 * time.Second
	DefaultForgetAfter       = 24 * time.Hour
	DefaultConnectTTL        = 300 * time.Second // 2.5 × Connect's 120 s HEART_BEAT
	DefaultSynthesizedTTL    = 180 * time.Second // 3 × the default heartbeat interval
	DefaultSkillCacheTTL     = 10 * time.Minute
	DefaultTwilioLevelScale  = 0.5 // Flex skill levels 0–10 → proficiency 0–5
	DefaultProficiency       = 3
)

// Config is the ccbridge config file. Zero values mean the documented
// default; Parse decodes strictly and Validate names every problem by its
// field path from the file's root.
type Config struct {
	// Kafka is the same section callbid reads (brokers, client, TLS/SASL as
	// package kafkaio supports them).
	Kafka kafkaio.Config `yaml:"kafka"`
	// AgentIDPrefix is put in front of every platform agent id, e.g.
	// "acme:" → "acme:4f1c…", so two centers cannot collide.
	AgentIDPrefix string `yaml:"agent_id_prefix"`
	// SynthesizeSeq writes seq = occurred_at in microseconds (monotonic per
	// agent) for consumers that order by seq only; off by default: the
	// platforms have no per-agent counter and the records say so.
	SynthesizeSeq bool `yaml:"synthesize_seq"`
	// HeartbeatInterval is how often a logged-in agent of a platform
	// without native heartbeats (Twilio, Genesys) is re-sent as HEARTBEAT;
	// default 60s. Must be well below that platform's ttl.
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	// ForgetAfter drops an agent or call the bridge has not heard of for
	// this long, bounding memory; default 24h.
	ForgetAfter time.Duration `yaml:"forget_after"`
	// Channels an agent record lists when the platform does not say;
	// default [voice].
	Channels []string `yaml:"channels"`
	// Dispositions maps a platform's disposition (a Genesys wrap-up code id
	// or name, a Twilio task outcome) to a cc.outcome.v1 disposition (SALE,
	// NO_SALE, …). Unmapped codes produce no outcome and are counted.
	Dispositions map[string]string `yaml:"dispositions"`

	// AdminListen serves /healthz and /metrics (Prometheus); default
	// 127.0.0.1:8091, "off" disables it.
	AdminListen string `yaml:"admin_listen"`

	Webhook WebhookConfig `yaml:"webhook"`
	Connect ConnectConfig `yaml:"connect"`
	Twilio  TwilioConfig  `yaml:"twilio"`
	Genesys GenesysConfig `yaml:"genesys"`
}

// WebhookConfig is the HTTP listener for pushed events (Twilio Event Streams
// and TaskRouter callbacks, EventBridge API destinations, Genesys relays).
type WebhookConfig struct {
	// Listen is host:port; empty turns the listener off (NDJSON input only).
	Listen string `yaml:"listen"`
	// MaxBodyBytes refuses larger bodies with 413; default 1 MiB.
	MaxBodyBytes int `yaml:"max_body_bytes"`
	// APIKeyHeader and APIKey authenticate EventBridge API destinations and
	// Genesys relays (an EventBridge connection with API-key
	// authorization sends this header). CCBRIDGE_API_KEY overrides APIKey.
	APIKeyHeader string `yaml:"api_key_header"`
	APIKey       string `yaml:"api_key"`
	// AllowUnauthenticated accepts requests without a valid signature or
	// API key; for local tests only.
	AllowUnauthenticated bool `yaml:"allow_unauthenticated"`
}

// QueueSkill maps a contact-center queue to a callbid skill.
type QueueSkill struct {
	// Name or ARN/id of the queue (either may be given; ARN wins).
	Name string `yaml:"name"`
	ARN  string `yaml:"arn"`
	// Skill is the callbid skill name (campaign skill.name).
	Skill string `yaml:"skill"`
	// Proficiency an agent serving the queue gets for the skill, 0–5;
	// default 3.
	Proficiency float64 `yaml:"proficiency"`
}

// AttributeSkill maps a Connect predefined attribute (Name, Value) to a
// skill; the agent's proficiency level (1–5) is the proficiency.
type AttributeSkill struct {
	Attribute string `yaml:"attribute"`
	Value     string `yaml:"value"`
	Skill     string `yaml:"skill"`
}

// ConnectConfig maps Amazon Connect agent event stream records and contact
// events.
type ConnectConfig struct {
	// TTL is ttl_seconds of Connect agents; default 300s (Connect sends a
	// HEART_BEAT every 120 s).
	TTL time.Duration `yaml:"ttl"`
	// Queues maps routing-profile inbound queues (by ARN or name) to skills;
	// contact events name queues by ARN only, so give ARNs for call skills.
	Queues []QueueSkill `yaml:"queues"`
	// Proficiencies maps predefined attributes to skills.
	Proficiencies []AttributeSkill `yaml:"proficiencies"`
	// Statuses maps an agent status name (current or NextAgentStatus) to a
	// routing state: AVAILABLE, NOT_ROUTABLE or OFFLINE. Defaults:
	// "Available" → AVAILABLE, "Offline" → OFFLINE, other → by status type
	// (ROUTABLE → AVAILABLE, OFFLINE → OFFLINE, CUSTOM → NOT_ROUTABLE).
	Statuses map[string]string `yaml:"statuses"`
}

// TwilioConfig maps TaskRouter events (Event Streams CloudEvents or the
// workspace EventCallbackUrl).
type TwilioConfig struct {
	// AuthToken validates X-Twilio-Signature; CCBRIDGE_TWILIO_AUTH_TOKEN
	// overrides it. Required for the Twilio routes unless
	// webhook.allow_unauthenticated.
	AuthToken string `yaml:"auth_token"`
	// PublicURL is the scheme://host[:port] Twilio calls (the signature
	// covers the full URL Twilio used, which a proxy may rewrite).
	PublicURL string `yaml:"public_url"`
	// TTL is ttl_seconds of Twilio workers; default 180s.
	TTL time.Duration `yaml:"ttl"`
	// Activities maps an Activity friendly name to AVAILABLE, NOT_ROUTABLE
	// or OFFLINE; defaults "Available" → AVAILABLE, "Offline" → OFFLINE,
	// anything else NOT_ROUTABLE.
	Activities map[string]string `yaml:"activities"`
	// SkillsAttribute and LevelsAttribute are dotted paths into the worker
	// attributes JSON: an array of skill names and an object of levels by
	// skill (Flex's routing.skills and routing.levels by default).
	SkillsAttribute string `yaml:"skills_attribute"`
	LevelsAttribute string `yaml:"levels_attribute"`
	// LevelScale multiplies a level into a 0–5 proficiency (capped at 5);
	// default 0.5 (Flex levels 0–10).
	LevelScale float64 `yaml:"level_scale"`
	// DefaultProficiency of a skill without a level; default 3.
	DefaultProficiency float64 `yaml:"default_proficiency"`
	// TaskQueues maps a TaskQueue friendly name (or sid) to the skill of
	// the calls queued there.
	TaskQueues map[string]string `yaml:"task_queues"`
	// OutcomeAttribute is the dotted path of a task attribute holding the
	// disposition (mapped through dispositions); default
	// "conversations.outcome" (Flex Insights).
	OutcomeAttribute string `yaml:"outcome_attribute"`
}

// GenesysConfig maps Genesys Cloud notifications.
type GenesysConfig struct {
	// TTL is ttl_seconds of Genesys users; default 180s.
	TTL time.Duration `yaml:"ttl"`
	// Skills is the config-table SkillLookup: user id → skills. A real
	// deployment plugs the routing-skills API in behind SkillLookup.
	Skills map[string][]events.AgentSkill `yaml:"skills"`
	// SkillCacheTTL is how long a looked-up skill set is reused; default 10m.
	SkillCacheTTL time.Duration `yaml:"skill_cache_ttl"`
	// Queues maps a queue id to the skill of calls queued there.
	Queues map[string]string `yaml:"queues"`
	// Presences maps a system presence (AVAILABLE, BUSY, BREAK …) to a
	// routing state used when routing status alone does not decide;
	// defaults: OFFLINE → OFFLINE, ON_QUEUE → AVAILABLE, others
	// NOT_ROUTABLE.
	Presences map[string]string `yaml:"presences"`
}

// SetDefaults fills every zero value with its default.
func (c *Config) SetDefaults() {
	c.Kafka.SetDefaults()
	def(&c.HeartbeatInterval, DefaultHeartbeatInterval)
	def(&c.ForgetAfter, DefaultForgetAfter)
	if len(c.Channels) == 0 {
		c.Channels = []string{"voice"}
	}
	def(&c.AdminListen, DefaultAdminListen)
	def(&c.Webhook.MaxBodyBytes, DefaultMaxBodyBytes)
	def(&c.Webhook.APIKeyHeader, "X-Api-Key")
	def(&c.Connect.TTL, DefaultConnectTTL)
	def(&c.Twilio.TTL, DefaultSynthesizedTTL)
	def(&c.Twilio.SkillsAttribute, "routing.skills")
	def(&c.Twilio.LevelsAttribute, "routing.levels")
	def(&c.Twilio.LevelScale, DefaultTwilioLevelScale)
	def(&c.Twilio.DefaultProficiency, DefaultProficiency)
	def(&c.Twilio.OutcomeAttribute, "conversations.outcome")
	def(&c.Genesys.TTL, DefaultSynthesizedTTL)
	def(&c.Genesys.SkillCacheTTL, DefaultSkillCacheTTL)
	for i := range c.Connect.Queues {
		def(&c.Connect.Queues[i].Proficiency, DefaultProficiency)
	}
}

func def[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

// Parse decodes YAML strictly: an unknown key is an error with its line.
func Parse(data []byte) (*Config, error) {
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	// An empty file is the all-defaults config.
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("cannot parse YAML: %w", err)
	}
	return &cfg, nil
}

var availStates = map[string]bool{events.StateAvailable: true, events.StateNotRoutable: true, events.StateOffline: true}

var dispositions = map[string]bool{
	events.DispositionSale: true, events.DispositionNoSale: true, events.DispositionCallback: true,
	events.DispositionFollowUp: true, events.DispositionNotQualified: true, events.DispositionWrongNumber: true,
	events.DispositionSpam: true,
}

// Validate reports every problem, each prefixed with its field path.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if err := c.Kafka.Validate(); err != nil {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				add("kafka.%w", e)
			}
		} else {
			add("kafka.%w", err)
		}
	}
	if len(c.AgentIDPrefix) > 64 {
		add("agent_id_prefix: longer than 64 bytes")
	}
	positive := func(path string, d, lo, hi time.Duration) {
		if d != 0 && (d < lo || d > hi) {
			add("%s: %s is outside %s-%s", path, d, lo, hi)
		}
	}
	positive("heartbeat_interval", c.HeartbeatInterval, time.Second, time.Hour)
	positive("forget_after", c.ForgetAfter, time.Minute, 30*24*time.Hour)
	positive("connect.ttl", c.Connect.TTL, 10*time.Second, 24*time.Hour)
	positive("twilio.ttl", c.Twilio.TTL, 10*time.Second, 24*time.Hour)
	positive("genesys.ttl", c.Genesys.TTL, 10*time.Second, 24*time.Hour)
	positive("genesys.skill_cache_ttl", c.Genesys.SkillCacheTTL, time.Second, 24*time.Hour)
	d := *c
	d.SetDefaults()
	if d.Twilio.TTL < 2*d.HeartbeatInterval {
		add("twilio.ttl: %s must be at least twice heartbeat_interval (%s), or idle workers expire between heartbeats", d.Twilio.TTL, d.HeartbeatInterval)
	}
	if d.Genesys.TTL < 2*d.HeartbeatInterval {
		add("genesys.ttl: %s must be at least twice heartbeat_interval (%s), or idle users expire between heartbeats", d.Genesys.TTL, d.HeartbeatInterval)
	}
	for k, v := range c.Dispositions {
		if !dispositions[v] {
			add("dispositions[%q]: %q is not a cc.outcome.v1 disposition (SALE, NO_SALE, CALLBACK_REQUESTED, FOLLOW_UP_EXPECTED, NOT_QUALIFIED, WRONG_NUMBER, SPAM)", k, v)
		}
	}
	if c.AdminListen != "" && c.AdminListen != "off" {
		if _, _, err := net.SplitHostPort(c.AdminListen); err != nil {
			add("admin_listen: %q is not host:port (or off)", c.AdminListen)
		}
	}
	if c.Webhook.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Webhook.Listen); err != nil {
			add("webhook.listen: %q is not host:port", c.Webhook.Listen)
		}
	}
	if c.Webhook.MaxBodyBytes != 0 && (c.Webhook.MaxBodyBytes < 1024 || c.Webhook.MaxBodyBytes > 64<<20) {
		add("webhook.max_body_bytes: %d is outside 1024-%d", c.Webhook.MaxBodyBytes, 64<<20)
	}
	for i, q := range c.Connect.Queues {
		if q.Name == "" && q.ARN == "" {
			add("connect.queues[%d]: name or arn is required", i)
		}
		if q.Skill == "" {
			add("connect.queues[%d].skill: required", i)
		}
		if q.Proficiency < 0 || q.Proficiency > 5 {
			add("connect.queues[%d].proficiency: %g is outside 0-5", i, q.Proficiency)
		}
	}
	for i, p := range c.Connect.Proficiencies {
		if p.Attribute == "" || p.Value == "" || p.Skill == "" {
			add("connect.proficiencies[%d]: attribute, value and skill are required", i)
		}
	}
	states := func(path string, m map[string]string) {
		for k, v := range m {
			if !availStates[v] {
				add("%s[%q]: %q must be AVAILABLE, NOT_ROUTABLE or OFFLINE", path, k, v)
			}
		}
	}
	states("connect.statuses", c.Connect.Statuses)
	states("twilio.activities", c.Twilio.Activities)
	states("genesys.presences", c.Genesys.Presences)
	if c.Twilio.LevelScale < 0 || c.Twilio.LevelScale > 5 {
		add("twilio.level_scale: %g is outside 0-5", c.Twilio.LevelScale)
	}
	if c.Twilio.DefaultProficiency < 0 || c.Twilio.DefaultProficiency > 5 {
		add("twilio.default_proficiency: %g is outside 0-5", c.Twilio.DefaultProficiency)
	}
	if c.Twilio.AuthToken != "" && c.Twilio.PublicURL == "" {
		add("twilio.public_url: required with twilio.auth_token (the signature covers the URL Twilio called)")
	}
	for user, skills := range c.Genesys.Skills {
		for i, s := range skills {
			if s.Name == "" {
				add("genesys.skills[%q][%d].name: required", user, i)
			}
			if s.Proficiency < 0 || s.Proficiency > 5 {
				add("genesys.skills[%q][%d].proficiency: %g is outside 0-5", user, i, s.Proficiency)
			}
		}
	}
	return errors.Join(errs...)
}

// Environment variables that override the file, so secrets stay out of it.
// The Kafka brokers use callbid's own variable: both run against the same
// cluster.
const (
	EnvKafkaBrokers    = "CALLBID_KAFKA_BROKERS"
	EnvTwilioAuthToken = "CCBRIDGE_TWILIO_AUTH_TOKEN"
	EnvAPIKey          = "CCBRIDGE_API_KEY"
)

// Load reads path ("" means all defaults), applies the environment from
// getenv and validates. Every problem is reported with its field path.
func Load(path string, getenv func(string) string) (*Config, error) {
	var data []byte
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("cannot read config file: %w", err)
		}
		data = b
	}
	cfg, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("cannot load config %s: %w", path, err)
	}
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	if v := getenv(EnvKafkaBrokers); v != "" {
		cfg.Kafka.Brokers = nil
		for _, b := range strings.Split(v, ",") {
			if b = strings.TrimSpace(b); b != "" {
				cfg.Kafka.Brokers = append(cfg.Kafka.Brokers, b)
			}
		}
		cfg.Kafka.Embedded.Enabled = false
	}
	if v := getenv(EnvTwilioAuthToken); v != "" {
		cfg.Twilio.AuthToken = v
	}
	if v := getenv(EnvAPIKey); v != "" {
		cfg.Webhook.APIKey = v
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("config %s is not valid:\n%w", path, err)
	}
	return cfg, nil
}
