package bench

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/prebid/openrtb/v20/openrtb2"
)

func TestGenerateIsReproducible(t *testing.T) {
	cfg := GeneratorConfig{Seed: 7, Count: 300, Publishers: 50, Gzip: true, GzipShare: 0.3, UniqueIDs: true}
	a, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Generate(cfg)
	for i := range a {
		if !bytes.Equal(a[i].Data, b[i].Data) || a[i].Gzip != b[i].Gzip || a[i].IDOff != b[i].IDOff {
			t.Fatalf("body %d differs between two runs with the same seed", i)
		}
	}
	cfg.Seed = 8
	c, _ := Generate(cfg)
	same := 0
	for i := range a {
		if bytes.Equal(a[i].Data, c[i].Data) {
			same++
		}
	}
	if same > 0 {
		t.Errorf("%d bodies equal across different seeds", same)
	}
}

func TestGenerateIsVaried(t *testing.T) {
	bodies, err := Generate(GeneratorConfig{Seed: 1, Count: 2000, Publishers: 200, Gzip: true, GzipShare: 0.25, UniqueIDs: true})
	if err != nil {
		t.Fatal(err)
	}
	pubs := map[string]int{}
	countries := map[string]bool{}
	devs := map[int]bool{}
	sizes := map[[2]int64]bool{}
	var site, app, native, phone, floors, bcat, badv, gz int
	for i, b := range bodies {
		data := b.Data
		if b.Gzip {
			gz++
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("body %d: %v", i, err)
			}
			data, _ = io.ReadAll(zr)
		} else if string(data[b.IDOff-6:b.IDOff+16]) != idPlaceholder {
			t.Fatalf("body %d: IDOff does not point at the id placeholder", i)
		}
		var r openrtb2.BidRequest
		if err := json.Unmarshal(data, &r); err != nil {
			t.Fatalf("body %d is not a BidRequest: %v", i, err)
		}
		if r.ID == "" || len(r.Imp) == 0 || r.Device == nil || r.Device.Geo == nil || r.TMax == 0 {
			t.Fatalf("body %d misses required parts: %s", i, data)
		}
		var pub string
		if r.Site != nil {
			site++
			pub = r.Site.Publisher.ID
		}
		if r.App != nil {
			app++
			pub = r.App.Publisher.ID
		}
		pubs[pub]++
		countries[r.Device.Geo.Country] = true
		devs[int(r.Device.DeviceType)] = true
		for _, imp := range r.Imp {
			if imp.Banner != nil {
				sizes[[2]int64{*imp.Banner.W, *imp.Banner.H}] = true
			}
			if imp.Native != nil {
				native++
				if strings.Contains(imp.Native.Request, `"data":{"type":8}`) {
					phone++
				}
				var nr map[string]any
				if err := json.Unmarshal([]byte(imp.Native.Request), &nr); err != nil {
					t.Fatalf("native request is not JSON: %v", err)
				}
			}
			if imp.BidFloor > 0 {
				floors++
			}
		}
		if len(r.BCat) > 0 {
			bcat++
		}
		if len(r.BAdv) > 0 {
			badv++
		}
	}
	top := 0
	for _, n := range pubs {
		top = max(top, n)
	}
	if len(pubs) < 50 || top < 10*len(bodies)/len(pubs) {
		t.Errorf("publishers: %d distinct, top has %d of %d: want many, Zipf-skewed", len(pubs), top, len(bodies))
	}
	if site == 0 || app == 0 || native == 0 || phone == 0 || floors == 0 || bcat == 0 || badv == 0 {
		t.Errorf("site %d app %d native %d phone %d floors %d bcat %d badv %d: all should occur", site, app, native, phone, floors, bcat, badv)
	}
	if len(countries) < 4 || !countries["USA"] || len(devs) < 3 || len(sizes) < 5 {
		t.Errorf("countries %v devices %v sizes %d: want variety", countries, devs, len(sizes))
	}
	if gz < 400 || gz > 600 {
		t.Errorf("%d of 2000 gzipped, want about 25%%", gz)
	}
}

func BenchmarkGenerate(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_, _ = Generate(GeneratorConfig{Seed: 1, Count: 100, Publishers: 100})
	}
}
