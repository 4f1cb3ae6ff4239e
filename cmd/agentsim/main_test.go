package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/callbid/callbid/embedbroker"
	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/kafkaio"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kfake"
)

func TestBadFlags(t *testing.T) {
	f := func(want string, args ...string) {
		t.Helper()
		var out, errb bytes.Buffer
		err := run(args, &out, &errb)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", args, err, want)
		}
	}
	f("-brokers is required")
	f("exclude each other", "-brokers", "k:9092", "-embedded")
	f(`kafka.brokers[0]: "nohost" is not host:port`, "-brokers", "nohost")
	f("must not be negative", "-embedded", "-rate", "-2")
	f("cannot read -config", "-embedded", "-config", "/nonexistent.yaml")
	dir := t.TempDir()
	p := filepath.Join(dir, "c.yaml")
	os.WriteFile(p, []byte("simulator:\n  skills:\n    - {name: x, agents: 0}\n"), 0o600)
	f("simulator.skills[0].agents: 0 is outside", "-embedded", "-config", p)
	os.WriteFile(p, []byte("kafka: {}\n"), 0o600)
	f("has no simulator: section", "-embedded", "-config", p)
	f("cannot reach Kafka within 300ms", "-brokers", "127.0.0.1:1", "-timeout", "300ms")
	f("kafka.sasl.username: required with PLAIN", "-brokers", "k:9092", "-sasl-mechanism", "PLAIN", "-sasl-password", "p")
	f("-embedded runs a plaintext broker", "-embedded", "-tls")
}

func TestEmbeddedRun(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run([]string{"-embedded", "-speed", "60", "-duration", "400ms"}, &out, &errb); err != nil {
		t.Fatalf("run: %v\n%s", err, errb.String())
	}
	logs := out.String()
	for _, w := range []string{"SIMULATED", "simulated contact center stopped", `"dropped_queue_full":0`} {
		if !strings.Contains(logs, w) {
			t.Errorf("logs lack %q:\n%s", w, logs)
		}
	}
	if strings.Contains(logs, `"written":0,`) {
		t.Errorf("nothing written:\n%s", logs)
	}
}

// TestSecureBroker streams into kfake with TLS and SCRAM on, settings from
// flags and the environment, as against a managed cluster.
func TestSecureBroker(t *testing.T) {
	pki, err := embedbroker.NewTestTLS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, err := embedbroker.Start(kafkaio.EmbeddedConfig{Partitions: 2}, events.AllTopics, zerolog.Nop(),
		kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "sim", "sim-pass"), kfake.TLS(pki.Server))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	t.Setenv(kafkaio.EnvKafkaSASLPassword, "sim-pass")
	t.Setenv(kafkaio.EnvKafkaTLSCAFile, pki.CAFile)
	var out, errb bytes.Buffer
	args := []string{"-brokers", b.Addr(), "-tls", "-sasl-mechanism", "SCRAM-SHA-256", "-sasl-username", "sim",
		"-speed", "60", "-duration", "400ms"}
	if err := run(args, &out, &errb); err != nil {
		t.Fatalf("run with the right credentials: %v\n%s", err, errb.String())
	}
	if logs := out.String(); strings.Contains(logs, `"written":0,`) || !strings.Contains(logs, `"written":`) {
		t.Errorf("nothing written through TLS+SCRAM:\n%s", logs)
	}

	out.Reset()
	err = run(append(args, "-sasl-password", "wrong", "-timeout", "1m"), &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "SASL SCRAM-SHA-256 authentication as \"sim\" failed") {
		t.Fatalf("wrong password: %v, want one error naming SCRAM-SHA-256", err)
	}
	if strings.Contains(err.Error(), "within") {
		t.Errorf("a refused password was retried until the timeout: %v", err)
	}
}
