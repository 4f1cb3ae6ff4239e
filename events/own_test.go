package events

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"
)

func sampleLease() Lease {
	return Lease{Owner: "inst-1", Pool: "p1", Gen: 4_000_000_000, State: LeaseLeased, ReservedAt: 1_700_000_000_000_000_000,
		Flags: 9, WonAt: 1_700_000_000_100_000_000, LeaseEnd: 1_700_000_900_000_000_000, Campaign: "c1", Publisher: "pub",
		Exchange: "x", Skill: "mortgage", RequestID: []byte("req-1"), ImpID: []byte("1"), BidID: []byte("bid \"q\""),
		SiteOrApp: []byte("site-9"), PriceMicros: 12_500_000, IPHash: math.MaxUint64, IFAHash: 7, Creative: "cr",
		Currency: "USD", Country: "USA", Region: "CA", DeviceType: 4, ClearingMicros: 9_000_000, ANI: "+14155550100"}
}

func TestLeaseRoundTrip(t *testing.T) {
	for _, l := range []Lease{sampleLease(),
		{Owner: "inst-1", Pool: "p1", Gen: 3, State: LeaseFree, ReservedAt: 5, Flags: 2},
		{Owner: "inst-1", Pool: "p1", Gen: 3, State: LeaseHeld, ReservedAt: 5, Campaign: "c"},
	} {
		b := AppendLease(nil, &l)
		if !bytes.HasPrefix(b, OwnPrefix(nil, l.Owner)) {
			t.Fatalf("%s does not start with the owner prefix", b)
		}
		if !json.Valid(b) {
			t.Fatalf("not JSON: %s", b)
		}
		var got Lease
		if err := DecodeLease(b, &got); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		// Empty byte fields read back empty, whether nil or not.
		for _, p := range [][2]*[]byte{{&got.RequestID, &l.RequestID}, {&got.ImpID, &l.ImpID}, {&got.BidID, &l.BidID}, {&got.SiteOrApp, &l.SiteOrApp}} {
			if len(*p[0]) == 0 && len(*p[1]) == 0 {
				*p[0] = *p[1]
			}
		}
		if !reflect.DeepEqual(got, l) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, l)
		}
	}
}

// A Decoder's value is reused: its []byte fields are valid until the next
// Decode, and nothing carries over.
func TestLeaseDecoderReuse(t *testing.T) {
	d := NewDecoder[Lease]()
	l := sampleLease()
	if _, err := d.Decode(AppendLease(nil, &l), Limits{}); err != nil {
		t.Fatal(err)
	}
	free := Lease{Owner: "o", Pool: "p", State: LeaseFree}
	got, err := d.Decode(AppendLease(nil, &free), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Campaign != "" || len(got.BidID) != 0 || got.ANI != "" {
		t.Errorf("fields carried over: %+v", got)
	}
	if d.Topic() != TopicLeases || TopicOf[Lease]() != TopicLeases {
		t.Errorf("topic %q", d.Topic())
	}
}

func TestOwnRecordChecks(t *testing.T) {
	for _, c := range []struct {
		name, value, want string
		decode            func([]byte) error
	}{
		{"lease without owner", `{"pool":"p","gen":1,"st":"free"}`, ReasonMissingOwner, decodeAs[Lease]},
		{"lease without pool", `{"o":"a","gen":1,"st":"free"}`, ReasonMissingPool, decodeAs[Lease]},
		{"lease state", `{"o":"a","pool":"p","gen":1,"st":"gone"}`, ReasonUnknownState, decodeAs[Lease]},
		{"lease gen beyond 32 bits", `{"o":"a","pool":"p","gen":4294967296,"st":"free"}`, ReasonMalformedJSON, decodeAs[Lease]},
		{"lease negative price", `{"o":"a","pool":"p","gen":1,"st":"leased","pr":-1}`, ReasonNegativeValue, decodeAs[Lease]},
		{"lease string gen", `{"o":"a","pool":"p","gen":"1","st":"free"}`, ReasonMalformedJSON, decodeAs[Lease]},
		{"lease framed", "\x00\x00\x00\x00\x07" + `{"o":"a","pool":"p","gen":1,"st":"free"}`, "", decodeAs[Lease]},
		{"tally without instance", `{"seen":1}`, ReasonMissingOwner, decodeAs[Tally]},
		{"tally negative", `{"o":"a","seen":-1}`, ReasonNegativeValue, decodeAs[Tally]},
		{"tally not JSON", `{"o":`, ReasonMalformedJSON, decodeAs[Tally]},
		{"demand without skill", `{"bids":1}`, ReasonMissingSkillName, decodeAs[Demand]},
		{"demand negative projection", `{"skill":"s","projected_calls":-1}`, ReasonNegativeValue, decodeAs[Demand]},
		{"demand interval backwards", `{"skill":"s","interval_start":"2026-01-01T00:01:00Z","interval_end":"2026-01-01T00:00:00Z"}`, ReasonTimeOutOfRange, decodeAs[Demand]},
	} {
		if got := Reason(c.decode([]byte(c.value))); got != c.want {
			t.Errorf("%s: reason %q, want %q", c.name, got, c.want)
		}
	}
}

func decodeAs[T any, P Inbound[T]](b []byte) error {
	_, err := NewDecoder[T, P]().Decode(b, Limits{})
	return err
}

// AppendImpression writes what encoding/json writes for an Impression, so
// records written before and after the switch read the same.
func TestAppendImpressionMatchesEncodingJSON(t *testing.T) {
	at := time.Date(2026, 11, 23, 12, 0, 0, 123456789, time.UTC)
	for _, im := range []Impression{
		{BidID: "b1", Kind: ImpressionBill, CampaignID: "c", PublisherID: "p\u2028", Exchange: "x", Skill: "s", PriceMicros: 1500, Currency: "USD", At: at, IPHash: 1, IFAHash: math.MaxUint64},
		{BidID: "b2", Kind: ImpressionWin, At: at.Truncate(time.Second)},
		{BidID: "b3", Kind: ImpressionWin, CampaignID: "c", At: at, Channel: "chat"},
	} {
		want, err := json.Marshal(&im)
		if err != nil {
			t.Fatal(err)
		}
		got := AppendImpression(nil, &im)
		var a, b any
		_ = json.Unmarshal(want, &a)
		if err := json.Unmarshal(got, &b); err != nil || !reflect.DeepEqual(a, b) {
			t.Errorf("got  %s\nwant %s", got, want)
		}
		var back Impression
		if err := DecodeImpression(got, &back); err != nil || !reflect.DeepEqual(back, im) {
			t.Errorf("decoded %+v (%v), want %+v", back, err, im)
		}
	}
}

func TestTallyAndDemandRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 23, 12, 0, 5, 0, time.UTC)
	tl := Tally{Instance: "inst", At: at, Seen: 10, Bids: 4,
		Rows: []TallyRow{{Hour: 493_000, Campaign: "c", Publisher: "p", Exchange: "x", Bids: 3},
			{Hour: 493_000, Campaign: "c", Publisher: "p", Exchange: "x", Bids: 1, Channel: "chat"}},
		Demand: []TallyDemand{{Skill: "mortgage", Start: 1_700_000_000, Seen: 10, Bids: 4}}}
	var gotT Tally
	if err := DecodeTally(AppendTally(nil, &tl), &gotT); err != nil || !reflect.DeepEqual(gotT, tl) {
		t.Errorf("tally: %+v (%v)", gotT, err)
	}
	empty := Tally{Instance: "inst", At: at}
	if b := AppendTally(nil, &empty); bytes.Contains(b, []byte("rows")) {
		t.Errorf("empty rows written: %s", b)
	}
	d := Demand{Skill: "mortgage", IntervalStart: at, IntervalEnd: at.Add(time.Minute), RequestsSeen: 100, Bids: 40, Wins: 3,
		Spend: Money{AmountMicros: 4_500_000, Currency: "USD"}, ProjectedCalls: 1.25, ProjectedQualifiedCalls: 1e-7,
		CommittedCallsPerMin: 3e21, PacingMultiplier: 0.8, RecordsDropped: 0,
		Projection: []Projected{{IntervalStart: at.Add(time.Minute), IntervalEnd: at.Add(2 * time.Minute), Calls: 0.5},
			{Channel: "chat", IntervalStart: at.Add(2 * time.Minute), IntervalEnd: at.Add(3 * time.Minute), Calls: 2}}}
	b := AppendDemand(nil, &d)
	var gotD Demand
	if err := DecodeDemand(b, &gotD); err != nil || !reflect.DeepEqual(gotD, d) {
		t.Errorf("demand %s: %+v (%v)", b, gotD, err)
	}
	// The encoding/json reader of today's feedback reads it the same.
	var viaJSON Demand
	if err := json.Unmarshal(b, &viaJSON); err != nil || !reflect.DeepEqual(viaJSON, d) {
		t.Errorf("encoding/json: %+v (%v)", viaJSON, err)
	}
	// A record without a projection (an older writer) still reads; a bad entry does not.
	old := d
	old.Projection = nil
	if b := AppendDemand(nil, &old); bytes.Contains(b, []byte("projection")) || DecodeDemand(b, &gotD) != nil {
		t.Errorf("demand without projection: %s", b)
	}
	for _, p := range []Projected{{Calls: -1}, {Channel: "fax"}, {IntervalStart: at.Add(time.Minute), IntervalEnd: at}} {
		bad := d
		bad.Projection = []Projected{p}
		if err := DecodeDemand(AppendDemand(nil, &bad), &gotD); err == nil {
			t.Errorf("projection %+v accepted", p)
		}
	}
}

// A lease the decoder accepts re-encodes to one it accepts again, equal.
func FuzzDecodeLease(f *testing.F) {
	l := sampleLease()
	for _, s := range []string{string(AppendLease(nil, &l)), `{"o":"a","pool":"p","gen":1,"st":"free"}`, `[]`, `{"o":"a","pool":"p","st":"held","r":"\u2028x"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var ev Lease
		if err := DecodeLease(b, &ev); err != nil {
			if Reason(err) == "" {
				t.Fatalf("error without reason: %v", err)
			}
			return
		}
		out := AppendLease(nil, &ev)
		var again Lease
		if err := DecodeLease(out, &again); err != nil {
			t.Fatalf("re-encoded lease rejected: %v\n%s", err, out)
		}
		// Invalid UTF-8 becomes U+FFFD on the first write; from then on
		// writing and reading are stable.
		out2 := AppendLease(nil, &again)
		var third Lease
		if err := DecodeLease(out2, &third); err != nil || string(AppendLease(nil, &third)) != string(out2) {
			t.Fatalf("re-encoding differs (%v):\n%s\n%s", err, AppendLease(nil, &third), out2)
		}
	})
}

func FuzzDecodeImpression(f *testing.F) {
	fuzzDecoder(f, DecodeImpression,
		`{"bid_id":"b-1","kind":"bill","campaign_id":"c","price_micros":1,"currency":"USD","at":"2026-11-23T12:00:00Z","ip_hash":18446744073709551615}`,
		`{"bid_id":"b-1","kind":"win"}`, `{"bid_id":1}`)
}
