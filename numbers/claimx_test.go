package numbers

import (
	"strings"
	"testing"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/kafkaio"
)

func detailedClaim(k int) *Claim {
	c := testClaim(k)
	c.CreativeID, c.Currency, c.Country, c.Region, c.DeviceType = "cr-banner-1", "EUR", "USA", "CA", 4
	return c
}

// The attribution carries the claim's creative, currency, geo and device
// type and the notices' clearing price (a bill's wins over a win's), in the
// answer, the event and across a restart (lease log replay).
func TestAttributionDetails(t *testing.T) {
	pub := &fakePub{}
	cfg := onePool(3)
	p := mustNew(t, cfg, pub)
	clock := t0.Add(time.Minute)
	p.clockNow = func() time.Time { return clock }
	r, ok := p.Reserve(0, detailedClaim(1), t0)
	if !ok {
		t.Fatal("exhausted")
	}
	if !p.SetClearing(r.Ref, 1_750_000, false) {
		t.Fatal("SetClearing refused the current reservation")
	}
	p.Win(r.Ref, false, t0.Add(time.Second))
	p.SetClearing(r.Ref, 1_800_000, true)
	p.SetClearing(r.Ref, 1_900_000, false) // a late win's price does not replace the bill's
	if p.SetClearing(r.Ref+1, 5, true) {
		t.Fatal("SetClearing accepted another generation")
	}
	p.Bill(r.Ref, t0.Add(2*time.Second)) // republishes the lease record, now with the bill's price

	// a plain claim: no details, clearing unknown (null)
	r2 := leaseOne(t, p, 2, t0)

	_, a, raw := doCall(t, p, "tok", callBody("c1", r.E164, "", "+14155550188", clock))
	at := a.Attribution
	if at == nil || at.CreativeID != "cr-banner-1" || at.Currency != "EUR" || at.Country != "USA" || at.Region != "CA" ||
		at.DeviceType != 4 || at.ClearingPriceCPM != 1.8 || at.PriceCPM != 2.5 {
		t.Fatalf("answer %s", raw)
	}
	ev := p.calls.record("c1").event()
	if ev.CreativeID != "cr-banner-1" || ev.Currency != "EUR" || ev.Country != "USA" || ev.Region != "CA" ||
		ev.DeviceType != 4 || ev.ClearingPriceCPM != 1.8 {
		t.Fatalf("event %+v", ev)
	}
	_, _, raw2 := doCall(t, p, "tok", callBody("c2", r2.E164, "", "+14155550189", clock))
	for _, want := range []string{`"clearing_price_cpm":null`, `"device_type":null`, `"country":""`, `"creative_id":""`} {
		if !strings.Contains(raw2, want) {
			t.Fatalf("answer without details %s lacks %s", raw2, want)
		}
	}

	// a new process rebuilt from the lease log answers the same
	p2 := mustNew(t, cfg, nil)
	p2.clockNow = func() time.Time { return clock }
	for _, m := range pub.topic(events.TopicLeases) {
		p2.ApplyLeaseEvent(kafkaio.Message{Topic: events.TopicLeases, Key: m.key, Value: m.value})
	}
	// c1 ended r's lease in p; p2 saw only the records before the call, so
	// its lease is live there: the same attribution, match exact.
	_, b, raw3 := doCall(t, p2, "tok", callBody("c1", r.E164, "", "+14155550188", clock))
	if b.Attribution == nil || *b.Attribution != *a.Attribution {
		t.Fatalf("after replay %s\nbefore %s", raw3, raw)
	}
}

// Geo values that do not fit (or are not printable) are dropped, never cut.
func TestGeoBytes(t *testing.T) {
	var g geoBytes
	putGeo(&g, "USA", "CA-SF1X")
	if string(g.country()) != "USA" || len(g.region()) != 0 {
		t.Fatalf("got %q %q", g.country(), g.region())
	}
	putGeo(&g, "US\"", "NSW")
	if len(g.country()) != 0 || string(g.region()) != "NSW" {
		t.Fatalf("got %q %q", g.country(), g.region())
	}
}
