package prebidserver

import (
	"bytes"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"
)

// bidderInfo is the part of Prebid Server Go's config.BidderInfo the alias
// file uses; decoding strictly catches a misspelt key, which Prebid Server
// itself would ignore silently.
type bidderInfo struct {
	AliasOf             string `yaml:"aliasOf"`
	Endpoint            string `yaml:"endpoint"`
	EndpointCompression string `yaml:"endpointCompression"`
	Maintainer          struct {
		Email string `yaml:"email"`
	} `yaml:"maintainer"`
	OpenRTB struct {
		Version string `yaml:"version"`
	} `yaml:"openrtb"`
	Capabilities struct {
		App  *platform `yaml:"app"`
		Site *platform `yaml:"site"`
	} `yaml:"capabilities"`
}

type platform struct {
	MediaTypes []string `yaml:"mediaTypes"`
}

func strict(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// passThrough are Prebid Server Go adapters that forward the request
// unchanged and type bids by bid.mtype (read from their source: ezoic since
// v4.8.0, vrtcal since 2019).
var passThrough = []string{"ezoic", "vrtcal"}

func TestBidderInfoAlias(t *testing.T) {
	var bi bidderInfo
	strict(t, filepath.Join("static", "bidder-info", "callbid.yaml"), &bi)
	if !slices.Contains(passThrough, bi.AliasOf) {
		t.Errorf("aliasOf %q is not one of the pass-through adapters %v", bi.AliasOf, passThrough)
	}
	u, err := url.Parse(bi.Endpoint)
	if err != nil || u.Scheme != "https" || u.Path != "/openrtb2/bid" || u.Query().Get("exchange") == "" {
		t.Errorf("endpoint %q: want https://…/openrtb2/bid?exchange=NAME (%v)", bi.Endpoint, err)
	}
	if bi.OpenRTB.Version != "2.6" {
		t.Errorf("openrtb.version %q, want 2.6 (callbid reads the 2.6 top-level fields)", bi.OpenRTB.Version)
	}
	if bi.EndpointCompression != "" && bi.EndpointCompression != "gzip" {
		t.Errorf("endpointCompression %q: callbid accepts gzip only", bi.EndpointCompression)
	}
	for name, p := range map[string]*platform{"app": bi.Capabilities.App, "site": bi.Capabilities.Site} {
		if p == nil || !slices.Equal(p.MediaTypes, []string{"banner", "native"}) {
			t.Errorf("capabilities.%s: %+v, want mediaTypes [banner native] (callbid bids on nothing else)", name, p)
		}
	}
	if bi.Maintainer.Email == "" {
		t.Error("maintainer.email is empty")
	}

	var java struct {
		Adapters struct {
			Generic struct {
				Aliases map[string]struct {
					Enabled             bool   `yaml:"enabled"`
					Endpoint            string `yaml:"endpoint"`
					EndpointCompression string `yaml:"endpoint-compression"`
					OrtbVersion         string `yaml:"ortb-version"`
					MetaInfo            struct {
						MaintainerEmail  string   `yaml:"maintainer-email"`
						AppMediaTypes    []string `yaml:"app-media-types"`
						SiteMediaTypes   []string `yaml:"site-media-types"`
						SupportedVendors []string `yaml:"supported-vendors"`
						VendorID         int      `yaml:"vendor-id"`
					} `yaml:"meta-info"`
				} `yaml:"aliases"`
			} `yaml:"generic"`
		} `yaml:"adapters"`
	}
	strict(t, "java-generic-alias.yaml", &java)
	a, ok := java.Adapters.Generic.Aliases["callbid"]
	if !ok || !a.Enabled || a.Endpoint != bi.Endpoint || a.OrtbVersion != "2.6" ||
		!slices.Equal(a.MetaInfo.AppMediaTypes, []string{"banner", "native"}) ||
		!slices.Equal(a.MetaInfo.SiteMediaTypes, []string{"banner", "native"}) {
		t.Errorf("Java generic alias %+v: want enabled, the same endpoint, 2.6, banner and native", a)
	}

	var req map[string]any
	if err := json.Unmarshal(mustRead(t, filepath.Join("testdata", "auction-banner-native.json")), &req); err != nil {
		t.Errorf("testdata/auction-banner-native.json: %v", err)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestParentAdapterInCheckout checks, against a Prebid Server checkout,
// what Prebid Server itself checks at start: the parent exists, is not an
// alias, and the alias's capabilities are a subset of the parent's.
func TestParentAdapterInCheckout(t *testing.T) {
	src := os.Getenv("PREBID_SERVER_SRC")
	if src == "" {
		t.Skip("PREBID_SERVER_SRC is not set: no Prebid Server checkout to check the parent adapter against")
	}
	var bi bidderInfo
	strict(t, filepath.Join("static", "bidder-info", "callbid.yaml"), &bi)
	b, err := os.ReadFile(filepath.Join(src, "static", "bidder-info", bi.AliasOf+".yaml"))
	if err != nil {
		t.Fatalf("the checkout has no %q adapter (older than v4.8.0? use vrtcal): %v", bi.AliasOf, err)
	}
	var parent struct {
		AliasOf      string `yaml:"aliasOf"`
		Capabilities struct {
			App  *platform `yaml:"app"`
			Site *platform `yaml:"site"`
		} `yaml:"capabilities"`
	}
	if err := yaml.Unmarshal(b, &parent); err != nil {
		t.Fatal(err)
	}
	if parent.AliasOf != "" {
		t.Errorf("%s is itself an alias; Prebid Server refuses an alias of an alias", bi.AliasOf)
	}
	for name, pp := range map[string]*platform{"app": parent.Capabilities.App, "site": parent.Capabilities.Site} {
		for _, mt := range []string{"banner", "native"} {
			if pp == nil || !slices.Contains(pp.MediaTypes, mt) {
				t.Errorf("parent %s has no %s %s: the alias would be refused", bi.AliasOf, name, mt)
			}
		}
	}
}
