package creative

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/callbid/callbid/jsonw"
	"github.com/callbid/callbid/openrtb"
	"github.com/prebid/openrtb/v20/native1/response"
)

func TestTemplate(t *testing.T) {
	tm, err := ParseTemplate(`<a href="{{tel_uri}}">{{ number }}</a> {{number_e164}} x{{ext}} c={{campaign}} u={{click_url}}`)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		v    TemplateVars
		want string
	}{
		{TemplateVars{E164: "+18005550123", CampaignID: "mortgage"},
			`<a href="tel:+18005550123">(800) 555-0123</a> +18005550123 x c=mortgage u=`},
		{TemplateVars{E164: "+18005550123", Ext: "42", CampaignID: "a&b", ClickURL: "https://x.example/?a=1&b=<2>"},
			`<a href="tel:+18005550123;ext=42">(800) 555-0123 ext. 42</a> +18005550123 x42 c=a&amp;b u=https://x.example/?a=1&amp;b=&lt;2&gt;`},
		{TemplateVars{E164: "+442079460958"},
			`<a href="tel:+442079460958">+442079460958</a> +442079460958 x c= u=`},
	}
	for _, c := range cases {
		if got := string(tm.Append(nil, &c.v)); got != c.want {
			t.Errorf("Append(%+v)\n got %s\nwant %s", c.v, got, c.want)
		}
	}
	if tm.Insecure() {
		t.Error("template without http:// reported insecure")
	}
}

func TestParseTemplateErrors(t *testing.T) {
	cases := []struct{ src, want string }{
		{`call {{phone}}`, "template: unknown placeholder {{phone}} at byte 5"},
		{`call {{number}} {{`, `template: "{{" at byte 16 is never closed`},
		{`call us today`, "template: no {{number}}"},
		{`{{campaign}} {{ext}}`, "template: no {{number}}"},
	}
	for _, c := range cases {
		_, err := ParseTemplate(c.src)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("ParseTemplate(%q) = %v, want %q…", c.src, err, c.want)
		}
	}
}

func TestDefaultBanner(t *testing.T) {
	tm := DefaultBannerTemplate(300, 250, `Talk to a <licensed> agent {{now}}`)
	out := string(tm.Append(nil, &TemplateVars{E164: "+18005550123", Ext: "42"}))
	for _, want := range []string{`width:300px;height:250px`, `href="tel:+18005550123;ext=42"`, `(800) 555-0123 ext. 42`,
		`Talk to a &lt;licensed&gt; agent &#123;&#123;now&#125;&#125;`} {
		if !strings.Contains(out, want) {
			t.Errorf("default banner lacks %q:\n%s", want, out)
		}
	}
	if InsecureURL([]byte(out)) || tm.Insecure() {
		t.Errorf("default banner holds an http:// URL:\n%s", out)
	}
}

func TestInsecureURL(t *testing.T) {
	for s, want := range map[string]bool{
		`<img src="http://x">`: true, `<img src="HTTP://x">`: true, `<a href="hTtP://x">`: true,
		`<img src="https://x">`: false, `<img src="//x">`: false, `http:/`: false, ``: false, `http://`: true,
	} {
		if got := InsecureURL([]byte(s)); got != want {
			t.Errorf("InsecureURL(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestAppendNativeMarkup(t *testing.T) {
	imp := &openrtb.Imp{Native: true, NativeHasPhone: true, NativePhoneAssetID: 3, NativePhoneLen: 30,
		NativeHasTitle: true, NativeTitleAssetID: 1, NativeTitleLen: 10}
	v := &TemplateVars{E164: "+18005550123", Ext: "42"}
	out := AppendNativeMarkup(nil, imp, `Rates "now" — é`, v)
	var r response.Response
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("native1 response cannot decode %s: %v", out, err)
	}
	checkEq(t, "ver", r.Ver, "1.2")
	checkEq(t, "link.url", r.Link.URL, "tel:+18005550123;ext=42")
	if len(r.Assets) != 2 {
		t.Fatalf("assets: %s", out)
	}
	checkEq(t, "phone asset id", r.Assets[0].ID, ptr(int64(3)))
	checkEq(t, "phone value", r.Assets[0].Data.Value, "(800) 555-0123 ext. 42")
	checkEq(t, "title asset id", r.Assets[1].ID, ptr(int64(1)))
	checkEq(t, "title (10 characters)", r.Assets[1].Title.Text, `Rates "now`)

	// Too long for data.len: falls back to E.164. Wrapped like the request.
	imp = &openrtb.Imp{Native: true, NativeHasPhone: true, NativePhoneAssetID: 0, NativePhoneLen: 14, NativeWrapped: true}
	out = AppendNativeMarkup(nil, imp, "ignored: no title asset", v)
	var w struct{ Native response.Response }
	if err := json.Unmarshal(out, &w); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	checkEq(t, "wrapped phone", w.Native.Assets[0].Data.Value, "+18005550123")
	checkEq(t, "wrapped asset id", w.Native.Assets[0].ID, ptr(int64(0)))
	checkEq(t, "asset count", len(w.Native.Assets), 1)
	if InsecureURL(out) {
		t.Error("native markup holds http://")
	}
}

func ptr[T any](v T) *T { return &v }

// TestTemplateAppendJSON: the pre-escaped rendering is exactly the JSON
// escaping of the plain one, whatever the template text and values hold.
func TestTemplateAppendJSON(t *testing.T) {
	srcs := []string{
		DefaultBannerSource(300, 250, `Call "now" — save 20%`),
		`<a href="{{tel_uri}}">{{number}}</a> {{campaign}} {{ext}} {{number_e164}} {{click_url}}`,
		"line\nbreak\t\"{{number}}\"\\ \u2028 é",
	}
	vals := []TemplateVars{
		{E164: "+18005550123", Ext: "42", CampaignID: "mortgage", ClickURL: "https://x.example/c?a=1&b=2"},
		{E164: "+18005550123", CampaignID: `quote"back\slash`, ClickURL: "https://x.example/\u00e9\n"},
		{E164: "+442071838750", Ext: "", CampaignID: "ctl\x01\u2029"},
		// Numbers that are not only + and digits take the escaping path.
		{E164: "+1800<555>0123", Ext: "4\"2", CampaignID: "m"},
		{E164: "+18005550123", Ext: "x&1", CampaignID: "m"},
		{E164: "+1 800 555 0123\u00e9", Ext: "", CampaignID: "m"},
	}
	for i, src := range srcs {
		tm, err := ParseTemplate(src)
		if err != nil {
			t.Fatal(err)
		}
		for j := range vals {
			plain := tm.Append(nil, &vals[j])
			want := jsonw.AppendString(nil, string(plain))
			got := append(append([]byte{'"'}, tm.AppendJSON(nil, &vals[j])...), '"')
			if string(got) != string(want) {
				t.Errorf("template %d, values %d:\n got %s\nwant %s", i, j, got, want)
			}
		}
	}
}

func checkEq[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if !bytes.Equal(g, w) {
		t.Errorf("%s = %s, want %s", what, g, w)
	}
}
