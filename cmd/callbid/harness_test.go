package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/callbid/callbid/ccsim"
	"github.com/callbid/callbid/embedbroker"
	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/kafkaio"
	"github.com/rs/zerolog"
)

// The binary tests that run callbid against a broker of their own (as a
// production deployment does) share this setup: the broker, a contact
// center streaming agent states into it, config edits, and starting a child
// until it is ready.

// startBroker starts a kfake broker on addr (fixed, so a test can stop it
// and start it again at the same address; dataDir "" keeps no log). The
// caller closes it.
func startBroker(t *testing.T, addr string, partitions int, dataDir string) *embedbroker.Broker {
	t.Helper()
	b, err := embedbroker.Start(kafkaio.EmbeddedConfig{Enabled: true, Listen: addr, Partitions: partitions, DataDir: dataDir},
		events.AllTopics, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// brokerConfig is a client config for the broker at addr.
func brokerConfig(addr string) kafkaio.Config {
	c := kafkaio.Config{Brokers: []string{addr}, RetryBackoffMax: 200 * time.Millisecond}
	c.SetDefaults()
	return c
}

// streamCenter runs the demo's simulated contact center (agents logging in
// over a second) into the broker of kcfg, as a real center would from
// outside callbid, until the returned stop is called (defer it before the
// broker closes, so the producer's last flush does not wait for it).
func streamCenter(t testing.TB, kcfg kafkaio.Config, edits ...func(*ccsim.Config)) (stop func()) {
	t.Helper()
	simCfg := ccsim.DemoConfig()
	simCfg.Shift.LoginSpread = time.Second
	for _, edit := range edits {
		edit(&simCfg)
	}
	prod := kafkaio.NewProducer(kcfg, zerolog.Nop())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	sim, err := ccsim.New(simCfg, time.Now(), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	go func() { defer close(done); sim.Run(ctx, prod) }()
	return func() {
		cancel()
		<-done
		c, cancelClose := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancelClose()
		_ = prod.Close(c)
	}
}

// editConfig replaces, once each, old with new in the config file at path
// (pairs: old1, new1, old2, new2, ...), failing when the example config no
// longer has a text a test edits.
func editConfig(t *testing.T, path string, pairs ...string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for k := 0; k+1 < len(pairs); k += 2 {
		if !strings.Contains(s, pairs[k]) {
			t.Fatalf("configs/callbid.yaml no longer has %q, which this test edits", pairs[k])
		}
		s = strings.Replace(s, pairs[k], pairs[k+1], 1)
	}
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// widerMortgagePool widens the mortgage pool's extension range from 910
// entries to 10,010, so every acknowledged win keeping its number for the
// 30-minute lease does not exhaust it.
var widerMortgagePool = []string{`{ number: "+18005550110", from: 100, to: 999 }`, `{ number: "+18005550110", from: 100, to: 9999 }`}

// startReady launches bin and waits until /readyz answers 200.
func startReady(t *testing.T, what string, d time.Duration, bin, config string, extraEnv ...string) *proc {
	t.Helper()
	p := startUnready(t, bin, config, extraEnv...)
	waitFor(t, what, d, p, func() bool { c, _ := readyz(p); return c == 200 })
	return p
}
