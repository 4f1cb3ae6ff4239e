//go:build !race

package numbers

import (
	"runtime"
	"testing"
	"time"
	"unsafe"
)

// TestReserveLossAllocs guards the bid path: Reserve plus a loss notice
// allocate nothing once the entry's attribution buffer exists.
func TestReserveLossAllocs(t *testing.T) {
	p := mustNew(t, extPool(1000), nil)
	c := testClaim(1)
	for range 2000 { // every entry used once: buffers sized
		r, _ := p.Reserve(0, c, t0)
		p.Win(r.Ref, false, t0)
	}
	p.Sweep(t0.Add(2 * time.Hour))
	n := testing.AllocsPerRun(1000, func() {
		r, ok := p.Reserve(0, c, t0.Add(2*time.Hour))
		if !ok {
			t.Fatal("exhausted")
		}
		p.Loss(r.Ref, t0.Add(2*time.Hour))
	})
	if n != 0 {
		t.Fatalf("Reserve+Loss: %v allocs/op, want 0", n)
	}
}

// TestWinAllocs guards the notice path with a publisher: the lease record
// is encoded into a reused shard buffer.
func TestWinAllocs(t *testing.T) {
	p := mustNew(t, extPool(1000), &fakeDiscard{})
	c := testClaim(1)
	now := t0
	for range 3 { // warm every entry and every shard buffer
		for range 1000 {
			r, _ := p.Reserve(0, c, now)
			p.Win(r.Ref, false, now)
		}
		now = now.Add(2 * time.Hour)
		p.Sweep(now)
	}
	n := testing.AllocsPerRun(500, func() {
		r, _ := p.Reserve(0, c, now)
		p.Win(r.Ref, false, now)
	})
	if n != 0 {
		t.Fatalf("Reserve+Win: %v allocs/op, want 0", n)
	}
}

// TestMemoryPerEntry builds a 1M-entry pool (100 numbers × 10,000
// extensions), uses every entry once with realistic attribution strings and
// measures the heap it holds: at most 224 bytes per entry (200 before the
// entry carried clearing price, creative, currency, geo and device type).
func TestMemoryPerEntry(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 1M-entry pool")
	}
	const n = 1_000_000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	p := mustNew(t, extPool(n), nil)
	c := &Claim{
		CampaignID: "camp-mortgage-refi-01", PublisherID: "pub-8842113", SiteOrApp: "www.dailynews-example.com",
		Exchange: "exchange-a", RequestID: "6f1c2e8a-9b7d-4c1e-a2f3-5d6e7f8a9b0c", ImpID: "1",
		BidID: "b-6f1c2e8a9b7d4c1e", Skill: "mortgage", PriceMicros: 4_250_000, IPHash: 1, IFAHash: 2,
	}
	for k := 0; k < n; k++ {
		r, ok := p.Reserve(0, c, t0)
		if !ok {
			t.Fatalf("exhausted after %d", k)
		}
		p.Win(r.Ref, false, t0)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("entry struct %d bytes; heap %.1f bytes/entry after every entry was leased once (attribution bytes per entry: %d)",
		unsafe.Sizeof(entry{}), per, len(c.RequestID)+len(c.ImpID)+len(c.BidID)+len(c.SiteOrApp))
	if per > 224 {
		t.Fatalf("%.1f bytes per entry, want ≤ 224", per)
	}
	runtime.KeepAlive(p)
}
