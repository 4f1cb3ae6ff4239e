//go:build !race

package creative

import (
	"testing"

	"github.com/callbid/callbid/channel"

	"github.com/callbid/callbid/openrtb"
)

// Rendering a creative is on the bid path: it must not allocate.
func TestRenderAllocs(t *testing.T) {
	buf := make([]byte, 0, 4096)
	tm := DefaultBannerTemplate(300, 250, "Talk to an agent")
	v := &TemplateVars{E164: "+18005550123", Ext: "42", CampaignID: "mortgage"}
	act, err := ParseAction("https://chat.example.com/start?k={{key}}")
	if err != nil {
		t.Fatal(err)
	}
	chat := DefaultChannelBannerTemplate(channel.Chat, 300, 250, "Chat with an agent")
	cv := &TemplateVars{CampaignID: "mortgage", Key: "K7QX2A", Action: &act}
	imp := &openrtb.Imp{Native: true, NativeHasPhone: true, NativePhoneAssetID: 3, NativeHasTitle: true, NativeTitleAssetID: 1, NativeTitleLen: 20}
	for name, f := range map[string]func(){
		"Template.Append":          func() { buf = tm.Append(buf[:0], v) },
		"Template.AppendJSON":      func() { buf = tm.AppendJSON(buf[:0], v) },
		"AppendNativeMarkup":       func() { buf = AppendNativeMarkup(buf[:0], imp, "Compare quotes now", v) },
		"chat Template.AppendJSON": func() { buf = chat.AppendJSON(buf[:0], cv) },
		"chat native":              func() { buf = AppendChannelNativeMarkup(buf[:0], imp, channel.Chat, "Chat now", cv) },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocs per run, want 0", name, n)
		}
	}
}
