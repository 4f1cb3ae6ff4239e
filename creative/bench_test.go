package creative

import (
	"testing"

	"github.com/callbid/callbid/channel"
	"github.com/callbid/callbid/openrtb"
)

var sinkBuf []byte

func BenchmarkTemplate(b *testing.B) {
	tm := DefaultBannerTemplate(300, 250, "Refinance today: talk to a licensed loan officer")
	v := &TemplateVars{E164: "+18005550123", Ext: "42", CampaignID: "mortgage"}
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	for b.Loop() {
		buf = tm.Append(buf[:0], v)
	}
	b.SetBytes(int64(len(buf)))
	sinkBuf = buf
}

func BenchmarkNativeMarkup(b *testing.B) {
	imp := &openrtb.Imp{Native: true, NativeHasPhone: true, NativePhoneAssetID: 3, NativePhoneLen: 30,
		NativeHasTitle: true, NativeTitleAssetID: 1, NativeTitleLen: 40}
	v := &TemplateVars{E164: "+18005550123", Ext: "42"}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendNativeMarkup(buf[:0], imp, "Compare auto insurance quotes in minutes", v)
	}
	sinkBuf = buf
}

func BenchmarkChatTemplate(b *testing.B) {
	act, err := ParseAction("https://chat.example.com/start?k={{key}}")
	if err != nil {
		b.Fatal(err)
	}
	tm := DefaultChannelBannerTemplate(channel.Chat, 300, 250, "Refinance today: chat with a licensed loan officer")
	v := &TemplateVars{CampaignID: "mortgage", Key: "CH042", Action: &act}
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	for b.Loop() {
		buf = tm.AppendJSON(buf[:0], v)
	}
	b.SetBytes(int64(len(buf)))
	sinkBuf = buf
}

// BenchmarkTemplateJSON: the bid path's rendering (AppendJSON) of a banner
// with the number's placeholders.
func BenchmarkTemplateJSON(b *testing.B) {
	tm, err := ParseTemplate(`<a href="{{tel_uri}}">Mortgage help: {{number}}</a>`)
	if err != nil {
		b.Fatal(err)
	}
	v := &TemplateVars{E164: "+18005551000", Ext: "1234", CampaignID: "mortgage"}
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	for b.Loop() {
		buf = tm.AppendJSON(buf[:0], v)
	}
	sinkBuf = buf
}
