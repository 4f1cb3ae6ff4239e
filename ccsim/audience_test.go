package ccsim

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbid/callbid/events"
)

// The audience calls each publisher's won numbers at its configured share,
// with the extension, after a delay within [min_delay, max_delay] of the
// win, in simulated time; Won is safe while Step runs.
func TestAudienceCallsWonNumbers(t *testing.T) {
	cfg := Config{
		Skills: []SkillConfig{{Name: "mortgage", Agents: 20, DNIS: "+18005550190",
			Chat: ChatConfig{Agents: 2}}},
		Audience: AudienceConfig{CallsPerWin: 0.5, Publishers: map[string]float64{"pub-never": 0, "pub-always": 1},
			Delay: 20 * time.Second, MinDelay: 5 * time.Second, MaxDelay: time.Minute},
	}
	cfg.SetDefaults()
	s := mustSim(t, cfg, t0, zerolog.Nop())
	r := &recorder{}
	for range 600 { // agents log in
		s.Step(r)
	}
	wonAt := map[string]time.Time{}
	var wg sync.WaitGroup
	const per = 200
	wg.Go(func() { // a notice goroutine
		for i := range per {
			ext := string(rune('a'+i%26)) + "x"
			s.Won("+18005550110", "always-"+ext, "mortgage", "", "pub-always")
			s.Won("+18005550110", "never-"+ext, "mortgage", "", "pub-never")
			s.Won("+18005550110", "half-"+ext, "mortgage", "", "pub-other")
		}
	})
	wg.Wait()
	s.Won("CH007", "", "mortgage", "chat", "pub-always")
	s.Won("+18005550110", "x", "unknown-skill", "", "pub-always")
	start := s.Now()
	calls := map[string]int{}
	r.recs = nil
	for range 2 * 60 * 10 { // 2 simulated minutes
		s.Step(r)
	}
	for _, rc := range r.recs {
		if rc.topic != events.TopicCall {
			continue
		}
		var ev events.Call
		if err := events.DecodeCall(rc.value, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.EventType != events.CallOffered || ev.DNIS == "+18005550190" {
			continue
		}
		if _, ok := wonAt[ev.CallID]; ok {
			t.Fatalf("call %s offered twice", ev.CallID)
		}
		wonAt[ev.CallID] = ev.OccurredAt
		if d := ev.OccurredAt.Sub(start); d < 5*time.Second || d > time.Minute+cfg.Tick {
			t.Errorf("call %s %s/%s after %s, outside 5s-1m", ev.CallID, ev.DNIS, ev.Ext, d)
		}
		switch {
		case ev.Channel == "chat":
			calls["chat"]++
			if ev.DNIS != "CH007" || ev.Ext != "" {
				t.Errorf("chat from key: %+v", ev)
			}
		case ev.DNIS == "+18005550110":
			calls[strings.SplitN(ev.Ext, "-", 2)[0]]++
		default:
			t.Errorf("unexpected contact %+v", ev)
		}
	}
	// 200 at 0.5: 100 ± 3σ (σ ≈ 7).
	if calls["always"] != per || calls["never"] != 0 || calls["half"] < 79 || calls["half"] > 121 || calls["chat"] != 1 {
		t.Errorf("calls %v", calls)
	}
	st := s.AudienceStats()
	if st.Wins != 3*per+2 || st.Calls != uint64(per+calls["half"]+1) || st.Dropped != 1 {
		t.Errorf("stats %+v, calls %v", st, calls)
	}
}

// Without a rate the audience ignores wins, and the simulation draws the
// same numbers as before it existed.
func TestAudienceOffByDefault(t *testing.T) {
	a := mustSim(t, DemoConfig(), t0, zerolog.Nop())
	b := mustSim(t, DemoConfig(), t0, zerolog.Nop())
	ra, rb := &recorder{}, &recorder{}
	for i := range 3000 {
		if i == 100 {
			b.Won("+18005550110", "101", "mortgage", "", "pub")
		}
		a.Step(ra)
		b.Step(rb)
	}
	if len(ra.recs) != len(rb.recs) || b.AudienceStats() != (AudienceStats{}) {
		t.Fatalf("audience changed a run without a rate: %d vs %d events, %+v", len(ra.recs), len(rb.recs), b.AudienceStats())
	}
}

func TestAudienceConfig(t *testing.T) {
	c := Config{Audience: AudienceConfig{CallsPerWin: 1.5, Publishers: map[string]float64{"p": -0.1, "": 0.2},
		MinDelay: time.Minute, MaxDelay: time.Second, Delay: -time.Second}}
	err := c.Validate()
	for _, w := range []string{
		"audience.calls_per_win: 1.5 is outside 0-1", "audience.publishers.p: -0.1 is outside 0-1",
		"audience.publishers: a publisher id must not be empty", "audience.delay: -1s is outside 0-24h",
		"audience.min_delay: 1m0s is above audience.max_delay 1s",
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in %v", w, err)
		}
	}
	ok := Config{}
	ok.SetDefaults()
	if a := ok.Audience; a.Delay != 30*time.Second || a.MinDelay != 2*time.Second || a.MaxDelay != 10*time.Minute || a.enabled() {
		t.Errorf("defaults %+v", a)
	}
	if err := ok.Validate(); err != nil {
		t.Error(err)
	}
}
