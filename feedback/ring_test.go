package feedback

import (
	"sync"
	"testing"
)

// TestRecordRingOrderFullAndConcurrent: records come out in the order each
// producer put them, a full ring refuses (and frees its slots as the
// aggregator takes them), and concurrent producers lose nothing the ring
// accepted (run with -race).
func TestRecordRingOrderFullAndConcurrent(t *testing.T) {
	q := newRecordRing(4)
	for i := range 4 {
		if !q.put(&record{price: int64(i)}) {
			t.Fatalf("put %d refused with room", i)
		}
	}
	if q.put(&record{price: 99}) {
		t.Fatal("a full ring accepted a record")
	}
	var r record
	for i := range 4 {
		if !q.get(&r) || r.price != int64(i) {
			t.Fatalf("get %d: got price %d", i, r.price)
		}
		if !q.put(&record{price: int64(10 + i)}) {
			t.Fatalf("no room after a get")
		}
	}
	for i := range 4 {
		if !q.get(&r) || r.price != int64(10+i) {
			t.Fatalf("after wrap, get %d: %d", i, r.price)
		}
	}
	if q.get(&r) {
		t.Fatal("get from an empty ring")
	}

	q = newRecordRing(64)
	const producers, each = 4, 5000
	var wg sync.WaitGroup
	var accepted [producers]int
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if q.put(&record{kind: uint8(p), price: int64(i)}) {
					accepted[p]++
				}
			}
		}()
	}
	got := [producers]int{}
	last := [producers]int64{-1, -1, -1, -1}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	drain := func() {
		for q.get(&r) {
			p := r.kind
			if r.price <= last[p] {
				t.Fatalf("producer %d: %d after %d", p, r.price, last[p])
			}
			last[p] = r.price
			got[p]++
		}
	}
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		drain()
	}
	drain()
	if got != accepted {
		t.Fatalf("got %v records, the ring accepted %v", got, accepted)
	}
}
