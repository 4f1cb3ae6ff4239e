package bench

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/prebid/openrtb/v20/adcom1"
	"github.com/prebid/openrtb/v20/openrtb2"
)

// Body is one pre-built request body. IDOff is the offset of the 16 hex
// digits of BidRequest.id that the sender rewrites per request (-1: keep).
type Body struct {
	Data  []byte
	Gzip  bool
	IDOff int
}

// idPlaceholder marks the request id in pre-built bodies; senders overwrite
// the 16 zeros with a per-request counter so ids never repeat.
const idPlaceholder = "bench-0000000000000000"

// GeneratorConfig is what Generate needs from Config.
type GeneratorConfig struct {
	Seed       int64
	Count      int
	Publishers int
	Gzip       bool
	GzipShare  float64
	UniqueIDs  bool
	// SecureShare of impressions carry secure=1 (the rest secure=0). A
	// bidder whose notice URLs are http cannot bid on secure ones.
	SecureShare float64
}

type geo struct {
	country, region, city, metro, zip string
	lat, lon                          float64
	weight                            float64
}

// US states by rough population share, plus some traffic from abroad
// (callbid campaigns mostly target the US: foreign traffic should no-bid).
var geos = []geo{
	{"USA", "CA", "Los Angeles", "803", "90012", 34.05, -118.24, 12},
	{"USA", "TX", "Houston", "618", "77002", 29.76, -95.37, 9},
	{"USA", "FL", "Miami", "528", "33130", 25.76, -80.19, 7},
	{"USA", "NY", "New York", "501", "10001", 40.71, -74.01, 6},
	{"USA", "PA", "Philadelphia", "504", "19103", 39.95, -75.17, 4},
	{"USA", "IL", "Chicago", "602", "60601", 41.88, -87.63, 4},
	{"USA", "OH", "Columbus", "535", "43215", 39.96, -83.00, 3.5},
	{"USA", "GA", "Atlanta", "524", "30303", 33.75, -84.39, 3.3},
	{"USA", "NC", "Charlotte", "517", "28202", 35.23, -80.84, 3.2},
	{"USA", "MI", "Detroit", "505", "48226", 42.33, -83.05, 3},
	{"USA", "AZ", "Phoenix", "753", "85004", 33.45, -112.07, 2.2},
	{"USA", "WA", "Seattle", "819", "98101", 47.61, -122.33, 2.3},
	{"USA", "MA", "Boston", "506", "02108", 42.36, -71.06, 2.1},
	{"USA", "CO", "Denver", "751", "80202", 39.74, -104.99, 1.8},
	{"USA", "MN", "Minneapolis", "613", "55401", 44.98, -93.27, 1.7},
	{"USA", "MO", "St. Louis", "609", "63101", 38.63, -90.20, 1.8},
	{"USA", "TN", "Nashville", "659", "37203", 36.16, -86.78, 2.1},
	{"USA", "NV", "Las Vegas", "839", "89101", 36.17, -115.14, 1},
	{"USA", "OR", "Portland", "820", "97204", 45.52, -122.68, 1.3},
	{"USA", "UT", "Salt Lake City", "770", "84101", 40.76, -111.89, 1},
	{"USA", "NJ", "Newark", "501", "07102", 40.74, -74.17, 2.8},
	{"USA", "VA", "Richmond", "556", "23219", 37.54, -77.44, 2.6},
	{"CAN", "ON", "Toronto", "", "M5H", 43.65, -79.38, 2},
	{"CAN", "BC", "Vancouver", "", "V6B", 49.28, -123.12, 0.8},
	{"GBR", "ENG", "London", "", "EC1A", 51.51, -0.13, 2},
	{"MEX", "CMX", "Mexico City", "", "06000", 19.43, -99.13, 1},
	{"DEU", "BE", "Berlin", "", "10115", 52.52, 13.40, 0.7},
	{"IND", "MH", "Mumbai", "", "400001", 19.08, 72.88, 0.5},
}

type device struct {
	typ            adcom1.DeviceType
	os, make, ua   string
	model          string
	w, h           int64
	weight         float64
	sizes          [][2]int64
	nativeLikely   bool
	connectionType adcom1.ConnectionType
}

var devices = []device{
	{adcom1.DevicePhone, "iOS", "Apple", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", "iPhone", 390, 844, 30,
		[][2]int64{{320, 50}, {300, 250}, {320, 100}, {320, 480}}, true, adcom1.Connection4G},
	{adcom1.DevicePhone, "Android", "Samsung", "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36", "SM-S918B", 412, 915, 28,
		[][2]int64{{320, 50}, {300, 250}, {320, 100}}, true, adcom1.ConnectionWIFI},
	{adcom1.DevicePC, "Windows", "", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36", "", 1920, 1080, 25,
		[][2]int64{{300, 250}, {728, 90}, {160, 600}, {300, 600}, {970, 250}}, false, adcom1.ConnectionEthernet},
	{adcom1.DevicePC, "macOS", "Apple", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15", "", 1440, 900, 8,
		[][2]int64{{300, 250}, {728, 90}, {300, 600}}, false, adcom1.ConnectionWIFI},
	{adcom1.DeviceTablet, "iOS", "Apple", "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", "iPad", 820, 1180, 6,
		[][2]int64{{300, 250}, {728, 90}, {768, 1024}}, true, adcom1.ConnectionWIFI},
	{adcom1.DeviceTV, "Roku", "Roku", "Roku/DVP-12.5 (12.5.0.4178)", "Roku Ultra", 1920, 1080, 3,
		[][2]int64{{1920, 1080}}, false, adcom1.ConnectionEthernet},
}

// Verticals where a phone call is the conversion; categories are IAB 1.0.
var verticals = []struct {
	cat      string
	keywords []string
}{
	{"IAB13", []string{"mortgage rates", "refinance", "home loan"}},
	{"IAB13-7", []string{"auto insurance", "car insurance quote"}},
	{"IAB7", []string{"medicare", "health insurance", "dental plan"}},
	{"IAB21", []string{"home security", "real estate", "moving company"}},
	{"IAB10", []string{"plumber", "hvac repair", "roofing"}},
	{"IAB11", []string{"personal injury lawyer", "legal advice"}},
	{"IAB2", []string{"car dealer", "auto repair"}},
	{"IAB12", []string{"news", "weather"}},
	{"IAB17", []string{"sports scores", "fantasy football"}},
	{"IAB1", []string{"celebrity", "movies"}},
}

var bcats = [][]string{nil, {"IAB25", "IAB26"}, {"IAB7-39", "IAB8-18", "IAB25-3"}, {"IAB26", "IAB9-9"}}
var badvs = [][]string{nil, nil, {"competitor-insure.com"}, {"cheap-loans.example", "spam-dialer.example"}}
var tmaxes = []int64{80, 100, 120, 150, 200, 250, 300, 500}

type publisher struct {
	id, name, domain, bundle string
	app                      bool
	vertical                 int
	floorBase                float64
	tagCount                 int
}

// Generate builds cfg.Count request bodies. The same config gives the same
// bytes: every random draw comes from one PCG seeded by cfg.Seed.
func Generate(cfg GeneratorConfig) ([]Body, error) {
	if cfg.Count < 1 || cfg.Publishers < 1 {
		return nil, fmt.Errorf("generator: count %d and publishers %d must be positive", cfg.Count, cfg.Publishers)
	}
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x9e3779b97f4a7c15))
	pubs := make([]publisher, cfg.Publishers)
	for i := range pubs {
		p := &pubs[i]
		p.id = fmt.Sprintf("pub-%05d", i+1)
		p.name = fmt.Sprintf("Publisher %d", i+1)
		p.app = rng.Float64() < 0.4
		p.domain = fmt.Sprintf("site%d.example.com", i+1)
		p.bundle = fmt.Sprintf("com.example.app%d", i+1)
		p.vertical = rng.IntN(len(verticals))
		p.floorBase = math.Round(math.Exp(rng.NormFloat64()*0.6)*100) / 100 // median 1.00 CPM
		p.tagCount = 1 + rng.IntN(6)
	}
	// Zipf: a few publishers send most of the traffic, as on real exchanges.
	zipf := rand.NewZipf(rng, 1.1, 1, uint64(cfg.Publishers-1))
	geoCum := cumulative(len(geos), func(i int) float64 { return geos[i].weight })
	devCum := cumulative(len(devices), func(i int) float64 { return devices[i].weight })

	out := make([]Body, cfg.Count)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	for n := range out {
		p := &pubs[zipf.Uint64()]
		g := &geos[pick(rng, geoCum)]
		d := &devices[pick(rng, devCum)]
		req := buildRequest(rng, n, p, g, d, cfg.UniqueIDs, cfg.SecureShare)
		data, err := json.Marshal(req)
		if err != nil {
			return nil, fmt.Errorf("generator: cannot marshal request %d: %w", n, err)
		}
		b := Body{Data: data, IDOff: -1}
		if cfg.UniqueIDs {
			b.IDOff = bytes.Index(data, []byte(idPlaceholder)) + len("bench-")
		}
		if cfg.Gzip && rng.Float64() < cfg.GzipShare {
			gz.Reset()
			zw.Reset(&gz)
			if cfg.UniqueIDs {
				// A compressed body cannot be patched: give it its own id.
				copy(data[b.IDOff:], fmt.Sprintf("%016x", uint64(n)|1<<63))
			}
			if _, err := zw.Write(data); err != nil {
				return nil, fmt.Errorf("generator: cannot gzip request %d: %w", n, err)
			}
			if err := zw.Close(); err != nil {
				return nil, fmt.Errorf("generator: cannot gzip request %d: %w", n, err)
			}
			b = Body{Data: bytes.Clone(gz.Bytes()), Gzip: true, IDOff: -1}
		}
		out[n] = b
	}
	return out, nil
}

func buildRequest(rng *rand.Rand, n int, p *publisher, g *geo, d *device, uniqueIDs bool, secureShare float64) *openrtb2.BidRequest {
	v := verticals[p.vertical]
	id := fmt.Sprintf("bench-%016x", uint64(n))
	if uniqueIDs {
		id = idPlaceholder
	}
	req := &openrtb2.BidRequest{
		ID:   id,
		AT:   1,
		TMax: tmaxes[rng.IntN(len(tmaxes))],
		Cur:  []string{"USD"},
		BCat: bcats[rng.IntN(len(bcats))],
		BAdv: badvs[rng.IntN(len(badvs))],
	}
	if rng.Float64() < 0.1 {
		req.AT = 2
	}
	imps := 1
	if rng.Float64() < 0.15 {
		imps = 2
	}
	secure := int8(0)
	if rng.Float64() < secureShare {
		secure = 1
	}
	for i := range imps {
		imp := openrtb2.Imp{
			ID:          strconv.Itoa(i + 1),
			TagID:       fmt.Sprintf("%s-tag-%d", p.id, 1+rng.IntN(p.tagCount)),
			BidFloorCur: "USD",
			Secure:      &secure,
			Exp:         []int64{0, 60, 300, 600}[rng.IntN(4)],
		}
		if rng.Float64() > 0.15 { // some inventory has no floor
			imp.BidFloor = math.Round(p.floorBase*math.Exp(rng.NormFloat64()*0.3)*100) / 100
		}
		if d.nativeLikely && rng.Float64() < 0.25 {
			imp.Native = &openrtb2.Native{Request: nativeRequest(rng), Ver: "1.2"}
		} else {
			sz := d.sizes[rng.IntN(len(d.sizes))]
			w, h := sz[0], sz[1]
			imp.Banner = &openrtb2.Banner{W: &w, H: &h, Format: []openrtb2.Format{{W: w, H: h}}}
			if rng.Float64() < 0.3 && len(d.sizes) > 1 {
				alt := d.sizes[rng.IntN(len(d.sizes))]
				if alt != sz {
					imp.Banner.Format = append(imp.Banner.Format, openrtb2.Format{W: alt[0], H: alt[1]})
				}
			}
			if d.typ == adcom1.DeviceTV {
				imp.Instl = 1
			}
		}
		req.Imp = append(req.Imp, imp)
	}
	pub := &openrtb2.Publisher{ID: p.id, Name: p.name}
	kw := v.keywords[rng.IntN(len(v.keywords))]
	if p.app {
		req.App = &openrtb2.App{ID: "app-" + p.id, Name: p.name + " App", Bundle: p.bundle,
			StoreURL: "https://apps.example.com/" + p.bundle, Cat: []string{v.cat}, Publisher: pub, Keywords: kw}
	} else {
		req.Site = &openrtb2.Site{ID: "site-" + p.id, Name: p.name, Domain: p.domain,
			Page: fmt.Sprintf("https://%s/%s/%d", p.domain, kw[:3], rng.IntN(1000)), Cat: []string{v.cat}, Publisher: pub, Keywords: kw}
	}
	lat := math.Round((g.lat+rng.NormFloat64()*0.05)*1e4) / 1e4
	lon := math.Round((g.lon+rng.NormFloat64()*0.05)*1e4) / 1e4
	ct := d.connectionType
	req.Device = &openrtb2.Device{
		UA: d.ua, IP: fmt.Sprintf("%d.%d.%d.%d", 24+rng.IntN(150), rng.IntN(256), rng.IntN(256), 1+rng.IntN(254)),
		DeviceType: d.typ, OS: d.os, Make: d.make, Model: d.model, W: d.w, H: d.h,
		Language: "en", ConnectionType: &ct,
		Geo: &openrtb2.Geo{Country: g.country, Region: g.region, City: g.city, Metro: g.metro, ZIP: g.zip,
			Lat: &lat, Lon: &lon, Type: adcom1.LocationIP},
	}
	if p.app || d.typ == adcom1.DeviceTV {
		req.Device.IFA = uuid(rng)
	}
	req.User = &openrtb2.User{ID: fmt.Sprintf("u-%012x", rng.Uint64()>>16)}
	if g.country == "USA" && rng.Float64() < 0.3 {
		req.Regs = &openrtb2.Regs{USPrivacy: []string{"1YNN", "1YYN", "1---"}[rng.IntN(3)]}
	}
	if rng.Float64() < 0.005 {
		if req.Regs == nil {
			req.Regs = &openrtb2.Regs{}
		}
		req.Regs.COPPA = 1
	}
	if rng.Float64() < 0.6 {
		hp := int8(1)
		req.Source = &openrtb2.Source{TID: uuid(rng), SChain: &openrtb2.SupplyChain{Complete: 1, Ver: "1.0",
			Nodes: []openrtb2.SupplyChainNode{{ASI: "exchange.example", SID: p.id, HP: &hp}}}}
	}
	return req
}

// nativeRequest is a Native 1.2 request: title, image and, usually, the phone
// data asset (type 8) callbid fills with the tracking number.
func nativeRequest(rng *rand.Rand) string {
	phone := ""
	if rng.Float64() < 0.85 {
		phone = `,{"id":4,"required":1,"data":{"type":8}}`
	}
	return `{"ver":"1.2","context":1,"plcmttype":1,"plcmtcnt":1,"assets":[` +
		`{"id":1,"required":1,"title":{"len":90}},` +
		`{"id":2,"required":0,"img":{"type":3,"wmin":300,"hmin":250}},` +
		`{"id":3,"required":0,"data":{"type":2,"len":140}}` + phone + `]}`
}

func uuid(rng *rand.Rand) string {
	a, b := rng.Uint64(), rng.Uint64()
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", a>>32, (a>>16)&0xffff, a&0xfff, 0x8000|(b>>48)&0x3fff, b&0xffffffffffff)
}

func cumulative(n int, w func(int) float64) []float64 {
	c := make([]float64, n)
	sum := 0.0
	for i := range c {
		sum += w(i)
		c[i] = sum
	}
	for i := range c {
		c[i] /= sum
	}
	return c
}

func pick(rng *rand.Rand, cum []float64) int {
	x := rng.Float64()
	for i, c := range cum {
		if x < c {
			return i
		}
	}
	return len(cum) - 1
}
