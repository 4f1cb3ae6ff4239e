package ccsim

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"gopkg.in/yaml.v3"

	"github.com/callbid/callbid/capacity"
	"github.com/callbid/callbid/channel"
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

// The demo's scenario, as capacity sees it: the embedded config's
// simulated center fed into its capacity model for the demo's first 10
// minutes, read every 5 s for the mortgage campaign (the README request's).
// A mortgage bid is a call invitation while voice has headroom, a chat
// invitation while only chat has (bidder/channel.go), none otherwise.
// Capacity alone (pacing and hit rates need bids, wins and calls) must leave
// a bid in at least 85 % of the samples (the demo acceptance is 80 %, and
// pacing can skip a few more) and move the voice factor over a range (prices
// that follow capacity); the team meetings must show as a stretch of
// tens of seconds with chat only (voice agents away) and one with no bid
// (voice and chat agents away).
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
	ch := capacity.NewChannels(f.Capacity.Channels, m, skills)
	feed := &feeder{t: t, m: m, ch: ch, keyed: map[string]string{}, chatSeen: map[string]bool{}}
	perSample := int(5 * time.Second / sim.cfg.Tick)
	var (
		samples, bids, premium int
		lo, hi                 = 2.0, -1.0
		runs                   = map[string][]time.Duration{} // lengths of the stretches of "chat" and "none"
		runKind                string
		runStart               time.Duration
		table                  strings.Builder
	)
	for i := range 120*perSample + 1 {
		sim.Step(feed)
		if i%perSample != 0 {
			continue
		}
		m.Rebuild()
		ch.Rebuild()
		el := sim.Now().Sub(t0)
		v := m.View("mortgage", minProf, premProf)
		cv := ch.View("mortgage", channel.Chat)
		h, _ := m.Headroom("mortgage")
		st := sim.Stats().Skills[0]
		kind := "voice"
		switch {
		case v.Factor > 0:
			lo, hi = min(lo, v.Factor), max(hi, v.Factor)
			if v.PremiumFree {
				premium++
			}
		case cv.Factor > 0:
			kind = "chat"
		default:
			kind = "none"
		}
		fmt.Fprintf(&table, "%5.0fs staffed %2d avail %2d waiting %d λmax %5.2f headroom %6.2f factor %.2f premium %-5v chat free %2.0f → %s\n",
			el.Seconds(), st.Staffed, st.Available, st.Waiting, m.LambdaMax("mortgage"), h, v.Factor, v.PremiumFree, cv.Free, kind)
		samples++
		if kind != "none" {
			bids++
		}
		if kind != runKind {
			if runKind != "voice" && runKind != "" {
				runs[runKind] = append(runs[runKind], el-runStart)
			}
			runKind, runStart = kind, el
		}
	}
	t.Logf("mortgage every 5 s for 10 min:\n%s", table.String())
	t.Logf("a bid in %d of %d samples; voice factor %.2f-%.2f, premium free in %d; chat only for %v, no bid for %v",
		bids, samples, lo, hi, premium, runs["chat"], runs["none"])
	if bids*100 < 85*samples {
		t.Errorf("a bid in %d of %d samples, want ≥ 85 %%", bids, samples)
	}
	if hi-lo < 0.3 {
		t.Errorf("voice factor %.2f-%.2f: want it to move over at least 0.3", lo, hi)
	}
	for _, kind := range []string{"chat", "none"} {
		if slices.Max(append(runs[kind], 0)) < 20*time.Second {
			t.Errorf("stretches of %q %v: want one of at least 20 s (a team meeting)", kind, runs[kind])
		}
	}
}
