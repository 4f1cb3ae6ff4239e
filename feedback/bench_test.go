package feedback

import (
	"context"

	"strconv"
	"testing"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/kafkaio"

	"github.com/rs/zerolog"
)

// benchFeedback has 50 campaigns × 2000 publishers of learned factors and
// 20 paced skills, so the snapshot maps are realistically large.
func benchFeedback(tb testing.TB) *Feedback {
	var cs []Campaign
	for i := range 50 {
		cs = append(cs, Campaign{ID: "c" + strconv.Itoa(i), Skill: "s" + strconv.Itoa(i%20), PriorCallRate: 0.01})
	}
	cfg := Config{}
	cfg.Traffic.IPCap, cfg.Traffic.IFACap = 10, 10
	cfg.Traffic.BlockedRanges = []string{"10.0.0.0/8", "192.168.0.0/16", "100.64.0.0/10", "2001:db8::/32"}
	f := New(cfg, cs, &fixedHeadroom{perMin: 5}, nil, zerolog.Nop())
	snap := &rateSnap{factor: map[pairKey]float64{}}
	for _, c := range cs {
		for p := range 2000 {
			snap.factor[pairKey{c.ID, "pub-" + strconv.Itoa(p)}] = 1.5
		}
	}
	f.rates.Store(snap)
	// Learned any-call rates for the participation snapshot, as after traffic.
	f.mu.Lock()
	for _, c := range cs {
		for p := range 2000 {
			f.cellLocked(c.ID, "pub-"+strconv.Itoa(p)).anyRate = 0.02
		}
	}
	f.rebuildRatesLocked(time.Now()) // publishes the rates bids are priced with
	f.mu.Unlock()
	f.rates.Store(snap)
	f.tick(time.Now())
	tb.Cleanup(f.traffic.close)
	return f
}

// BenchmarkParticipation is the volume actuator's share of one decision:
// Admit (before the bid) and the charge RecordBid makes (after it).
func BenchmarkParticipation(b *testing.B) {
	f := benchFeedback(b)
	pub := string([]byte("pub-1234"))
	b.ReportAllocs()
	for b.Loop() {
		// Both halves every time (the bucket runs dry here, and a skipped
		// spend would flatter the number).
		sinkB = f.Admit("s7")
		sink += f.spend("c17", "s7", pub, "exchange-1")
	}
}

var sink float64
var sinkB bool

func BenchmarkHitRate(b *testing.B) {
	f := benchFeedback(b)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		sink += f.HitRate("c17", "pub-1234")
	}
}

func BenchmarkHitRateParallel(b *testing.B) {
	f := benchFeedback(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var s float64
		for pb.Next() {
			s += f.HitRate("c17", "pub-1234")
		}
		sink += s
	})
}

func BenchmarkPacing(b *testing.B) {
	f := benchFeedback(b)
	b.ReportAllocs()
	for b.Loop() {
		m, stop := f.Pacing("s7")
		sink += m
		sinkB = sinkB != stop
	}
}

// BenchmarkRecordBid measures the bid-path send with the aggregator
// goroutine running, as in production; drops are reported per op.
func BenchmarkRecordBid(b *testing.B) {
	f := benchFeedback(b)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.aggregate(ctx); close(done) }()
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		f.RecordBid("c17", "s7", "pub-1234", "exchange-1", 2_500_000, now)
	}
	b.StopTimer()
	cancel()
	<-done
	b.ReportMetric(float64(f.st.recordsDropped.Load())/float64(b.N), "drops/op")
}

func BenchmarkAllowed(b *testing.B) {
	f := benchFeedback(b)
	b.ReportAllocs()
	var i uint64
	for b.Loop() {
		i++
		sinkB = f.Allowed(i&1023+1, i&4095+1)
	}
}

func BenchmarkAllowedIP(b *testing.B) {
	f := benchFeedback(b)
	b.ReportAllocs()
	for b.Loop() {
		sinkB = f.AllowedIP("203.0.113.45")
	}
}

// BenchmarkHandleImpression is the consumer-side cost of one win (JSON
// decode, dedupe, rates, report row, demand, traffic counts).
func BenchmarkHandleImpression(b *testing.B) {
	f := benchFeedback(b)
	now := time.Now()
	msgs := make([]kafkaio.Message, 1<<17)
	for i := range msgs {
		msgs[i] = imp("b"+strconv.Itoa(i), "pub-"+strconv.Itoa(i%500), "x1", 2_000_000, now)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		f.HandleImpression(msgs[i%len(msgs)]) // past 1<<17 these are duplicates
		i++
	}
	b.ReportMetric(float64(f.Stats().Duplicates[events.TopicImpressions])/float64(b.N), "dups/op")
}
