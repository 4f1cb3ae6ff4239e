package creative

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/callbid/callbid/channel"
	"github.com/callbid/callbid/jsonw"
	"github.com/callbid/callbid/openrtb"
	"github.com/prebid/openrtb/v20/native1/response"
)

func mustAction(t *testing.T, src string) *Action {
	t.Helper()
	a, err := ParseAction(src)
	if err != nil {
		t.Fatal(err)
	}
	return &a
}

func TestChannelTemplate(t *testing.T) {
	chat := mustAction(t, "https://chat.example.com/start?k={{key}}&c=1")
	tm, err := ParseChannelTemplate(channel.Chat, `<a href="{{action_url}}">Chat</a> key={{key}} c={{campaign}}`)
	if err != nil {
		t.Fatal(err)
	}
	v := &TemplateVars{CampaignID: "mortgage", Key: "K7QX2", Action: chat}
	want := `<a href="https://chat.example.com/start?k=K7QX2&amp;c=1">Chat</a> key=K7QX2 c=mortgage`
	if got := string(tm.Append(nil, v)); got != want {
		t.Errorf("Append\n got %s\nwant %s", got, want)
	}
	got := append(append([]byte{'"'}, tm.AppendJSON(nil, v)...), '"')
	if string(got) != string(jsonw.AppendString(nil, want)) {
		t.Errorf("AppendJSON %s", got)
	}
	// A key that needs escaping is escaped, in HTML and in JSON.
	v.Key = `a"<b>`
	plain := tm.Append(nil, v)
	if strings.Contains(string(plain), `a"<b>`) {
		t.Errorf("key not HTML-escaped: %s", plain)
	}
	got = append(append([]byte{'"'}, tm.AppendJSON(nil, v)...), '"')
	if string(got) != string(jsonw.AppendString(nil, string(plain))) {
		t.Errorf("AppendJSON with escaped key %s", got)
	}
}

func TestParseChannelTemplateErrors(t *testing.T) {
	cases := []struct {
		ch        channel.Channel
		src, want string
	}{
		{channel.Chat, `<a href="{{tel_uri}}">call</a>`, "template: no {{key}} or {{action_url}}; the chat session"},
		{channel.Callback, `plain`, "template: no {{key}} or {{action_url}}; the callback session"},
		{channel.Voice, `{{action_url}}`, "template: no {{number}}"},
		{channel.SMS, `{{keys}}`, "template: unknown placeholder {{keys}}"},
	}
	for _, c := range cases {
		_, err := ParseChannelTemplate(c.ch, c.src)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("ParseChannelTemplate(%v, %q) = %v, want %q…", c.ch, c.src, err, c.want)
		}
	}
	if _, err := ParseChannelTemplate(channel.SMS, `<a href="sms:+18005550123?&amp;body={{key}}">Text</a>`); err != nil {
		t.Errorf("sms template with {{key}}: %v", err)
	}
}

func TestParseActionErrors(t *testing.T) {
	for src, want := range map[string]string{
		"http://chat.example.com/{{key}}":     "must be an https:// or sms: URL",
		"https://chat.example.com/":           "no {{key}}",
		"https://x/{{key}}/{{key}}":           "more than once",
		"https://x/{{key}}?c={{campaign}}":    "only {{key}}",
		"sms:+18005550123?&body=GO%20{{key}}": "",
	} {
		_, err := ParseAction(src)
		switch {
		case want == "" && err != nil:
			t.Errorf("ParseAction(%q): %v", src, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("ParseAction(%q) = %v, want …%s…", src, err, want)
		}
	}
}

func TestDefaultChannelBanners(t *testing.T) {
	if DefaultChannelBannerSource(channel.Voice, 300, 250, "x") != DefaultBannerSource(300, 250, "x") {
		t.Error("the voice banner is not the default call banner")
	}
	act := mustAction(t, "https://cb.example.com/r?k={{key}}")
	for ch, want := range map[channel.Channel]string{
		channel.Chat: "Chat with an agent", channel.SMS: "Text us", channel.Callback: "Request a callback",
	} {
		tm := DefaultChannelBannerTemplate(ch, 320, 50, "Talk to a <licensed> agent {{now}}")
		out := string(tm.Append(nil, &TemplateVars{Key: "K1", Action: act}))
		for _, w := range []string{want, `width:320px;height:50px`, `href="https://cb.example.com/r?k=K1"`,
			`Talk to a &lt;licensed&gt; agent &#123;&#123;now&#125;&#125;`} {
			if !strings.Contains(out, w) {
				t.Errorf("%v banner lacks %q:\n%s", ch, w, out)
			}
		}
		if InsecureURL([]byte(out)) {
			t.Errorf("%v banner holds http://", ch)
		}
	}
}

func TestChannelNative(t *testing.T) {
	act := mustAction(t, "https://chat.example.com/s?k={{key}}")
	v := &TemplateVars{E164: "+18005550123", Key: "K7QX2", Action: act}
	imp := &openrtb.Imp{Native: true, NativeHasPhone: true, NativePhoneAssetID: 3, NativeHasTitle: true, NativeTitleAssetID: 1, NativeTitleLen: 12}
	out := AppendChannelNativeMarkup(nil, imp, channel.Chat, "", v)
	var r response.Response
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	checkEq(t, "link", r.Link.URL, "https://chat.example.com/s?k=K7QX2")
	checkEq(t, "assets", len(r.Assets), 1)
	checkEq(t, "title", r.Assets[0].Title.Text, "Chat with an")
	if !NativeFits(channel.Chat, imp) || !NativeFits(channel.Voice, imp) {
		t.Error("imp with title and phone fits neither")
	}
	imp2 := &openrtb.Imp{Native: true, NativeHasPhone: true, NativeWrapped: true}
	if NativeFits(channel.Callback, imp2) {
		t.Error("a callback fits a native imp without a title asset")
	}
	// Voice through the channel entry point is the phone markup.
	if string(AppendChannelNativeMarkup(nil, imp, channel.Voice, "t", v)) != string(AppendNativeMarkup(nil, imp, "t", v)) {
		t.Error("voice native differs from AppendNativeMarkup")
	}
	// Wrapped (Native 1.0) like the request; a key needing escapes stays valid JSON.
	imp.NativeWrapped = true
	v.Key = "k\"1"
	out = AppendChannelNativeMarkup(nil, imp, channel.Callback, "Call me back", v)
	var w struct{ Native response.Response }
	if err := json.Unmarshal(out, &w); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	checkEq(t, "wrapped link", w.Native.Link.URL, "https://chat.example.com/s?k=k\"1")
}
