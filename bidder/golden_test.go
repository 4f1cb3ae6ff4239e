package bidder

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/callbid/callbid/numbers"
	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/valyala/fasthttp"
	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "rewrite the expected outcomes in testdata/cases from the actual ones")

// goldenCase is one testdata/cases/*.json file.
type goldenCase struct {
	Request  string      `json:"request"`  // under testdata/requests
	Exchange string      `json:"exchange"` // ?exchange=
	Status   int         `json:"status"`
	Cause    string      `json:"cause,omitempty"` // no-bid cause
	NBR      int         `json:"nbr,omitempty"`   // nbr in the body (nbr exchanges)
	Cur      string      `json:"cur,omitempty"`
	Bids     []goldenBid `json:"bids,omitempty"`
}

type goldenBid struct {
	ImpID  string  `json:"impid"`
	CID    string  `json:"cid"`
	CrID   string  `json:"crid"`
	Price  float64 `json:"price"`
	DealID string  `json:"dealid,omitempty"`
	MType  int     `json:"mtype"`
	W      int     `json:"w,omitempty"`
	H      int     `json:"h,omitempty"`
}

func loadYAMLConfig(t testing.TB, path string) Config {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg Config
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return cfg
}

// serve runs the public handler on one request and returns the context.
func serve(h fasthttp.RequestHandler, method, uri string, body []byte, hdr ...string) *fasthttp.RequestCtx {
	ctx := &fasthttp.RequestCtx{}
	ctx.Request.Header.SetMethod(method)
	ctx.Request.SetRequestURI(uri)
	for i := 0; i+1 < len(hdr); i += 2 {
		ctx.Request.Header.Set(hdr[i], hdr[i+1])
	}
	ctx.Request.SetBody(body)
	h(ctx)
	return ctx
}

func TestGolden(t *testing.T) {
	cfg := loadYAMLConfig(t, "testdata/config.yaml")
	// Every fixture request must have a case.
	reqs, _ := filepath.Glob("testdata/requests/*/*.json")
	cases, _ := filepath.Glob("testdata/cases/*.json")
	covered := map[string]bool{}
	for _, c := range cases {
		raw, err := os.ReadFile(c)
		if err != nil {
			t.Fatal(err)
		}
		var gc goldenCase
		if err := json.Unmarshal(raw, &gc); err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		covered[gc.Request] = true
	}
	for _, r := range reqs {
		rel, _ := filepath.Rel("testdata/requests", r)
		if !covered[rel] {
			if !*update {
				t.Errorf("request %s has no case in testdata/cases (run with -update to create one)", rel)
				continue
			}
			c := filepath.Join("testdata/cases", strings.ReplaceAll(strings.TrimSuffix(rel, ".json"), "/", "_")+".json")
			raw, _ := json.Marshal(goldenCase{Request: rel})
			if err := os.WriteFile(c, raw, 0o644); err != nil {
				t.Fatal(err)
			}
			cases = append(cases, c)
		}
	}
	slices.Sort(cases)
	for _, c := range cases {
		t.Run(filepath.Base(c), func(t *testing.T) {
			raw, err := os.ReadFile(c)
			if err != nil {
				t.Fatal(err)
			}
			var gc goldenCase
			if err := json.Unmarshal(raw, &gc); err != nil {
				t.Fatal(err)
			}
			e := newEnv(t, cfg, 0)
			body, err := os.ReadFile(filepath.Join("testdata/requests", gc.Request))
			if err != nil {
				t.Fatal(err)
			}
			uri := "/openrtb2/bid"
			if gc.Exchange != "" {
				uri += "?exchange=" + gc.Exchange
			}
			ctx := serve(e.b.Handler(nil), "POST", uri, body)
			got := goldenCase{Request: gc.Request, Exchange: gc.Exchange, Status: ctx.Response.StatusCode()}
			resp := ctx.Response.Body()
			var br openrtb2.BidResponse
			if len(resp) > 0 {
				if err := json.Unmarshal(resp, &br); err != nil {
					t.Fatalf("response is not a BidResponse: %v\n%s", err, resp)
				}
			}
			if got.Status != 200 || len(br.SeatBid) == 0 {
				got.Cause = lastCause(e)
			}
			if br.NBR != nil {
				got.NBR = int(*br.NBR)
			}
			got.Cur = br.Cur
			var req openrtb2.BidRequest
			if err := json.Unmarshal(body, &req); err != nil {
				t.Fatal(err)
			}
			for _, sb := range br.SeatBid {
				for _, b := range sb.Bid {
					checkContractBid(t, &req, &br, &b)
					got.Bids = append(got.Bids, goldenBid{ImpID: b.ImpID, CID: b.CID, CrID: b.CrID, Price: b.Price,
						DealID: b.DealID, MType: int(b.MType), W: int(b.W), H: int(b.H)})
				}
			}
			if *update {
				out, _ := json.MarshalIndent(got, "", "  ")
				if err := os.WriteFile(c, append(out, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(gc)
			if string(g) != string(w) {
				t.Errorf("outcome differs\n got %s\nwant %s", g, w)
			}
		})
	}
}

// lastCause reads the no-bid counter that moved (each case has a fresh env).
func lastCause(e *testEnv) string {
	for c := Cause(1); c < numCauses; c++ {
		if counterValue(e.b.m.noBids[c]) > 0 {
			return c.String()
		}
	}
	return ""
}

// checkContractBid asserts the fields every bid carries (docs/openapi.yaml, BidResponse).
func checkContractBid(t *testing.T, req *openrtb2.BidRequest, br *openrtb2.BidResponse, b *openrtb2.Bid) {
	t.Helper()
	if b.ID == "" || b.ImpID == "" || b.Price <= 0 || b.AdM == "" || len(b.ADomain) != 1 || b.CID == "" ||
		b.CrID == "" || b.MType == 0 || b.NURL == "" || b.BURL == "" || b.LURL == "" || b.Exp <= 0 {
		t.Errorf("bid lacks a contract field: %+v", b)
	}
	if !strings.Contains(b.AdM, "tel:+1800555") {
		t.Errorf("markup lacks the tel: link of the reserved number: %s", b.AdM)
	}
	var imp *openrtb2.Imp
	for i := range req.Imp {
		if req.Imp[i].ID == b.ImpID {
			imp = &req.Imp[i]
		}
	}
	if imp == nil {
		t.Fatalf("bid for unknown imp %q", b.ImpID)
	}
	if b.MType == openrtb2.MarkupBanner && (b.W == 0 || b.H == 0) {
		t.Errorf("banner bid without w/h")
	}
	if imp.Secure != nil && *imp.Secure == 1 {
		for _, u := range []string{b.NURL, b.BURL, b.LURL} {
			if !strings.HasPrefix(u, "https://") {
				t.Errorf("secure imp with notice url %q", u)
			}
		}
		if strings.Contains(strings.ToLower(b.AdM), "http://") {
			t.Errorf("secure imp with http:// in markup")
		}
	}
	cur := br.Cur
	if cur == "" {
		cur = "USD"
	}
	if len(req.Cur) > 0 && !slices.Contains(req.Cur, cur) {
		t.Errorf("response currency %s not in request.cur %v", cur, req.Cur)
	}
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	_ = c.Write(&m)
	return m.GetCounter().GetValue()
}

// TestWinResultsHaveTheirLabels: every numbers.WinResult is counted under
// its own name; restored wins (most of a shared pool's wins for numbers
// another instance reserved) used to fall into "other".
func TestWinResultsHaveTheirLabels(t *testing.T) {
	e := newEnv(t, baseConfig(), 0)
	for r := numbers.WinLeased; r <= numbers.WinRestored; r++ {
		e.b.countWin(r)
		c, err := e.b.m.winVec.GetMetricWithLabelValues(r.String())
		if err != nil {
			t.Fatal(err)
		}
		if v := counterValue(c); v != 1 {
			t.Errorf("result %s counted %g times under its label, want 1", r, v)
		}
	}
	if c, _ := e.b.m.winVec.GetMetricWithLabelValues("other"); counterValue(c) != 0 {
		t.Errorf("a known result was counted as other")
	}
}
