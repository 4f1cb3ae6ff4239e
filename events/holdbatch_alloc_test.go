//go:build !race

package events

import "testing"

// Writing a batch allocates nothing once its buffer has grown; reading one
// allocates its one Lease, however many holds it has.
func TestHoldBatchAllocs(t *testing.T) {
	l := Lease{Owner: "inst1", Pool: "p", State: LeaseHeld, Campaign: "c", Publisher: "pub", RequestID: []byte("r1"), BidID: []byte("b")}
	h := holdOf(&l)
	key := []byte("+15550000001")
	var hb HoldBatch
	write := func() {
		hb.Begin("inst1")
		for range 50 {
			hb.Add(key, &h)
		}
	}
	write()
	if n := testing.AllocsPerRun(100, write); n != 0 {
		t.Fatalf("%v allocations writing a batch", n)
	}
	items := 0
	fn := func([]byte, *Lease) { items++ }
	if n := testing.AllocsPerRun(100, func() {
		if _, err := ReadHoldBatch(hb.Bytes(), fn); err != nil {
			t.Fatal(err)
		}
	}); n > 1 || items != 101*50 {
		t.Fatalf("%v allocations reading a batch of 50 (%d items read)", n, items)
	}
}
