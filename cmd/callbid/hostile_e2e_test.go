package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/kafkaio"
	"github.com/rs/zerolog"
)

// TestHostileRecordsBeforeAndAfterRestart sends each hostile record of
// issues 11 and 12 into the demo's Kafka as a contact center would, then
// kills callbid with SIGKILL and starts it again on the same log: every
// record is counted in callbid_events_bad_total with its reason by the
// running process and again, identically, by the replay after the restart —
// and the simulated center's own records are never counted as bad.
func TestHostileRecordsBeforeAndAfterRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	config := demoConfig(t)
	broker := freeAddr(t)
	b, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(b), `listen: "127.0.0.1:0"`, fmt.Sprintf("listen: %q", broker), 1)
	if cfg == string(b) {
		t.Fatal("configs/callbid.yaml no longer sets kafka.embedded.listen")
	}
	config = filepath.Join(filepath.Dir(config), "hostile.yaml")
	if err := os.WriteFile(config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startBidder(t, bin, config)

	now := time.Now().UTC()
	at := now.Format(time.RFC3339Nano)
	agent := func(id string, seq int64, when, state, prof string) string {
		return fmt.Sprintf(`{"agent_id":%q,"seq":%d,"event_type":"STATE_CHANGE","occurred_at":%q,"routing_state":%q,"skills":[{"name":"mortgage","proficiency":%s}],"ttl_seconds":300}`,
			id, seq, when, state, prof)
	}
	type rec struct{ topic, key, value string }
	hostile := []rec{
		{events.TopicAgentState, "e2e:real", agent("e2e:real", 5, at, "BUSY", "3")},
		{events.TopicAgentState, "e2e:real", agent("e2e:real", 9_000_000_000_000_000_000, at, "AVAILABLE", "3")}, // far-future seq
		{events.TopicAgentState, "e2e:ghost", agent("e2e:ghost", 1, "9999-12-31T23:59:59Z", "AVAILABLE", "3")},   // occurred_at 9999
		{events.TopicAgentState, "e2e:huge", agent("e2e:huge", 1, at, "AVAILABLE", "1e9")},                       // proficiency 1e9
		{events.TopicAgentState, "e2e:framed", "\x00\x00\x00\x00\x2a" + agent("e2e:framed", 1, at, "AVAILABLE", "3")},
		{events.TopicCall, "e2e:c9999", `{"call_id":"e2e:c9999","event_type":"ENDED","occurred_at":"9999-01-01T00:00:00Z","talk_ms":60000}`},
		{events.TopicCall, "e2e:c2100", `{"call_id":"e2e:c2100","event_type":"ENDED","dnis":"+18005550110","occurred_at":"2100-01-01T00:00:00Z"}`},
		{events.TopicCall, "e2e:neg", `{"call_id":"e2e:neg","event_type":"ENDED","occurred_at":"` + at + `","talk_ms":-5}`},
		{events.TopicOutcome, "e2e:rev", `{"call_id":"e2e:rev","disposition":"SALE","revenue":{"amount_micros":-1},"occurred_at":"` + at + `"}`},
	}
	want := map[string]float64{
		`reason="seq_jump",topic="cc.agent-state.v1"`:                 1,
		`reason="future_time",topic="cc.agent-state.v1"`:              1,
		`reason="proficiency_out_of_range",topic="cc.agent-state.v1"`: 1,
		`reason="future_time",topic="cc.call.v1"`:                     2,
		`reason="negative_duration",topic="cc.call.v1"`:               1,
		`reason="negative_revenue",topic="cc.outcome.v1"`:             1,
	}
	prod := kafkaio.NewProducer(kafkaio.Config{Brokers: []string{broker}}, zerolog.Nop())
	for _, r := range hostile {
		if !prod.Publish(r.topic, []byte(r.key), []byte(r.value)) {
			t.Fatal("producer queue full")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	if err := prod.Close(ctx); err != nil {
		t.Fatal(err)
	}
	cancel()

	check := func(p *proc, run string) {
		t.Helper()
		var got map[string]float64
		deadline := time.Now().Add(30 * time.Second)
		for {
			got = badRecords(t, p)
			done := true
			for k, v := range want {
				done = done && got[k] >= v
			}
			if done || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: callbid_events_bad_total{%s} = %v, want %v", run, k, got[k], v)
			}
		}
		for k, v := range got {
			if _, ok := want[k]; !ok && v != 0 {
				t.Errorf("%s: unexpected bad records {%s} = %v (the simulated center's own?)", run, k, v)
			}
		}
		if !strings.Contains(p.out.String(), `"message":"bad Kafka record skipped"`) {
			t.Errorf("%s: no warn log for bad records", run)
		}
	}
	check(p, "running")
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
	p2 := startBidder(t, bin, config) // ready: every topic replayed
	check(p2, "after kill -9 and replay")
}

// badRecords scrapes callbid_events_bad_total from /metrics, keyed by its
// label set.
func badRecords(t *testing.T, p *proc) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + p.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, "callbid_events_bad_total{")
		if !ok {
			continue
		}
		labels, val, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		out[labels] = v
	}
	return out
}
