package numbers

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callbid/callbid/callrecords"
)

// extPool builds one pool of n entries from numbers with 10,000-extension
// ranges (how a million entries are configured cheaply).
func extPool(n int) Config {
	pc := PoolConfig{ID: "p"}
	for k := 0; n > 0; k++ {
		m := min(n, 10_000)
		pc.Extensions = append(pc.Extensions, ExtensionRange{Number: fmt.Sprintf("+1800%07d", k), From: 1, To: m})
		n -= m
	}
	return Config{CallsToken: "tok", Pools: []PoolConfig{pc}}
}

var benchSink Reservation

// reportCPU adds cpu-ns/op: process CPU time per op since start (all
// goroutines, GC included) divided by b.N.
func reportCPU(b *testing.B, start int64) {
	if start > 0 {
		b.ReportMetric(float64(cpuNanos()-start)/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkReserveRelease: one bid's Reserve plus its Loss notice, from
// parallel goroutines, at 1k, 100k and 1M entries.
func BenchmarkReserveRelease(b *testing.B) {
	for _, n := range []int{1_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			p := mustNew(b, extPool(n), nil)
			now := t0
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuNanos()
			defer func() { reportCPU(b, cpu0) }()
			b.RunParallel(func(pb *testing.PB) {
				c := testClaim(1)
				var last Reservation
				for pb.Next() {
					r, ok := p.Reserve(0, c, now)
					if !ok {
						b.Error("pool exhausted")
						return
					}
					p.Loss(r.Ref, now)
					last = r
				}
				benchSink = last
			})
		})
	}
}

// BenchmarkReserveWin: Reserve and a win notice (the lease record is
// encoded and handed to the publisher). A 100k-entry pool, every entry
// warmed once; the sweeps that recycle the pool run outside the timer.
func BenchmarkReserveWin(b *testing.B) {
	const n = 100_000
	p := mustNew(b, extPool(n), &fakeDiscard{})
	now := t0
	recycle := func() {
		now = now.Add(2 * time.Hour)
		p.Sweep(now)
	}
	for range n {
		r, _ := p.Reserve(0, testClaimStatic, now)
		p.Win(r.Ref, false, now)
	}
	recycle()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuNanos()
	defer func() { reportCPU(b, cpu0) }()
	for i := 0; i < b.N; i++ {
		if i%n == 0 && i > 0 {
			b.StopTimer()
			recycle()
			b.StartTimer()
		}
		r, ok := p.Reserve(0, testClaimStatic, now)
		if !ok {
			b.Fatal("exhausted")
		}
		p.Win(r.Ref, false, now)
	}
}

var testClaimStatic = testClaim(42)

type fakeDiscard struct{ n atomic.Int64 }

func (f *fakeDiscard) Publish(topic string, key, value []byte) bool { f.n.Add(1); return true }

var benchBody []byte

// BenchmarkAttribute: the /v1/calls lookup for a leased number, a fresh
// call id each time (first call ends the lease; later ones hit cooldown).
func BenchmarkAttribute(b *testing.B) {
	p := mustNew(b, extPool(100_000), nil)
	var refs []Reservation
	for k := range 100_000 {
		r, _ := p.Reserve(0, testClaim(k), t0)
		p.Win(r.Ref, false, t0)
		refs = append(refs, r)
	}
	ids := make([][]byte, 1<<16)
	for k := range ids {
		ids[k] = fmt.Appendf(nil, "call-%d", k)
	}
	ani := []byte("+14155550188")
	started := t0.Add(time.Minute).UnixNano()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuNanos()
	defer func() { reportCPU(b, cpu0) }()
	for i := 0; i < b.N; i++ {
		if i%len(ids) == 0 && i > 0 {
			b.StopTimer()
			p.calls.recs, _ = callrecords.New(callrecords.Config{}) // keep the call records bounded
			b.StartTimer()
		}
		r := refs[i%len(refs)]
		benchBody = p.attribute(benchBody[:0], ids[i%len(ids)], []byte(r.E164), []byte(r.Ext), ani, started, started)
		select { // what Run would do
		case <-p.attrQ:
		default:
		}
	}
}
