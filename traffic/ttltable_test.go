package traffic

import (
	"sync"
	"testing"
)

// TestTTLTableExpiresAndStaysBounded: an entry is found until its expiry;
// a full bucket gives the slot that expires first to a new key, so the
// table never holds more than its slots and forgets the soonest-ending
// entries first.
func TestTTLTableExpiresAndStaysBounded(t *testing.T) {
	tb := newTTLTable(8) // one bucket
	if len(tb.slots) != bucketSlots {
		t.Fatalf("%d slots for 8 entries, want %d", len(tb.slots), bucketSlots)
	}
	set := func(k uint64, v, exp int64) {
		tb.update(k, 100, func(int64, int64, bool) (int64, int64) { return v, exp })
	}
	if !tb.empty() {
		t.Fatal("a new table is not empty")
	}
	for k := uint64(1); k <= 8; k++ {
		set(k, int64(k), 1000+int64(k))
	}
	if v, ok := tb.get(3, 500); !ok || v != 3 {
		t.Fatalf("get(3) = %d, %v", v, ok)
	}
	if _, ok := tb.get(3, 1003); ok {
		t.Fatal("an entry is found at its expiry")
	}
	set(9, 9, 2000) // full: key 1 (expires first) gives way
	if _, ok := tb.get(1, 500); ok {
		t.Fatal("the soonest-expiring entry was kept over a new key")
	}
	for k := uint64(2); k <= 9; k++ {
		if _, ok := tb.get(k, 500); !ok {
			t.Fatalf("key %d lost", k)
		}
	}
	// Updating a present key keeps its slot; the old value is passed in.
	tb.update(5, 100, func(v, exp int64, ok bool) (int64, int64) {
		if !ok || v != 5 || exp != 1005 {
			t.Fatalf("update saw %d, %d, %v", v, exp, ok)
		}
		return v + 1, exp
	})
	if v, _ := tb.get(5, 500); v != 6 {
		t.Fatalf("after update get(5) = %d", v)
	}
	// An expired slot is reused before a live one is evicted.
	tb.update(10, 1004, func(int64, int64, bool) (int64, int64) { return 10, 3000 })
	for _, k := range []uint64{5, 6, 7, 8, 9, 10} {
		if _, ok := tb.get(k, 1004); !ok {
			t.Fatalf("key %d lost though an expired slot was free", k)
		}
	}
	if _, ok := tb.get(0, 0); ok {
		t.Fatal("key 0 (unknown device) found")
	}
}

// TestTTLTableConcurrent: readers on many goroutines while writers churn
// keys never see one key's value under another key (run with -race).
func TestTTLTableConcurrent(t *testing.T) {
	tb := newTTLTable(64)
	var wg, writers sync.WaitGroup
	stop := make(chan struct{})
	for w := range 2 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for i := range 20000 {
				k := uint64(i%500 + 1 + w*1000)
				tb.update(k, 1, func(int64, int64, bool) (int64, int64) { return int64(k) * 7, 1 << 60 })
			}
		}()
	}
	bad := make(chan uint64, 1)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				for k := uint64(1); k <= 1500; k++ {
					if v, ok := tb.get(k, 2); ok && v != int64(k)*7 {
						select {
						case bad <- k:
						default:
						}
					}
				}
			}
		}()
	}
	writers.Wait()
	close(stop)
	wg.Wait()
	select {
	case k := <-bad:
		t.Fatalf("key %d read another key's value", k)
	default:
	}
}
