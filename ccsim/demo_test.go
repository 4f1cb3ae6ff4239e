package ccsim

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"gopkg.in/yaml.v3"

	"github.com/callbid/callbid/capacity"
	"github.com/callbid/callbid/events"
)

// demoFile is the part of configs/callbid.yaml (the embedded demo) this
// test reads: the simulated center, the capacity model, and the skills of
// the campaigns.
type demoFile struct {
	Simulator Config          `yaml:"simulator"`
	Capacity  capacity.Config `yaml:"capacity"`
	Campaigns []struct {
		ID    string `yaml:"id"`
		Skill struct {
			Name               string  `yaml:"name"`
			MinProficiency     float64 `yaml:"min_proficiency"`
			PremiumProficiency float64 `yaml:"premium_proficiency"`
		} `yaml:"skill"`
	} `yaml:"campaigns"`
}

// capFeeder hands every simulated event to a capacity model, as the
// consumers would.
type capFeeder struct {
	t *testing.T
	m *capacity.Model
}

func (f capFeeder) Publish(topic string, _, value []byte) bool {
	switch topic {
	case events.TopicAgentState:
		var ev events.AgentState
		if err := events.DecodeAgentState(value, &ev); err != nil {
			f.t.Fatalf("%v: %s", err, value)
		}
		if err := f.m.HandleAgentState(&ev); err != nil {
			f.t.Fatal(err)
		}
	case events.TopicCall:
		var ev events.Call
		if err := events.DecodeCall(value, &ev); err != nil {
			f.t.Fatalf("%v: %s", err, value)
		}
		if err := f.m.HandleCall(&ev); err != nil {
			f.t.Fatal(err)
		}
	}
	return true
}

// The demo's scenario, as capacity sees it: the embedded config's
// simulated center fed into its capacity model for the demo's first 10
// minutes, read every 5 s for the mortgage campaign (the README request's).
// Capacity alone (pacing and hit rates need bids, wins and calls) must
// leave headroom in at least 85 % of the samples (the demo acceptance is
// 80 % of bids, and pacing can skip a few more), move the capacity factor
// over a range (prices that follow capacity), and stop for tens of seconds
// while the team meets (a visible no-bid window when agents leave).
func TestDemoScenario(t *testing.T) {
	b, err := os.ReadFile("../configs/callbid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f demoFile
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	var skills []string
	minProf, premProf := 0.0, 0.0
	for _, c := range f.Campaigns {
		skills = append(skills, c.Skill.Name)
		if c.ID == "mortgage-refi" {
			minProf, premProf = c.Skill.MinProficiency, c.Skill.PremiumProficiency
		}
	}
	sim := mustSim(t, f.Simulator, t0, zerolog.Nop())
	m, err := capacity.New(f.Capacity, skills, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	m.SetClock(sim.Now)
	feed := capFeeder{t: t, m: m}
	perSample := int(5 * time.Second / sim.cfg.Tick)
	var (
		samples, fresh, premium int
		lo, hi                  = 2.0, -1.0
		gapStart                = -1
		gaps                    []string
		longest                 time.Duration
		table                   strings.Builder
	)
	for i := range 120 * perSample {
		sim.Step(feed)
		if i%perSample != 0 {
			continue
		}
		m.Rebuild()
		el := sim.Now().Sub(t0)
		v := m.View("mortgage", minProf, premProf)
		h, _ := m.Headroom("mortgage")
		st := sim.Stats().Skills[0]
		fmt.Fprintf(&table, "%5.0fs staffed %2d avail %2d waiting %d λmax %5.2f headroom %6.2f factor %.2f premium %v\n",
			el.Seconds(), st.Staffed, st.Available, st.Waiting, m.LambdaMax("mortgage"), h, v.Factor, v.PremiumFree)
		samples++
		if v.Factor > 0 {
			fresh++
			lo, hi = min(lo, v.Factor), max(hi, v.Factor)
			if v.PremiumFree {
				premium++
			}
			if gapStart >= 0 {
				d := el - time.Duration(gapStart)*time.Second
				gaps = append(gaps, fmt.Sprintf("%ds for %s", gapStart, d))
				longest = max(longest, d)
				gapStart = -1
			}
		} else if gapStart < 0 {
			gapStart = int(el.Seconds())
		}
	}
	t.Logf("mortgage every 5 s for 10 min:\n%s", table.String())
	t.Logf("headroom in %d of %d samples, factor %.2f-%.2f, premium free in %d; no headroom from %v",
		fresh, samples, lo, hi, premium, gaps)
	if fresh*100 < 85*samples {
		t.Errorf("headroom in %d of %d samples, want ≥ 85 %%", fresh, samples)
	}
	if hi-lo < 0.3 {
		t.Errorf("capacity factor %.2f-%.2f: want it to move over at least 0.3", lo, hi)
	}
	if longest < 20*time.Second {
		t.Errorf("no-headroom windows %v: want one of at least 20 s (the team meeting)", gaps)
	}
}
