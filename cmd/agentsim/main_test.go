package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
