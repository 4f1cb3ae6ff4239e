package events

import (
	"bytes"
	"testing"
)

// A hold batch splits back into the keys and lease values it was built
// from, in order; every malformed or cut-off value is an error, never a
// panic.
func TestHoldBatchRoundTrip(t *testing.T) {
	b := AppendHoldBatchStart(nil, "inst1")
	if err := SplitHoldBatch(AppendHoldBatchEnd(append([]byte(nil), b...)), func(k, v []byte) { t.Fatal("item in an empty batch") }); err != nil {
		t.Fatalf("empty batch: %v", err)
	}
	ls := []Lease{
		{Owner: "inst1", Pool: "p", Gen: 7, State: LeaseHeld, ReservedAt: 1, Campaign: `c"{}[`, RequestID: []byte(`r\"}`), BidID: []byte("b")},
		{Owner: "inst1", Pool: "p", Gen: 8, State: LeaseHeld, ReservedAt: 2, SiteOrApp: []byte("]]}}")},
	}
	keys := [][]byte{[]byte("+15550000001"), []byte("+15550000002;ext=12")}
	for k := range ls {
		b = AppendHoldBatchItem(b, keys[k], &ls[k])
	}
	b = AppendHoldBatchEnd(b)
	var n int
	if err := SplitHoldBatch(b, func(k, v []byte) {
		if !bytes.Equal(k, keys[n]) || !bytes.Equal(v, AppendLease(nil, &ls[n])) {
			t.Errorf("item %d: %s %s", n, k, v)
		}
		var l Lease
		if err := DecodeLease(v, &l); err != nil || l.Gen != ls[n].Gen {
			t.Errorf("item %d decodes to %+v, %v", n, l, err)
		}
		n++
	}); err != nil || n != 2 {
		t.Fatalf("split: %d items, %v", n, err)
	}
	for cut := range len(b) - 1 {
		_ = SplitHoldBatch(b[:cut], func(k, v []byte) {})
		if SplitHoldBatch(b[:cut], func(k, v []byte) {}) == nil {
			t.Fatalf("cut at %d accepted: %s", cut, b[:cut])
		}
	}
	if !IsHoldBatchKey(AppendHoldBatchKey(nil, "inst1", 3, 1)) || IsHoldBatchKey(keys[0]) {
		t.Fatal("hold batch keys are not told from number keys")
	}
}

func FuzzSplitHoldBatch(f *testing.F) {
	l := Lease{Owner: "o", Pool: "p", State: LeaseHeld}
	f.Add(AppendHoldBatchEnd(AppendHoldBatchItem(AppendHoldBatchStart(nil, "o"), []byte("+1555"), &l)))
	f.Add([]byte(`{"o":"x","holds":[["k",{"a":"\"}"}]]}`))
	f.Fuzz(func(t *testing.T, v []byte) {
		_ = SplitHoldBatch(v, func(k, lv []byte) {
			if len(lv) == 0 || lv[0] != '{' || lv[len(lv)-1] != '}' {
				t.Fatalf("item %q is not an object", lv)
			}
		})
	})
}
