package numbers

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestStatsRatesAndLittlesLaw(t *testing.T) {
	cfg := extPool(6000) // 5 leases/s × 15 min = 4,500 in use
	cfg.Pools[0].Lease, cfg.Pools[0].Cooldown, cfg.Pools[0].Hold = 10*time.Minute, 5*time.Minute, 10*time.Second
	p := mustNew(t, cfg, nil)
	now := t0
	p.updateRates(now)
	// 10 reservations per second for 10 minutes, half of them won
	for sec := range 600 {
		now = now.Add(time.Second)
		for k := range 10 {
			r, ok := p.Reserve(0, testClaim(k), now)
			if !ok {
				t.Fatal("exhausted")
			}
			if k%2 == 0 {
				p.Win(r.Ref, false, now)
			} else {
				p.Loss(r.Ref, now)
			}
		}
		if sec%5 == 4 {
			p.updateRates(now)
		}
	}
	ps := p.Stats().Pools[0]
	if math.Abs(ps.ReservationRate-10) > 0.5 || math.Abs(ps.LeaseRate-5) > 0.25 {
		t.Fatalf("rates %.2f/s, %.2f/s; want about 10 and 5", ps.ReservationRate, ps.LeaseRate)
	}
	// Little: 10/s × 900 s / 0.75 = 12,000; observed: (5 × 900 + 10 × 10) / 0.75 ≈ 6,133
	want := ps.ReservationRate * 900 / 0.75
	if math.Abs(float64(ps.NeededSize)-want) > 1 || math.Abs(float64(ps.NeededSizeObserved)-(ps.LeaseRate*900+ps.ReservationRate*10)/0.75) > 1 {
		t.Fatalf("needed %d / %d, rates %.3f %.3f", ps.NeededSize, ps.NeededSizeObserved, ps.ReservationRate, ps.LeaseRate)
	}
	if ps.Leased+ps.Free+ps.Cooldown+ps.Held != ps.Size || ps.Leased+ps.Cooldown != 3000 {
		t.Fatalf("counts %+v", ps)
	}
	if ps.Utilization <= 0 || ps.Utilization > 1 {
		t.Fatalf("utilization %v", ps.Utilization)
	}
}

func TestStatsAndMetrics(t *testing.T) {
	p := mustNew(t, onePool(4), nil)
	leaseOne(t, p, 1, t0)
	st := p.Stats()
	if len(st.Pools) != 1 || st.Pools[0].Leased != 1 || st.Pools[0].Size != 4 || st.Pools[0].TargetUtilization != 0.75 {
		t.Fatalf("admin stats %+v", st.Pools)
	}
	reg := prometheus.NewPedanticRegistry()
	if err := p.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	all := strings.Join(names, " ")
	for _, want := range []string{"callbid_numbers_entries", "callbid_numbers_needed_size", "callbid_numbers_exhausted_total",
		"callbid_numbers_late_wins_total", "callbid_numbers_collisions_total", "callbid_numbers_unattributed_calls_total"} {
		if !strings.Contains(all, want) {
			t.Errorf("metric %s missing from %s", want, all)
		}
	}
}

func TestCallMemoryExpires(t *testing.T) {
	cfg := onePool(2)
	cfg.CallTTL = time.Hour
	p := mustNew(t, cfg, nil)
	clock := t0
	p.clockNow = func() time.Time { return clock }
	doCall(t, p, "tok", callBody("old", "+19995550100", "", "", clock))
	// Retention runs in event time: later calls date it.
	clock = clock.Add(59 * time.Minute)
	doCall(t, p, "tok", callBody("mid", "+19995550100", "", "", clock))
	p.calls.cleanup(clock.UnixNano())
	if p.calls.record("old") == nil {
		t.Fatal("call forgotten before its TTL")
	}
	clock = clock.Add(2 * time.Minute)
	doCall(t, p, "tok", callBody("new", "+19995550100", "", "", clock))
	p.calls.cleanup(clock.UnixNano())
	if p.calls.record("old") != nil || p.calls.recs.Stats().Records != 2 {
		t.Fatalf("call remembered after its TTL: %d records", p.calls.recs.Stats().Records)
	}
}
