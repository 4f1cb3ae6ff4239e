package numbers

import (
	"runtime"
	"strings"
	"testing"
)

// BenchmarkGCWithPool is one full GC cycle of a process holding a
// 1M-entry pool whose every entry was reserved once (so each carries its
// attribution ids): what the GC's mark costs a bidder per cycle. With the
// ids in per-shard arenas the entries hold no pointer and are not scanned.
func BenchmarkGCWithPool(b *testing.B) {
	const n = 1_000_000
	p := mustNew(b, extPool(n), nil)
	c := testClaim(1)
	for range n {
		r, ok := p.Reserve(0, c, t0)
		if !ok {
			b.Fatal("exhausted")
		}
		p.Loss(r.Ref, t0)
	}
	runtime.GC()
	b.ResetTimer()
	for range b.N {
		runtime.GC()
	}
	b.StopTimer()
	runtime.KeepAlive(p)
}

// The arena gives every entry its own slot, grows a slot when the ids
// outgrow it, and hands back exactly what was stored.
func TestArenaSlots(t *testing.T) {
	var s shard
	es := make([]entry, 3000)
	for k := range es {
		id := strings.Repeat("r", k%50)
		setBuf(&s, &es[k], id, "1", "b"+id, "site")
	}
	for k := range es {
		req, imp, bid, site := es[k].ids(s.buf(&es[k]))
		if string(req) != strings.Repeat("r", k%50) || string(imp) != "1" || string(bid) != "b"+string(req) || string(site) != "site" {
			t.Fatalf("entry %d: %q %q %q %q", k, req, imp, bid, site)
		}
	}
	e := &es[0]
	before := e.bufCap
	long := strings.Repeat("x", 1024)
	setBuf(&s, e, long, long, long, long)
	if e.bufCap < 4096 || e.bufCap == before {
		t.Fatalf("slot of %d bytes after storing 4 KB", e.bufCap)
	}
	if req, _, _, site := e.ids(s.buf(e)); string(req) != long || string(site) != long {
		t.Fatal("4 KB of ids not kept")
	}
	if req, _, _, _ := es[1].ids(s.buf(&es[1])); string(req) != "r" {
		t.Fatalf("a grown slot overwrote its neighbour: %q", req)
	}
	var none entry
	if b := s.buf(&none); b != nil {
		t.Fatal("an unused entry has ids")
	}
	// Empty ids (a replayed quarantine hold) need no slot, in an empty
	// arena too.
	var empty shard
	setBuf(&empty, &none, "", "", "", "")
	if req, _, _, site := none.ids(empty.buf(&none)); len(req)+len(site) != 0 {
		t.Fatal("empty ids are not empty")
	}
	setBuf(&s, e, "", "", "", "")
	if req, imp, bid, site := e.ids(s.buf(e)); len(req)+len(imp)+len(bid)+len(site) != 0 {
		t.Fatal("emptied ids are not empty")
	}
}
