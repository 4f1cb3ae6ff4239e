package creative

import "testing"

// FuzzTemplate: ParseTemplate never panics, and a parsed template renders.
func FuzzTemplate(f *testing.F) {
	f.Add(DefaultBannerSource(300, 250, "Call now"))
	f.Add("{{number}} {{ext}} {{")
	f.Add("{{tel_uri}}{{}}")
	f.Fuzz(func(t *testing.T, src string) {
		tm, err := ParseTemplate(src)
		if err != nil {
			return
		}
		out := tm.Append(nil, &TemplateVars{E164: "+18005550123", Ext: "9"})
		if len(out) == 0 {
			t.Fatal("a template with a number placeholder rendered nothing")
		}
	})
}
