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

// holdOf is the Hold that writes lease l (a held record) into a batch.
func holdOf(l *Lease) Hold {
	ids := append(append(append(append([]byte(nil), l.RequestID...), l.ImpID...), l.BidID...), l.SiteOrApp...)
	return Hold{Pool: l.Pool, Campaign: l.Campaign, Publisher: l.Publisher, Exchange: l.Exchange, Skill: l.Skill,
		Creative: l.Creative, Currency: l.Currency, Country: l.Country, Region: l.Region,
		Gen: l.Gen, Flags: l.Flags, DeviceType: l.DeviceType, ReservedAt: l.ReservedAt, PriceMicros: l.PriceMicros,
		ClearingMicros: l.ClearingMicros, IPHash: l.IPHash, IFAHash: l.IFAHash,
		IDs: ids, ReqLen: uint16(len(l.RequestID)), ImpLen: uint16(len(l.ImpID)), BidLen: uint16(len(l.BidID))}
}

// leaseText renders a lease for comparisons (nil and empty ids alike).
func leaseText(l *Lease) string { return string(AppendLease(nil, l)) }

// A version-2 batch reads back, in order, exactly the held leases it was
// built from (strings repeated, changed, and changed back to empty; bytes
// JSON would escape); every cut-off value is an error, never a panic; a
// value never starts like a version-1 one.
func TestHoldBatchV2RoundTrip(t *testing.T) {
	var hb HoldBatch
	hb.Begin("inst1")
	if bad, err := ReadHoldBatch(hb.Bytes(), func([]byte, *Lease) { t.Fatal("item in an empty batch") }); err != nil || bad != 0 {
		t.Fatalf("empty batch: %d %v", bad, err)
	}
	base := Lease{Owner: "inst1", Pool: "mortgage-pool", State: LeaseHeld, Gen: 7, ReservedAt: 1795438860000000000,
		Flags: 33, Campaign: "mortgage-refi", Publisher: "pub-1", Exchange: "demo", Skill: "mortgage",
		RequestID: []byte("req-1"), ImpID: []byte("1"), BidID: []byte("b-9f2c"), SiteOrApp: []byte("site-42"),
		PriceMicros: 12_500_000, IPHash: 13546270123476151345, IFAHash: 1, Creative: "crid", Currency: "USD",
		Country: "USA", Region: "CA", DeviceType: 4}
	ls := []Lease{base, base, base, base}
	ls[1].Publisher, ls[1].Gen, ls[1].RequestID, ls[1].SiteOrApp = `p"\`+"\x00\xff", 8, []byte("r\"}\n"), nil
	ls[2].Country, ls[2].Region, ls[2].Creative, ls[2].ImpID, ls[2].ClearingMicros = "", "", "", nil, 9_750_000
	ls[3].Pool, ls[3].IPHash = "other-pool", 0
	keys := []string{"+18005550000;ext=1000", "+15550000002", "+15550000003", "+15550000004;ext=12"}
	for k := range ls {
		h := holdOf(&ls[k])
		hb.Add([]byte(keys[k]), &h)
	}
	v := append([]byte(nil), hb.Bytes()...)
	if HoldBatchVersion(v) != 2 || v[0] == '{' {
		t.Fatalf("version %d", HoldBatchVersion(v))
	}
	if o, ok := HoldBatchOwner(v); !ok || string(o) != "inst1" {
		t.Fatalf("owner %q %v", o, ok)
	}
	n := 0
	bad, err := ReadHoldBatch(v, func(k []byte, l *Lease) {
		if string(k) != keys[n] || leaseText(l) != leaseText(&ls[n]) {
			t.Errorf("item %d: %s\n%s\nwant %s\n%s", n, k, AppendLease(nil, l), keys[n], AppendLease(nil, &ls[n]))
		}
		n++
	})
	if err != nil || bad != 0 || n != len(ls) {
		t.Fatalf("read: %d items, %d bad, %v", n, bad, err)
	}
	t.Logf("%d holds in %d bytes (as version 1: %d)", n, len(v), len(v1Batch(ls, keys)))
	for cut := range len(v) {
		if _, err := ReadHoldBatch(v[:cut], func([]byte, *Lease) {}); err == nil {
			t.Fatalf("cut at %d of %d accepted", cut, len(v))
		}
	}
	if _, err := ReadHoldBatch(append(v, 0), func([]byte, *Lease) {}); err == nil {
		t.Fatal("trailing byte accepted")
	}
	// Begin starts afresh: the first item's strings are written again.
	hb.Begin("inst2")
	h := holdOf(&ls[0])
	hb.Add([]byte(keys[0]), &h)
	if _, err := ReadHoldBatch(hb.Bytes(), func(k []byte, l *Lease) {
		if l.Owner != "inst2" || l.Campaign != base.Campaign || l.Pool != base.Pool {
			t.Errorf("second batch: %+v", l)
		}
	}); err != nil {
		t.Fatal(err)
	}
	// An item without an owner or pool is no lease: skipped, counted.
	hb.Begin("")
	hb.Add([]byte(keys[0]), &h)
	if bad, err := ReadHoldBatch(hb.Bytes(), func([]byte, *Lease) { t.Error("lease without owner passed") }); bad != 1 || err != nil {
		t.Fatalf("no owner: %d bad, %v", bad, err)
	}
}

func v1Batch(ls []Lease, keys []string) []byte {
	b := AppendHoldBatchStart(nil, ls[0].Owner)
	for k := range ls {
		b = AppendHoldBatchItem(b, []byte(keys[k]), &ls[k])
	}
	return AppendHoldBatchEnd(b)
}

// Both versions tell their owner; anything else does not.
func TestHoldBatchOwner(t *testing.T) {
	l := Lease{Owner: "a1", Pool: "p", State: LeaseHeld}
	if o, ok := HoldBatchOwner(v1Batch([]Lease{l}, []string{"+1"})); !ok || string(o) != "a1" {
		t.Errorf("version 1: %q %v", o, ok)
	}
	for _, v := range []string{"", "[]", "\x00hb\x02\x05", `{"o":1}`, "\x00hb\x01"} {
		if o, ok := HoldBatchOwner([]byte(v)); ok {
			t.Errorf("%q: owner %q", v, o)
		}
	}
}

// Whatever ReadHoldBatch accepts writes back, item by item, to a batch
// that reads back the same.
func FuzzReadHoldBatch(f *testing.F) {
	l := Lease{Owner: "o", Pool: "p", State: LeaseHeld, Gen: 3, Campaign: "c", RequestID: []byte("r"), SiteOrApp: []byte("s")}
	var hb HoldBatch
	hb.Begin("o")
	for k := range 3 {
		h := holdOf(&l)
		h.Gen += uint32(k)
		hb.Add([]byte("+1555"), &h)
	}
	f.Add(append([]byte(nil), hb.Bytes()...))
	f.Add([]byte("\x00hb\x02\x01\x00o\x01\x00\x00\x00"))
	f.Add(v1Batch([]Lease{l}, []string{"+1"}))
	f.Fuzz(func(t *testing.T, v []byte) {
		var keys []string
		var ls []Lease
		var out HoldBatch
		o, _ := HoldBatchOwner(v)
		out.Begin(string(o))
		_, err := ReadHoldBatch(v, func(k []byte, l *Lease) {
			if l.State != LeaseHeld || l.Check(Limits{}) != nil {
				t.Fatalf("item %q passed: %+v", k, l)
			}
			keys = append(keys, string(k))
			ls = append(ls, *l) // its strings and bytes point into v, which stays
			h := holdOf(l)
			out.Add(k, &h)
		})
		if err != nil {
			return
		}
		n := 0
		if _, err := ReadHoldBatch(out.Bytes(), func(k []byte, l *Lease) {
			if string(k) != keys[n] || !bytes.Equal(l.RequestID, ls[n].RequestID) || l.Gen != ls[n].Gen || l.Owner != string(o) {
				t.Fatalf("item %d reads back as %q %+v, want %q %+v", n, k, l, keys[n], ls[n])
			}
			n++
		}); err != nil || n != len(keys) {
			t.Fatalf("rewritten batch: %d of %d items, %v", n, len(keys), err)
		}
	})
}
