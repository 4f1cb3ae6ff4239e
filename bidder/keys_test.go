package bidder

import (
	"strings"
	"testing"
	"unsafe"

	"github.com/callbid/callbid/openrtb"
)

func TestFoldKey(t *testing.T) {
	f := func(s string, upper bool, want string) {
		t.Helper()
		var buf [maxFoldKey]byte
		got, _ := foldKey(buf[:0], s, upper)
		if got != want {
			t.Fatalf("foldKey(%q, upper=%v) = %q, want %q", s, upper, got, want)
		}
	}
	f("pub-Finance-DAILY", false, "pub-finance-daily")
	f("usa", true, "USA")
	f("Ca", true, "CA")
	f("", false, "")
	f(strings.Repeat("a", maxFoldKey), false, strings.Repeat("a", maxFoldKey))
	f(strings.Repeat("a", maxFoldKey+1), false, "") // longer than any configured id: matches nothing
	f("héllo-É", false, "héllo-É")                  // ASCII only, as config load folds
}

// A string already in the wanted case is used as it is, not copied.
func TestFoldKeyNoCopy(t *testing.T) {
	var buf [maxFoldKey]byte
	s := "pub-00017"
	got, rest := foldKey(buf[:0], s, false)
	if unsafe.StringData(got) != unsafe.StringData(s) || len(rest) != 0 {
		t.Fatal("an already folded key was copied")
	}
}

func TestReqKeysFoldEach(t *testing.T) {
	var k reqKeys
	req := &openrtb.Request{PublisherID: "Pub-X", SiteOrAppID: "site-y", Domain: "News.Example"}
	req.Device.Country, req.Device.Region = "usa", "CA"
	k.set(req, ^keyNeeds(0))
	if k.pub != "pub-x" || k.site != "site-y" || k.domain != "news.example" || k.bundle != "" ||
		k.country != "USA" || k.region != "CA" {
		t.Fatalf("keys %+v", [6]string{k.pub, k.site, k.domain, k.bundle, k.country, k.region})
	}
	k.clear()
	if k.pub != "" || k.country != "" {
		t.Fatal("clear kept a key")
	}
	k.set(req, needCountry)
	if k.pub != "" || k.site != "" || k.domain != "" || k.country != "USA" || k.region != "" {
		t.Fatalf("keys %+v, want only the country", [6]string{k.pub, k.site, k.domain, k.bundle, k.country, k.region})
	}
}

// TestKeyNeeds: a campaign that reads a key makes the snapshot fold it.
func TestKeyNeeds(t *testing.T) {
	for _, tc := range []struct {
		c    campaign
		want keyNeeds
	}{
		{campaign{}, 0},
		{campaign{pubBlock: map[string]struct{}{"p": {}}}, needPub | needSite | needDomain | needBundle},
		{campaign{pubAllow: map[string]struct{}{"p": {}}}, needPub | needSite | needDomain | needBundle},
		{campaign{pubMult: map[string]float64{"p": 2}}, needPub},
		{campaign{domainMult: map[string]float64{"d": 2}}, needDomain},
		{campaign{bundleMult: map[string]float64{"b": 2}}, needBundle},
		{campaign{countries: map[string]struct{}{"USA": {}}}, needCountry},
		{campaign{countryMult: map[string]float64{"USA": 2}}, needCountry},
		{campaign{regions: map[string]struct{}{"CA": {}}}, needRegion},
		{campaign{regionMult: map[string]float64{"CA": 2}}, needRegion},
	} {
		if got := compileKeyNeeds([]*campaign{&tc.c}); got != tc.want {
			t.Errorf("%+v: needs %b, want %b", tc.c, got, tc.want)
		}
	}
}
