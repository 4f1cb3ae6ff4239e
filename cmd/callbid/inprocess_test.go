package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callbid/callbid"
	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/kafkaio"
	"github.com/callbid/callbid/status"
	"github.com/rs/zerolog"
)

// These tests run the app in the test process: the embedded broker in
// memory, no simulator, loopback listeners on :0, and agent states the test
// publishes itself, so it controls what the capacity model sees.

type inProc struct {
	a      *app
	out    *lockedBuffer
	prod   *kafkaio.Producer
	seqs   map[string]int64
	public string
	admin  string
}

func startInProcess(t *testing.T, mutate func(*callbid.Config)) *inProc {
	t.Helper()
	env := map[string]string{
		callbid.EnvListen: "127.0.0.1:0", callbid.EnvAdminListen: "127.0.0.1:0",
		callbid.EnvCallsToken: testToken, callbid.EnvNoticeSecret: testSecret,
	}
	cfg, err := callbid.Load("", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	cfg.Simulator.Enabled = false
	cfg.Kafka.Embedded.DataDir = "" // in memory: nothing left in the source tree
	if mutate != nil {
		mutate(cfg)
	}
	out := &lockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := start(ctx, cfg, zerolog.New(out), identity())
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	p := &inProc{a: a, out: out, seqs: map[string]int64{}, public: a.publicAddr, admin: a.adminAddr}
	p.prod = kafkaio.NewProducer(a.cfg.Kafka, zerolog.Nop())
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		_ = p.prod.Close(sctx)
		if err := a.stop(sctx, cancel); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return p
}

// agents publishes n AVAILABLE agents with the skill, ids from first.
func (p *inProc) agents(t *testing.T, skill string, first, n int) {
	t.Helper()
	for i := first; i < first+n; i++ {
		id := fmt.Sprintf("agent-%d", i)
		p.seqs[id]++
		b, err := json.Marshal(events.AgentState{AgentID: id, Seq: p.seqs[id], EventType: "STATE_CHANGE",
			OccurredAt: time.Now().UTC(), RoutingState: "AVAILABLE", Skills: []events.AgentSkill{{Name: skill, Proficiency: 3}},
			Channels: []string{"voice"}, TTLSeconds: 300})
		if err != nil {
			t.Fatal(err)
		}
		if !p.prod.Publish(events.TopicAgentState, []byte("test:"+id), b) {
			t.Fatal("agent-state publish dropped")
		}
	}
}

func (p *inProc) snapshot(t *testing.T) status.Snapshot {
	t.Helper()
	resp, err := http.Get("http://" + p.admin + "/status.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s status.Snapshot
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func skillRow(s status.Snapshot, skill string) (status.SkillRow, bool) {
	for _, k := range s.Skills {
		if k.Skill == skill {
			return k, true
		}
	}
	return status.SkillRow{}, false
}

// waitAvailable waits (bounded) until the status page reports n available
// agents with the skill.
func (p *inProc) waitAvailable(t *testing.T, skill string, n int) status.SkillRow {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if k, ok := skillRow(p.snapshot(t), skill); ok && k.Available == n {
			return k
		}
		if time.Now().After(deadline) {
			k, _ := skillRow(p.snapshot(t), skill)
			t.Fatalf("%s: available %d, want %d within 20s\n%s", skill, k.Available, n, p.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *inProc) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + p.admin + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (p *inProc) bid(t *testing.T) (status, nbr int) {
	t.Helper()
	return bidStatus(t, &proc{public: p.public}, "demo-nbr")
}

// TestStaleCapacityStaysReady is the acceptance test of honest readiness:
// with the capacity feed stopped, /readyz stays 200 (callbid still answers
// correctly), bids answer nbr 501, and the status page and metrics say why.
func TestStaleCapacityStaysReady(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the app with an in-process broker")
	}
	p := startInProcess(t, func(c *callbid.Config) { c.Capacity.StaleAfter = 1500 * time.Millisecond })
	waitFor(t, "ready (lease log replayed)", 20*time.Second, &proc{out: p.out}, func() bool {
		c, _ := p.get(t, "/readyz")
		return c == 200
	})
	p.agents(t, "mortgage", 0, 6)
	p.waitAvailable(t, "mortgage", 6)
	waitFor(t, "a bid with fresh capacity", 20*time.Second, &proc{out: p.out}, func() bool { _, nbr := p.bid(t); return nbr == -1 })
	// The skill's row carries the closed loop's participation and calls in
	// flight.
	k, _ := skillRow(p.snapshot(t), "mortgage")
	extra := map[string]float64{}
	for _, f := range k.Extra {
		extra[f.Name] = f.Value
	}
	if lv, ok := extra["participation"]; !ok || lv <= 0 || lv > 1 {
		t.Errorf("status skill row extras %v: want participation in (0,1]", k.Extra)
	}
	if f, ok := extra["calls in flight"]; !ok || f < 0 {
		t.Errorf("status skill row extras %v: want calls in flight", k.Extra)
	}

	// The contact center stops streaming.
	waitFor(t, "the capacity feed to go stale", 20*time.Second, &proc{out: p.out}, func() bool { return p.snapshot(t).CapacityStale })
	if c, body := p.get(t, "/readyz"); c != 200 {
		t.Fatalf("readyz with a stale capacity feed: %d %q; want 200 (no-bids are correct answers)", c, body)
	}
	if c, nbr := p.bid(t); c != 200 || nbr != 501 {
		t.Fatalf("bid with a stale capacity feed: status %d nbr %d, want nbr 501", c, nbr)
	}
	s := p.snapshot(t)
	if !s.Ready || !strings.Contains(strings.Join(s.Warnings, "\n"), "capacity feed stale") {
		t.Errorf("status.json: ready %v, warnings %q", s.Ready, s.Warnings)
	}
	if _, page := p.get(t, "/"); !strings.Contains(page, "Capacity feed STALE") || !strings.Contains(page, "READY") {
		t.Errorf("the status page does not say the capacity feed is stale")
	}
	if _, m := p.get(t, "/metrics"); !strings.Contains(m, "\ncallbid_capacity_stale 1\n") {
		t.Errorf("metrics do not say callbid_capacity_stale 1")
	}
	// The feed comes back and stays alive (a live center keeps sending):
	// bids resume without a restart, once participation has ramped up again.
	waitFor(t, "bids after the feed came back", 20*time.Second, &proc{out: p.out}, func() bool {
		p.agents(t, "mortgage", 0, 6)
		_, nbr := p.bid(t)
		return nbr == -1
	})
}

// TestReloadIsAccounted: every reload attempt is counted by result, and the
// last-success gauge moves only on success.
func TestReloadIsAccounted(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the app with an in-process broker")
	}
	p := startInProcess(t, nil)
	metric := func(name string) float64 {
		_, m := p.get(t, "/metrics")
		for _, line := range strings.Split(m, "\n") {
			if rest, ok := strings.CutPrefix(line, name+" "); ok {
				v, err := strconv.ParseFloat(rest, 64)
				if err != nil {
					t.Fatal(err)
				}
				return v
			}
		}
		t.Fatalf("no %s in /metrics", name)
		return 0
	}
	if metric("callbid_config_last_reload_successful") != 1 || metric(`callbid_config_reloads_total{result="failure"}`) != 0 {
		t.Fatal("a fresh start is not a successful load with no failures")
	}
	startTS := metric("callbid_config_last_reload_success_timestamp_seconds")
	// The demo runs on the embedded default: there is no file, so the reload fails.
	resp, err := http.Post("http://"+p.admin+"/admin/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 422 {
		t.Errorf("reload of the embedded default: %d", resp.StatusCode)
	}
	if metric(`callbid_config_reloads_total{result="failure"}`) != 1 || metric("callbid_config_last_reload_successful") != 0 {
		t.Error("the failed reload is not counted")
	}
	if metric("callbid_config_last_reload_success_timestamp_seconds") != startTS {
		t.Error("a failed reload moved the last-success timestamp")
	}
}
