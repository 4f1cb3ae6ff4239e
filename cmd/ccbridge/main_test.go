package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/kafkaio"
)

// TestEndToEnd runs the command on the Genesys test payloads against an
// in-process Kafka broker (kfake) and reads the records back from it.
func TestEndToEnd(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(3))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()

	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "ccbridge.yaml")
	cfg := `
admin_listen: "127.0.0.1:0"
kafka:
  brokers: ["` + brokers[0] + `"]
  topics: {auto_create: true}
genesys:
  skills:
    8f2d4c6e-1a3b-4d5f-9e7c-2b4d6f8a0c1e: [{name: mortgage, proficiency: 4.5}]
  queues: {3b5d7f9a-2c4e-4a6b-8d0f-1e3a5c7e9b2d: mortgage}
dispositions: {7d8e9f0a-1b2c-4d3e-8f4a-5b6c7d8e9f0a: SALE}
`
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	input := filepath.Join("..", "..", "ccbridge", "testdata", "genesys-notifications.ndjson")
	if err := run([]string{"-config", cfgPath, "-input", input, "-exit-after-input"}, nil, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), `"agent_records":5`) || !strings.Contains(stdout.String(), `"dropped":0`) {
		t.Errorf("summary log: %s", stdout.String())
	}

	// Read every topic back from the broker.
	want := map[string]int{events.TopicAgentState: 5, events.TopicCall: 4, events.TopicOutcome: 1}
	got := map[string][][]byte{}
	var mu sync.Mutex
	done := make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a failsafe, not a measurement
	defer cancel()
	kc := kafkaio.Config{Brokers: brokers}
	var wg sync.WaitGroup
	for topic := range want {
		c := kafkaio.NewConsumer(kc, topic, func(m kafkaio.Message) {
			mu.Lock()
			defer mu.Unlock()
			got[topic] = append(got[topic], append([]byte(nil), m.Value...))
			for tp, n := range want {
				if len(got[tp]) < n {
					return
				}
			}
			select {
			case <-done:
			default:
				close(done)
			}
		}, zerolog.Nop())
		wg.Add(1)
		go func() { defer wg.Done(); c.Run(ctx) }()
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	for topic, n := range want {
		if len(got[topic]) != n {
			t.Errorf("%s: %d records read back, want %d", topic, len(got[topic]), n)
		}
	}
	// One agent: one key, one partition, so the broker keeps the order.
	var states []string
	for _, v := range got[events.TopicAgentState] {
		var ev events.AgentState
		if err := events.DecodeAgentState(v, &ev); err != nil {
			t.Fatal(err)
		}
		var extra struct {
			Next string `json:"next_routing_state"`
		}
		_ = json.Unmarshal(v, &extra)
		states = append(states, ev.EventType+" "+ev.RoutingState+" "+extra.Next)
	}
	wantStates := "LOGIN AVAILABLE ,STATE_CHANGE AVAILABLE ,STATE_CHANGE BUSY ,STATE_CHANGE BUSY OFFLINE,LOGOUT OFFLINE "
	if strings.Join(states, ",") != wantStates {
		t.Errorf("agent states read back:\n %q\nwant\n %q", strings.Join(states, ","), wantStates)
	}
	var o events.Outcome
	if len(got[events.TopicOutcome]) == 1 {
		if err := events.DecodeOutcome(got[events.TopicOutcome][0], &o); err != nil || o.Disposition != "SALE" {
			t.Errorf("outcome %+v %v", o, err)
		}
	}
}

func TestCheckConfig(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run([]string{"-check-config", filepath.Join("..", "..", "configs", "ccbridge.yaml")}, nil, &out, &errb); err != nil {
		t.Fatalf("example config: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	_ = os.WriteFile(bad, []byte("kafka: {brokers: [\"k:9092\"]}\nconnect: {queues: [{name: Q}]}\n"), 0o600)
	err := run([]string{"-check-config", bad}, nil, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "connect.queues[0].skill: required") {
		t.Errorf("bad config: %v", err)
	}
}
