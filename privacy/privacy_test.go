package privacy

import (
	"errors"
	"slices"
	"testing"
)

func purposeMask(ps ...int) uint32 {
	var m uint32
	for _, p := range ps {
		m |= 1 << (p - 1)
	}
	return m
}

func TestTCFConsent(t *testing.T) {
	f := func(name, tc string, vendor int, purposes uint32, want bool, wantErr error) {
		t.Helper()
		got, err := TCFConsent(tc, vendor, purposes)
		if got != want || !errors.Is(err, wantErr) {
			t.Errorf("%s: TCFConsent(%q, %d, %b) = %v, %v; want %v, %v", name, tc, vendor, purposes, got, err, want, wantErr)
		}
	}
	for _, ranges := range []bool{false, true} {
		tc := tcString([]int{1, 2, 3, 4, 7}, []int{5, 9, 10, 11, 755}, ranges)
		enc := "bitfield"
		if ranges {
			enc = "ranges"
		}
		f(enc+": vendor and purposes", tc, 755, purposeMask(1, 2, 7), true, nil)
		f(enc+": vendor inside a run", tc, 10, purposeMask(1), true, nil)
		f(enc+": vendor without consent", tc, 8, purposeMask(1), false, nil)
		f(enc+": vendor past max", tc, 756, 0, false, nil)
		f(enc+": vendor 0", tc, 0, 0, false, nil)
		f(enc+": purpose without consent", tc, 755, purposeMask(1, 5), false, nil)
		f(enc+": with optional segments", tc+".IFoEUQQgAIQwgIwQABAEAAAAOIAACAIAAAAQAIAgEAACEAAAAAgAQBAAAAAAAGBAAgAAAAAAAFAAECAAAgAAQARAEQAAAAAJAAIAAgAAAYQEAAAQmAgBC3ZAYzUw", 9, purposeMask(1), true, nil)
		f(enc+": padded", tc+"==", 9, 0, true, nil)
	}
	// The consent string of openrtb/testdata/requests/app-native.json: CMP
	// 7, vendor list 159, purposes 1-10 consented, vendor consents as a
	// bitfield up to vendor 959.
	const appNative = "CPxyzAAPxyzAAAHABBENCfCsAP_AAH_AAAAAHftf_X_fb3_j-_59_9t0eY1f9_7_v-0zjhfds-8Nyf_X_L8X_2M7vF36pq4KuR4Eu3LBAQdlHOHcTQmQ6IkVqTPsbk2Mr7NKJ7PEinMbe2dYGH9_n9XTuZKY79_s___z__-__v__7_f_r-3_3_vp9V---3YHIgEmGpfARZiWOBJNGlUKIEIVxIdACACihGFomsICVwU7K4CPUEDABAagIwIgQYgoxZBAAAAAElEQAkAwIBEARAIAAQArQEIACJAEFgBIGAQACgGhYARRBKBIQZHBUcogQFSLRQTzRgSQAA"
	f("app-native: vendor 755, purposes 1-10", appNative, 755, purposeMask(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), true, nil)
	f("app-native: purpose 11", appNative, 755, purposeMask(1, 11), false, nil)
	f("app-native: vendor 3 without consent", appNative, 3, purposeMask(1), false, nil)
	f("app-native: vendor past 959", appNative, 1000, 0, false, nil)
	// bidder/testdata/requests/own/realistic-2kb.json: no purposes, no vendors.
	f("realistic-2kb: nothing consented", "CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA", 1, 0, false, nil)
	f("empty", "", 1, 0, false, ErrMalformed)
	f("not base64", "CP*x", 1, 0, false, ErrMalformed)
	f("version 1", (&bitWriter{}).uint(1, 6).uint(0, 300).String(), 1, 0, false, ErrUnsupported)
	short := tcString([]int{1}, []int{300}, false)
	f("bitfield cut short", short[:40], 300, 0, false, ErrMalformed)
	long := tcString([]int{1}, []int{3, 7, 20}, true)
	f("ranges cut short", long[:41], 20, 0, false, ErrMalformed)
}

func TestGPPParse(t *testing.T) {
	f := func(s string, wantIDs []int, wantErr error) {
		t.Helper()
		var g GPP
		err := g.Parse(s)
		var ids []int
		for i := 0; i < g.Len(); i++ {
			ids = append(ids, int(g.ids[i]))
		}
		if !errors.Is(err, wantErr) || !slices.Equal(ids, wantIDs) {
			t.Errorf("Parse(%q) = %v, %v; want %v, %v", s, ids, err, wantIDs, wantErr)
		}
	}
	// Headers decoded by hand: "DBABMA" is type 3, version 1, one entry,
	// single id Fibonacci "011" = 2 (TCF EU); "DBACNYA" adds a second
	// single id, offset "1011" = 4 from 2: 6 (US Privacy).
	f("DBABMA~CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA", []int{2}, nil)
	f("DBACNYA~CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA~1YNN", []int{2, 6}, nil)
	f(gppHeader([]int{7, 8, 9, 10, 11, 12}, true)+"~a~b~c~d~e~f", []int{7, 8, 9, 10, 11, 12}, nil)
	f(gppHeader([]int{2, 7, 8}, false)+"~a~b~c", []int{2, 7, 8}, nil)
	f(gppHeader(nil, false), nil, nil)
	f("", nil, ErrMalformed)
	f("D*AB", nil, ErrMalformed)
	f("DBAB", nil, ErrMalformed) // one entry announced, no bits for it
	f((&bitWriter{}).uint(3, 6).uint(2, 6).uint(0, 12).String(), nil, ErrUnsupported)
	var ids []int
	for i := 1; i <= 40; i++ {
		ids = append(ids, i)
	}
	f(gppHeader(ids, true), nil, ErrMalformed) // more sections than kept

	var g GPP
	if err := g.Parse("DBACNYA~CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA~1YNN"); err != nil {
		t.Fatal(err)
	}
	if s, ok := g.Section(6); !ok || s != "1YNN" {
		t.Errorf("Section(6) = %q, %v", s, ok)
	}
	if s, ok := g.Section(2); !ok || s != "CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA" {
		t.Errorf("Section(2) = %q, %v", s, ok)
	}
	if _, ok := g.Section(7); ok {
		t.Error("Section(7) present")
	}
	// A section the header lists but the string lacks reads as absent.
	if err := g.Parse(gppHeader([]int{2, 7}, false) + "~x"); err != nil {
		t.Fatal(err)
	}
	if _, ok := g.Section(7); ok {
		t.Error("missing section 7 present")
	}
}

func TestUSOptOut(t *testing.T) {
	f := func(name string, id int, sec string, want bool, wantErr error) {
		t.Helper()
		got, err := USOptOut(id, sec)
		if got != want || !errors.Is(err, wantErr) {
			t.Errorf("%s: USOptOut(%d, %q) = %v, %v; want %v, %v", name, id, sec, got, err, want, wantErr)
		}
	}
	// usnat: 6 notices, then sale, sharing, targeted advertising opt-outs.
	f("usnat no opt-out", GPPSectionUSNat, usSection(1, 1, 1, 1, 1, 1, 2, 2, 2), false, nil)
	f("usnat sale", GPPSectionUSNat, usSection(1, 1, 1, 1, 1, 1, 1, 2, 2), true, nil)
	f("usnat sharing", GPPSectionUSNat, usSection(1, 1, 1, 1, 1, 1, 2, 1, 2), true, nil)
	f("usnat targeted ads", GPPSectionUSNat, usSection(1, 1, 1, 1, 1, 1, 2, 2, 1)+".YA", true, nil)
	f("usnat not applicable", GPPSectionUSNat, usSection(0, 0, 0, 0, 0, 0, 0, 0, 0), false, nil)
	// usca: 3 notices, then sale and sharing opt-outs.
	f("usca sharing", GPPSectionUSCA, usSection(1, 1, 1, 2, 1), true, nil)
	f("usca none", GPPSectionUSCA, usSection(1, 1, 1, 2, 2), false, nil)
	// usva/usco/usct: 3 notices, then sale and targeted advertising.
	f("usva targeted ads", GPPSectionUSVA, usSection(1, 1, 1, 2, 1), true, nil)
	f("usco sale", GPPSectionUSCO, usSection(1, 1, 1, 1, 2), true, nil)
	f("usct none", GPPSectionUSCT, usSection(1, 1, 1, 2, 2), false, nil)
	// usut: 4 notices, then sale and targeted advertising.
	f("usut sale", GPPSectionUSUT, usSection(1, 1, 1, 1, 1, 2), true, nil)
	f("usut none", GPPSectionUSUT, usSection(1, 1, 1, 1, 2, 2), false, nil)
	f("uspv1", GPPSectionUSPV1, "1YYN", true, nil)
	f("uspv1 no", GPPSectionUSPV1, "1YNN", false, nil)
	f("uspv1 bad", GPPSectionUSPV1, "1YN", false, ErrMalformed)
	f("tcf is no US section", GPPSectionTCFEU, "CP", false, ErrUnsupported)
	f("short", GPPSectionUSNat, "BV", false, ErrMalformed)
	f("bad char", GPPSectionUSCA, "B*", false, ErrMalformed)
}

func TestFibonacciRoundTrip(t *testing.T) {
	for v := 1; v < 3000; v++ {
		s := (&bitWriter{}).fib(v).String()
		b, _ := newBits(s)
		got, _, ok := b.fibonacci(0)
		if !ok || got != v {
			t.Fatalf("fib %d: got %d, %v", v, got, ok)
		}
	}
}
