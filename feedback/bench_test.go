package feedback

import (
	"context"

	"strconv"
	"testing"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/kafkaio"
)

// benchFeedback has 50 campaigns × 2000 publishers of learned factors and
// 20 paced skills, so the snapshot maps are realistically large.
func benchFeedback(tb testing.TB) *Feedback {
	var cs []Campaign
	for i := range 50 {
		cs = append(cs, Campaign{ID: "c" + strconv.Itoa(i), Skill: "s" + strconv.Itoa(i%20), PriorCallRate: 0.01})
	}
	cfg := Config{}
	f := mustNew(tb, cfg, cs, &fixedHeadroom{perMin: 5}, nil)
	// A won impression a minute ago per campaign × publisher: every pair
	// has rates in the snapshots, as after traffic.
	now := time.Now()
	for _, c := range cs {
		for p := range 2000 {
			f.HitRates().Win(c.ID, "pub-"+strconv.Itoa(p), "", "", now.Add(-time.Minute), now)
		}
	}
	f.tick(now)
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
		sinkB = f.Pacer().Admit("s7")
		sink += f.Pacer().Charge("c17", "s7", pub, "exchange-1")
	}
}

var sink float64
var sinkB bool

func BenchmarkHitRate(b *testing.B) {
	f := benchFeedback(b)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		sink += f.HitRates().HitRate("c17", "pub-1234")
	}
}

func BenchmarkHitRateParallel(b *testing.B) {
	f := benchFeedback(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var s float64
		for pb.Next() {
			s += f.HitRates().HitRate("c17", "pub-1234")
		}
		sink += s
	})
}

func BenchmarkPacing(b *testing.B) {
	f := benchFeedback(b)
	b.ReportAllocs()
	for b.Loop() {
		m, stop := f.Pacer().Pacing("s7")
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
		f.RecordBid("c17", "s7", "pub-1234", "exchange-1", 2_500_000, 0, now)
	}
	b.StopTimer()
	cancel()
	<-done
	b.ReportMetric(float64(f.st.recordsDropped.Load())/float64(b.N), "drops/op")
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

// BenchmarkRecordSeenBidFold is the whole cost a bid's counts put on the
// process: RecordSeen and RecordBid on the bid path and their fold by the
// aggregator, which runs every 5 ms (here: every 217 bids, 43,000 bids/s).
// one-publisher is the wrk bench's stream (every bid alike, folded as
// runs); 2000-publishers changes publisher every bid (no run folds).
// Measure CPU time (/usr/bin/time) on a loaded machine.
func BenchmarkRecordSeenBidFold(b *testing.B) {
	for _, np := range []int{1, 2000} {
		name := "one-publisher"
		if np > 1 {
			name = strconv.Itoa(np) + "-publishers"
		}
		b.Run(name, func(b *testing.B) {
			f := benchFeedback(b)
			now := time.Now()
			pubs := make([]string, np)
			for k := range pubs {
				pubs[k] = "pub-" + strconv.Itoa(k)
			}
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				f.RecordSeen("s7", "exchange-1", now)
				f.RecordBid("c17", "s7", pubs[n%len(pubs)], "exchange-1", 2_500_000, 2_500_000, now)
				if n++; n%217 == 0 {
					f.drain()
				}
			}
			b.ReportMetric(float64(f.st.recordsDropped.Load())/float64(b.N), "drops/op")
		})
	}
}
