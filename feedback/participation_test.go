package feedback

import (
	"encoding/json"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/hitrate"
)

// bought reads a skill's cumulative expected calls bought.
func bought(f *Feedback, skill string) float64 {
	for _, s := range f.Pacer().View().Skills {
		if s.Skill == skill {
			return s.Bought
		}
	}
	return 0
}

// TestParticipationPacesExpectedCalls drives the bucket as the bid path
// would (a request every 50 ms, winning every bid) and checks the expected
// calls bought per minute against target × budget, the slow start, and the
// stop after a drop while calls bought earlier are still due.
func TestParticipationPacesExpectedCalls(t *testing.T) {
	cfg := Config{}
	// No call ever arrives here: a prior this strong keeps the price of a
	// bid at the cautious rate, so the bucket alone is measured.
	cfg.HitRate.PacingPriorStrength = 1e9
	f, _, now := newTest(t, cfg)
	h := testHeadroom[f]
	h.perMin = 10 // B = 10 calls/min → 9 at target 0.9
	start := *now
	n, skipped := 0, 0
	var at10, at120, at180 float64
	step := 50 * time.Millisecond
	for i := 1; i <= 240*20; i++ {
		*now = now.Add(step)
		if f.Pacer().Admit("mortgage") {
			n++
			f.RecordBid("c1", "mortgage", "p1", "x1", 1_000_000, 0, *now)
			f.HandleImpression(imp("b"+strconv.Itoa(n), "p1", "x1", 1_000_000, *now))
		} else {
			skipped++
		}
		if i%20 == 0 {
			f.drain()
			f.tick(*now)
		}
		switch now.Sub(start) {
		case 10 * time.Second:
			at10 = bought(f, "mortgage")
		case 120 * time.Second:
			at120 = bought(f, "mortgage")
		case 180 * time.Second:
			at180 = bought(f, "mortgage")
			h.perMin = 2 // a drop to 1.8 calls/min at target
		}
	}
	at240 := bought(f, "mortgage")
	// Slow start: the first 10 s stay well under the 1.5 calls the full
	// rate would buy (level 0.25 doubling every 5 s, plus a 2 s burst).
	if at10 > 1.2 {
		t.Errorf("first 10 s bought %.2f expected calls; want slow start under 1.2", at10)
	}
	if r := at180 - at120; math.Abs(r-9)/9 > 0.15 {
		t.Errorf("steady minute bought %.2f expected calls; want 9 ± 15%%", r)
	}
	// After the drop the calls bought in the last minutes are still due: the
	// bucket buys less than the new 1.8/min until they have arrived.
	if r := at240 - at180; r > 1.8 {
		t.Errorf("minute after the drop bought %.2f expected calls; want ≤ 1.8", r)
	}
	if skipped == 0 {
		t.Error("no request was skipped")
	}
	t.Logf("bids %d skipped %d; bought %.2f (0–10 s) %.2f (120–180 s) %.2f (after drop)", n, skipped, at10, at180-at120, at240-at180)
}

// TestTeeFeedsInProcess: a win and an attribution published through Tee
// reach feedback at once; their Kafka copies are duplicates, not new evidence.
func TestTeeFeedsInProcess(t *testing.T) {
	f, pub, now := newTest(t, Config{})
	own := f.Tee(pub)
	w := imp("b1", "p1", "x1", 1_000_000, *now)
	own.Publish(events.TopicImpressions, w.Key, w.Value)
	a := attr("call-1", "b1", "p1", "x1", *now, now.Add(5*time.Second))
	own.Publish(events.TopicAttribution, a.Key, a.Value)
	if st := f.Stats(); st.Wins != 1 {
		t.Fatalf("wins %d after the in-process win, want 1", st.Wins)
	}
	if len(pub.topic(events.TopicImpressions)) != 1 || len(pub.topic(events.TopicAttribution)) != 1 {
		t.Fatal("the tee did not forward to Kafka")
	}
	f.HandleImpression(w) // the Kafka copy
	f.feedAttr(a)
	st := f.Stats()
	if st.Wins != 1 || st.Duplicates[events.TopicImpressions] != 1 || st.Duplicates[events.TopicAttribution] != 1 {
		t.Fatalf("after the Kafka copies: wins %d duplicates %v", st.Wins, st.Duplicates)
	}
	v, r := f.Pacer().View(), f.HitRates().Rates(hitrate.RatesQuery{Now: f.clock()})
	if len(v.Exchanges) != 1 || v.Exchanges[0].Wins != 1 || len(r.Publishers) != 1 || math.Abs(r.Publishers[0].Calls-1) > 1e-3 {
		t.Fatalf("visible %+v %+v", v, r)
	}
}

// TestAdminRates: what GET /admin/rates shows: skills and exchanges from
// pacing, publishers from hit rates, filtered by campaign.
func TestAdminRates(t *testing.T) {
	f, _, now := newTest(t, Config{})
	f.HandleImpression(imp("b1", "p1", "x1", 1_000_000, *now))
	f.tick(now.Add(time.Second))
	v := f.Pacer().View()
	r := f.HitRates().Rates(hitrate.RatesQuery{Campaign: "c1", Now: now.Add(time.Second)})
	if len(v.Skills) != 1 || v.Skills[0].Skill != "mortgage" || v.Skills[0].Share != 1 || len(r.Publishers) != 1 || r.Publishers[0].Publisher != "p1" {
		t.Fatalf("rates %+v %+v", v, r)
	}
	if n := len(f.HitRates().Rates(hitrate.RatesQuery{Campaign: "c2"}).Publishers); n != 0 {
		t.Fatalf("campaign filter kept %d publishers of another campaign", n)
	}
	if _, err := json.Marshal(&r); err != nil {
		t.Fatal(err)
	}
}
