package callbid

import (
	"bytes"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/callbid/callbid/bidder"
	"github.com/callbid/callbid/callrecords"
	"github.com/callbid/callbid/capacity"
	"github.com/callbid/callbid/ccsim"
	"github.com/callbid/callbid/feedback"
	"github.com/callbid/callbid/kafkaio"
	"github.com/callbid/callbid/numbers"
	"gopkg.in/yaml.v3"
)

// DefaultYAML is configs/callbid.yaml, the embedded demo default: an
// in-process Kafka-protocol broker and a simulated contact center.
//
//go:embed configs/callbid.yaml
var DefaultYAML []byte

// Config is the whole configuration file. Each section is the Config of the
// package that owns it; the bidder's (server, currency, exchanges, campaigns)
// sits at the top level.
type Config struct {
	bidder.Config `yaml:",inline"`
	Numbers       numbers.Config  `yaml:"numbers"`
	Capacity      capacity.Config `yaml:"capacity"`
	Feedback      feedback.Config `yaml:"feedback"`
	// CallRecords bounds the memory of calls, shared by numbers and
	// feedback (one record per call id).
	CallRecords callrecords.Config `yaml:"call_records"`
	Kafka       kafkaio.Config     `yaml:"kafka"`
	Simulator   ccsim.Config       `yaml:"simulator"`
	Log         LogConfig          `yaml:"log"`

	// Source names where the config came from ("embedded default" or a path),
	// for logs and /readyz.
	Source string `yaml:"-"`
	// Notes are things the loader decided that an operator should see in the
	// start-up log (a generated demo secret, environment overrides applied).
	Notes []string `yaml:"-"`
	// Warnings are the same for what the operator should change (deprecated
	// keys); they are logged at warn level.
	Warnings []string `yaml:"-"`

	generatedSecret, generatedToken bool
	pacingWindowConflict            bool // see pacingWindowFromCapacity
}

// LogConfig is the log section.
type LogConfig struct {
	// Level is a zerolog level: debug, info, warn, error. Default info.
	Level string `yaml:"level"`
	// Format is json (default: one JSON object per line, for collectors) or
	// console (coloured, aligned text for a human at a terminal).
	Format string `yaml:"format"`
}

// Validate checks the log section.
func (c *LogConfig) Validate() error {
	var errs []error
	switch c.Level {
	case "", "debug", "info", "warn", "error", "trace":
	default:
		errs = append(errs, fmt.Errorf("level: %q is not one of debug, info, warn, error", c.Level))
	}
	switch c.Format {
	case "", "json", "console":
	default:
		errs = append(errs, fmt.Errorf("format: %q is not json or console", c.Format))
	}
	return errors.Join(errs...)
}

// Environment variables that override the file (README, "Configuration reference").
const (
	EnvConfig       = "CALLBID_CONFIG"
	EnvListen       = "CALLBID_LISTEN"
	EnvAdminListen  = "CALLBID_ADMIN_LISTEN"
	EnvKafkaBrokers = "CALLBID_KAFKA_BROKERS"
	EnvCallsToken   = "CALLBID_CALLS_TOKEN"
	EnvNoticeSecret = "CALLBID_NOTICE_SECRET"

	// Kafka security (applied by kafkaio.Config.ApplyEnv, which agentsim
	// shares): CALLBID_KAFKA_TLS=true, the CA file, the SASL mechanism
	// (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, AWS_MSK_IAM), user and password.
	EnvKafkaTLS           = kafkaio.EnvKafkaTLS
	EnvKafkaTLSCAFile     = kafkaio.EnvKafkaTLSCAFile
	EnvKafkaSASLMechanism = kafkaio.EnvKafkaSASLMechanism
	EnvKafkaSASLUsername  = kafkaio.EnvKafkaSASLUsername
	EnvKafkaSASLPassword  = kafkaio.EnvKafkaSASLPassword
	// EnvNoticeBaseURL overrides server.notice_base_url, so one image serves
	// every environment.
	EnvNoticeBaseURL = "CALLBID_NOTICE_BASE_URL"
	// The _FILE variants name a file holding the secret (a mounted Kubernetes
	// Secret, a systemd credential); one trailing newline is trimmed.
	EnvCallsTokenFile   = "CALLBID_CALLS_TOKEN_FILE"
	EnvNoticeSecretFile = "CALLBID_NOTICE_SECRET_FILE"
	// EnvTwilioAuthToken fills numbers.twilio.auth_token (the key of
	// X-Twilio-Signature on /v1/calls form posts).
	EnvTwilioAuthToken     = "CALLBID_TWILIO_AUTH_TOKEN"
	EnvTwilioAuthTokenFile = "CALLBID_TWILIO_AUTH_TOKEN_FILE"
)

// Load reads the config file at path ("" means the embedded default), applies
// the environment overrides from getenv (os.Getenv in production) and
// validates the result. Every problem is reported, each named by its field
// path; a config that does not pass is never returned.
func Load(path string, getenv func(string) string) (*Config, error) {
	data, source := DefaultYAML, "embedded default"
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("cannot read config file: %w", err)
		}
		data, source = b, path
	}
	cfg, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("cannot load config %s: %w", source, err)
	}
	cfg.Source = source
	if err := cfg.applyEnv(getenv); err != nil {
		return nil, fmt.Errorf("cannot load config %s: %w", source, err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("config %s is not valid:\n%w", source, err)
	}
	return cfg, nil
}

// Parse decodes YAML strictly: an unknown key is an error with its line, so a
// misspelt multiplier does not silently do nothing.
func Parse(data []byte) (*Config, error) {
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("cannot parse YAML: %w", err)
	}
	cfg.mapDeprecated()
	return &cfg, nil
}

// mapDeprecated carries the keys that bounded call records before
// call_records existed onto that section, so existing files keep working,
// and says so in Warnings. Zero means unset (defaults come later, in New).
func (c *Config) mapDeprecated() {
	note := func(old, repl string) {
		c.Warnings = append(c.Warnings, "deprecated: "+old+" is replaced by "+repl)
	}
	if c.CallRecords.MaxRecords == 0 {
		c.CallRecords.MaxRecords = max(c.Numbers.MaxCalls, c.Feedback.MaxCalls) // the larger, so neither user gets less
	}
	if c.Numbers.MaxCalls != 0 {
		note("numbers.max_calls", "call_records.max_records (one cap for the records numbers and feedback share)")
	}
	if c.Feedback.MaxCalls != 0 {
		note("feedback.max_calls", "call_records.max_records (one cap for the records numbers and feedback share)")
	}
	if c.Feedback.CallRetention != 0 {
		if c.CallRecords.Retention == 0 {
			c.CallRecords.Retention = c.Feedback.CallRetention
		}
		note("feedback.call_retention", "call_records.retention")
	}
	if c.Numbers.CallTTL != 0 {
		note("numbers.call_ttl", "call_records.retention (ignored: call ids are remembered as long as their record)")
	}
	if c.Feedback.Pacing.Pacing.HeadroomGross {
		note("feedback.pacing.headroom_gross", "nothing: pacing reads capacity's facts and combines them itself (ignored)")
	}
	c.pacingWindowFromCapacity()
}

// pacingWindowFromCapacity gives pacing capacity's arrival window: pacing
// takes its own bought calls out of capacity's λ_now, averaged over the
// same time constant, so the two must be one
// setting. A file that still sets feedback.pacing.arrival_window sets
// capacity's when capacity's is unset; a different value for both is an
// error in crossCheck.
func (c *Config) pacingWindowFromCapacity() {
	pw, cw := &c.Feedback.Pacing.Pacing.ArrivalWindow, &c.Capacity.ArrivalWindow
	if *pw != 0 {
		c.Warnings = append(c.Warnings, "deprecated: feedback.pacing.arrival_window is replaced by capacity.arrival_window (one time constant for λ_now and pacing's own arrivals)")
		if *cw == 0 {
			*cw = *pw
		}
		if *pw != *cw {
			c.pacingWindowConflict = true
			return
		}
	}
	*pw = *cw // zero stays zero: both packages default to the same 2m
}

// embeddedDemo reports whether this config runs the self-contained demo: the
// in-process broker, no real brokers.
func (c *Config) embeddedDemo() bool {
	return c.Kafka.Embedded.Enabled && len(c.Kafka.Brokers) == 0
}

func (c *Config) applyEnv(getenv func(string) string) error {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	if v := getenv(EnvListen); v != "" {
		c.Server.Listen = v
		c.Notes = append(c.Notes, EnvListen+" overrides server.listen")
	}
	if v := getenv(EnvAdminListen); v != "" {
		c.Server.AdminListen = v
		c.Notes = append(c.Notes, EnvAdminListen+" overrides server.admin_listen")
	}
	if v := getenv(EnvKafkaBrokers); v != "" {
		var brokers []string
		for _, b := range strings.Split(v, ",") {
			if b = strings.TrimSpace(b); b != "" {
				brokers = append(brokers, b)
			}
		}
		c.Kafka.Brokers = brokers
		// Real brokers mean production: no in-process broker, no simulated
		// contact center.
		c.Kafka.Embedded.Enabled = false
		c.Simulator.Enabled = false
		c.Notes = append(c.Notes, EnvKafkaBrokers+" set: embedded broker and simulated contact center are off")
	}
	notes, err := c.Kafka.ApplyEnv(getenv)
	if err != nil {
		return err
	}
	c.Notes = append(c.Notes, notes...)
	if v := getenv(EnvNoticeBaseURL); v != "" {
		c.Server.NoticeBaseURL = v
		c.Notes = append(c.Notes, EnvNoticeBaseURL+" overrides server.notice_base_url")
	}
	var errs []error
	for _, s := range []struct {
		env, fileEnv string
		dst          *string
	}{
		{EnvCallsToken, EnvCallsTokenFile, &c.Numbers.CallsToken},
		{EnvNoticeSecret, EnvNoticeSecretFile, &c.Server.NoticeSecret},
		{EnvTwilioAuthToken, EnvTwilioAuthTokenFile, &c.Numbers.Twilio.AuthToken},
	} {
		v, err := secretFromEnv(getenv, s.env, s.fileEnv)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if v != "" {
			*s.dst = v
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if v := getenv("CALLBID_ADMIN_TOKEN"); v != "" { // server.admin_token: reload and pprof beyond loopback
		c.Server.AdminToken = v
	}
	// A secret that is neither in the environment nor in the file is an
	// error, except in the embedded demo, which makes one up and says so.
	if c.embeddedDemo() {
		if c.Numbers.CallsToken == "" {
			c.Numbers.CallsToken = randomSecret()
			c.generatedToken = true
			c.Notes = append(c.Notes, "demo: generated a /v1/calls bearer token (set "+EnvCallsToken+" to choose one): "+c.Numbers.CallsToken)
		}
		if c.Server.NoticeSecret == "" {
			c.Server.NoticeSecret = randomSecret()
			c.generatedSecret = true
			c.Notes = append(c.Notes, "demo: generated a notice signing secret (set "+EnvNoticeSecret+" to choose one)")
		}
	}
	return nil
}

// secretFromEnv reads a secret from env, or from the file named by fileEnv.
// Setting both is an error (which one wins would be a guess), and so is a
// file that cannot be read or is empty; each error names the variable.
func secretFromEnv(getenv func(string) string, env, fileEnv string) (string, error) {
	v, path := getenv(env), getenv(fileEnv)
	if path == "" {
		return v, nil
	}
	if v != "" {
		return "", fmt.Errorf("%s and %s are both set: set one", env, fileEnv)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: cannot read the secret: %w", fileEnv, err)
	}
	// Editors and `echo` end files with a newline; the secret does not.
	s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if s == "" {
		return "", fmt.Errorf("%s: %s is empty", fileEnv, path)
	}
	return s, nil
}

func randomSecret() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("BUG: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// Validate checks every section and the references between them, and reports
// every problem at once, each prefixed with its field path from the file's
// root.
func (c *Config) Validate() error {
	var errs []error
	errs = append(errs, prefixed("", c.Config.Validate())...)
	errs = append(errs, prefixed("numbers.", c.Numbers.Validate())...)
	errs = append(errs, prefixed("capacity.", c.Capacity.Validate())...)
	errs = append(errs, prefixed("feedback.", c.Feedback.Validate())...)
	errs = append(errs, prefixed("call_records.", c.CallRecords.Validate())...)
	errs = append(errs, prefixed("kafka.", c.Kafka.Validate())...)
	errs = append(errs, prefixed("simulator.", c.Simulator.Validate())...)
	errs = append(errs, prefixed("log.", c.Log.Validate())...)
	errs = append(errs, c.crossCheck()...)
	return errors.Join(errs...)
}

// crossCheck validates what no single section can: references between them.
func (c *Config) crossCheck() []error {
	var errs []error
	if c.Numbers.CallsToken == "" {
		errs = append(errs, fmt.Errorf("numbers.calls_token: missing: set %s, %s or numbers.calls_token", EnvCallsToken, EnvCallsTokenFile))
	}
	if c.Server.NoticeSecret == "" {
		errs = append(errs, fmt.Errorf("server.notice_secret: missing: set %s, %s or server.notice_secret", EnvNoticeSecret, EnvNoticeSecretFile))
	}
	pools := make(map[string]bool, len(c.Numbers.Pools))
	for _, p := range c.Numbers.Pools {
		pools[p.ID] = true
	}
	for i, camp := range c.Campaigns {
		if camp.NumberPool != "" && !pools[camp.NumberPool] {
			errs = append(errs, fmt.Errorf("campaigns[%d].number_pool: %q is not a pool in numbers.pools", i, camp.NumberPool))
		}
	}
	if c.pacingWindowConflict {
		errs = append(errs, fmt.Errorf("feedback.pacing.arrival_window: %s differs from capacity.arrival_window %s: pacing must average over capacity's window; remove feedback.pacing.arrival_window",
			c.Feedback.Pacing.Pacing.ArrivalWindow, c.Capacity.ArrivalWindow))
	}
	if len(c.Kafka.Brokers) == 0 && !c.Kafka.Embedded.Enabled {
		errs = append(errs, errors.New("kafka.brokers: empty and kafka.embedded.enabled is false: there is no Kafka to read agent state from"))
	}
	return errs
}

// prefixed splits a (possibly joined) validation error into its parts and
// puts the section's path in front of each.
func prefixed(prefix string, err error) []error {
	if err == nil {
		return nil
	}
	var parts []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			parts = append(parts, prefixed(prefix, e)...)
		}
		return parts
	}
	if prefix == "" {
		return []error{err}
	}
	return []error{fmt.Errorf("%s%w", prefix, err)}
}

// FeedbackCampaigns is what the feedback package needs of each campaign.
func (c *Config) FeedbackCampaigns() []feedback.Campaign {
	out := make([]feedback.Campaign, 0, len(c.Campaigns))
	for _, camp := range c.Campaigns {
		out = append(out, feedback.Campaign{
			ID:            camp.ID,
			Skill:         camp.Skill.Name,
			PriorCallRate: camp.ExpectedCallRate,
			ValuePerCall:  int64(camp.ValuePerCall),
			RepeatWindow:  camp.CallCaps.RepeatWindow,
		})
	}
	return out
}

// KeepRunning carries over from the running config what a reload must not
// change: secrets the demo generated (a new one would void every notice URL
// already sent out) and the Kafka connection, which the embedded broker
// rewrote at start.
func (c *Config) KeepRunning(running *Config) {
	if c.generatedSecret {
		c.Server.NoticeSecret = running.Server.NoticeSecret
		c.generatedSecret = running.generatedSecret
	}
	if c.generatedToken {
		c.Numbers.CallsToken = running.Numbers.CallsToken
		c.generatedToken = running.generatedToken
	}
	c.Kafka = running.Kafka
}
