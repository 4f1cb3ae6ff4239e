package callbid

import (
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestEmbeddedDefaultIsTheDemo(t *testing.T) {
	cfg, err := Load("", nil)
	if err != nil {
		t.Fatalf("the embedded default does not load: %v", err)
	}
	if cfg.Source != "embedded default" {
		t.Errorf("source = %q", cfg.Source)
	}
	if !cfg.Kafka.Embedded.Enabled || len(cfg.Kafka.Brokers) != 0 || !cfg.Simulator.Enabled {
		t.Errorf("the default must run the embedded broker and the simulator: %+v / %v", cfg.Kafka.Embedded, cfg.Simulator.Enabled)
	}
	if len(cfg.Campaigns) < 3 {
		t.Errorf("the example has %d campaigns, want at least 3", len(cfg.Campaigns))
	}
	// The demo makes its secrets up and says so.
	if len(cfg.Server.NoticeSecret) < 16 || cfg.Numbers.CallsToken == "" {
		t.Errorf("demo secrets not generated")
	}
	if !strings.Contains(strings.Join(cfg.Notes, "\n"), "generated a notice signing secret") {
		t.Errorf("notes do not say a secret was generated: %q", cfg.Notes)
	}
}

func TestEmbeddedDefaultMatchesFile(t *testing.T) {
	b, err := os.ReadFile("configs/callbid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != string(DefaultYAML) {
		t.Fatal("DefaultYAML differs from configs/callbid.yaml")
	}
}

func TestExampleConfigsValidate(t *testing.T) {
	secrets := env(EnvNoticeSecret, "0123456789abcdef-secret", EnvCallsToken, "token")
	for _, f := range []string{"configs/callbid.yaml", "configs/production.yaml", "configs/bench.yaml"} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if _, err := Load(f, secrets); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestProductionNeedsSecretsFromEnvironment(t *testing.T) {
	_, err := Load("configs/production.yaml", nil)
	if err == nil {
		t.Fatal("production config loaded without secrets")
	}
	for _, want := range []string{"server.notice_secret: missing", "numbers.calls_token: missing"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
	cfg, err := Load("configs/production.yaml", env(EnvNoticeSecret, "0123456789abcdef-secret", EnvCallsToken, "tok"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Simulator.Enabled || cfg.Kafka.Embedded.Enabled {
		t.Error("production must not simulate or embed a broker")
	}
}

func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "callbid.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestErrorsNameTheFieldPath(t *testing.T) {
	p := writeConfig(t, `
server: {notice_base_url: "https://bid.example.com"}
campaigns:
  - id: c1
    advertiser_domain: a.example
    skill: {name: mortgage}
    base_cpm: 2
    max_cpm: 5
    multipliers: {hour: {25: 1.2}}
    creatives: [{id: x, type: banner, w: 300, h: 250, title: hi}]
    number_pool: nope
numbers:
  pools:
    - id: p1
      numbers: ["+18005550100", "+1555"]
      cooldown: -1s
kafka:
  brokers: ["localhost"]
`)
	_, err := Load(p, nil)
	if err == nil {
		t.Fatal("invalid config loaded")
	}
	// Every problem at once, each with its path from the file's root.
	for _, want := range []string{
		"campaigns[0].multipliers.hour[25]: hour must be 0-23",
		`numbers.pools[0].numbers[1]: "+1555" is not an E.164 number`,
		"numbers.pools[0].cooldown:",
		`kafka.brokers[0]: "localhost" is not host:port`,
		`campaigns[0].number_pool: "nope" is not a pool in numbers.pools`,
		"server.notice_secret: missing",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not contain %q:\n%v", want, err)
		}
	}
}

func TestUnknownKeyIsAnErrorWithItsLine(t *testing.T) {
	p := writeConfig(t, "campaigns:\n  - id: c1\n    max_cmp: 3\n")
	_, err := Load(p, nil)
	if err == nil || !strings.Contains(err.Error(), "line 3: field max_cmp not found") {
		t.Fatalf("want the misspelt key and its line, got %v", err)
	}
}

func TestEnvironmentOverrides(t *testing.T) {
	cfg, err := Load("", env(
		EnvListen, "127.0.0.1:9999",
		EnvAdminListen, "127.0.0.1:9998",
		EnvKafkaBrokers, "k1:9092, k2:9092",
		EnvCallsToken, "calls-token",
		EnvNoticeSecret, "0123456789abcdef-secret",
	))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Listen != "127.0.0.1:9999" || cfg.Server.AdminListen != "127.0.0.1:9998" {
		t.Errorf("listen overrides: %q %q", cfg.Server.Listen, cfg.Server.AdminListen)
	}
	if strings.Join(cfg.Kafka.Brokers, ",") != "k1:9092,k2:9092" {
		t.Errorf("brokers = %q", cfg.Kafka.Brokers)
	}
	// Real brokers turn off the demo parts (README, "Configuration reference").
	if cfg.Kafka.Embedded.Enabled || cfg.Simulator.Enabled {
		t.Error("CALLBID_KAFKA_BROKERS must turn off the embedded broker and the simulator")
	}
	if cfg.Numbers.CallsToken != "calls-token" || cfg.Server.NoticeSecret != "0123456789abcdef-secret" {
		t.Error("secrets from the environment not applied")
	}
}

func TestAdminTokenFromEnvironment(t *testing.T) {
	cfg, err := Load("", env("CALLBID_ADMIN_TOKEN", "0123456789abcdef-admin"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.AdminToken != "0123456789abcdef-admin" {
		t.Errorf("admin token = %q", cfg.Server.AdminToken)
	}
	_, err = Load("", env("CALLBID_ADMIN_TOKEN", "short"))
	if err == nil || !strings.Contains(err.Error(), "server.admin_token: must be at least 16 bytes") {
		t.Errorf("short admin token: %v", err)
	}
}

func TestReloadKeepsGeneratedSecrets(t *testing.T) {
	running, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	next, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if next.Server.NoticeSecret == running.Server.NoticeSecret {
		t.Fatal("two loads generated the same secret")
	}
	next.KeepRunning(running)
	// A new secret would void every notice URL already sent out.
	if next.Server.NoticeSecret != running.Server.NoticeSecret || next.Numbers.CallsToken != running.Numbers.CallsToken {
		t.Error("reload replaced the running generated secrets")
	}
}

func TestWatchReloadsOnRenameOver(t *testing.T) {
	watchRenameOver(t)
}

// watchRenameOver renames a new config over the watched one, with a file
// beside it changing too, waits (bounded) for the first reload and returns
// the reload counter.
func watchRenameOver(t *testing.T) *atomic.Int32 {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "callbid.yaml")
	if err := os.WriteFile(p, DefaultYAML, 0o600); err != nil {
		t.Fatal(err)
	}
	var reloads atomic.Int32
	ctx := t.Context()
	if err := Watch(ctx, p, 20*time.Millisecond, func() { reloads.Add(1) }, zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	// Editors and ConfigMaps write a new file and rename it over the old one.
	tmp := filepath.Join(dir, ".callbid.yaml.tmp")
	if err := os.WriteFile(tmp, DefaultYAML, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
	// A file beside it is not the config.
	if err := os.WriteFile(filepath.Join(dir, "other.yaml"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for reloads.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no reload within 10 s of renaming a new config over the old")
		}
		time.Sleep(10 * time.Millisecond) // polling the counter: reload is the signal
	}
	return &reloads
}

func TestKafkaSecurityFromEnvironment(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "missing-ca.pem")
	base := []string{EnvKafkaBrokers, "k1:9093", EnvCallsToken, "calls-token", EnvNoticeSecret, "0123456789abcdef-secret"}
	_, err := Load("", env(append(base, EnvKafkaTLS, "true", EnvKafkaTLSCAFile, ca, EnvKafkaSASLMechanism, "SCRAM-SHA-512")...))
	for _, want := range []string{"kafka.tls.ca_file: cannot read", "kafka.sasl.username: required with SCRAM-SHA-512", "kafka.sasl.password: required"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load = %v\nwant it to contain %q", err, want)
		}
	}
	cfg, err := Load("", env(append(base, EnvKafkaTLS, "true", EnvKafkaSASLMechanism, "PLAIN",
		EnvKafkaSASLUsername, "callbid", EnvKafkaSASLPassword, "pw-from-env")...))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Kafka.TLS.Enabled || cfg.Kafka.SASL.Mechanism != "PLAIN" || cfg.Kafka.SASL.Username != "callbid" || cfg.Kafka.SASL.Password != "pw-from-env" {
		t.Errorf("kafka security from the environment: %+v %+v", cfg.Kafka.TLS, cfg.Kafka.SASL)
	}
	if strings.Contains(strings.Join(cfg.Notes, "\n"), "pw-from-env") {
		t.Error("a start-up note shows the SASL password")
	}
}
