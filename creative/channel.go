package creative

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/callbid/callbid/channel"
	"github.com/callbid/callbid/jsonw"
	"github.com/callbid/callbid/openrtb"
)

// Action is a channel's action URL with the place of the tracking key:
// "https://chat.example.com/start?k={{key}}",
// "sms:+18005550123?&body=START%20{{key}}". It is compiled once at config
// load; rendering copies the parts around the key, escaped at parse.
type Action struct {
	src               string
	pre, post         string // raw, for Native link.url
	preHTML, postHTML string // HTML-escaped, for banners
	preJSON, postJSON string // JSON-string-escaped raw parts, for Native link.url
}

// ParseAction compiles an action URL. It must be https:// (chat, callback
// pages) or sms: (a text to a number), hold {{key}} exactly once, and no
// other placeholder.
func ParseAction(src string) (Action, error) {
	if !strings.HasPrefix(src, "https://") && !strings.HasPrefix(src, "sms:") {
		return Action{}, errors.New("action url: must be an https:// or sms: URL")
	}
	const k = "{{key}}"
	i := strings.Index(src, k)
	if i < 0 {
		return Action{}, errors.New("action url: no {{key}}; the chat or callback could not be attributed")
	}
	pre, post := src[:i], src[i+len(k):]
	if strings.Contains(post, k) {
		return Action{}, errors.New("action url: {{key}} appears more than once")
	}
	if strings.Contains(pre, "{{") || strings.Contains(post, "{{") {
		return Action{}, errors.New("action url: only {{key}} may be used as a placeholder")
	}
	return Action{src: src, pre: pre, post: post,
		preHTML: string(appendHTML(nil, pre)), postHTML: string(appendHTML(nil, post)),
		preJSON: jsonBody(pre), postJSON: jsonBody(post)}, nil
}

// String returns the action URL's source.
func (a *Action) String() string { return a.src }

// appendHTML renders the URL with key, HTML-escaped. A nil Action renders
// nothing.
func (a *Action) appendHTML(dst []byte, key string) []byte {
	if a == nil {
		return dst
	}
	dst = append(dst, a.preHTML...)
	dst = appendHTML(dst, key)
	return append(dst, a.postHTML...)
}

// appendJSON renders the URL with key as the inside of a JSON string.
func (a *Action) appendJSON(dst []byte, key string) []byte {
	if a == nil {
		return dst
	}
	dst = append(dst, a.preJSON...)
	start := len(dst)
	dst = append(dst, key...)
	if !jsonSafe(dst[start:]) {
		k := string(dst[start:]) // rare: keys are usually [A-Za-z0-9_-]
		dst = jsonw.AppendStringBody(dst[:start], k)
	}
	return append(dst, a.postJSON...)
}

// ParseChannelTemplate compiles a creative template for ch. A voice
// template must place the number (ParseTemplate); a chat, sms or callback
// template must place the tracking key, {{key}} or {{action_url}}: the key
// is what makes the session attributable.
func ParseChannelTemplate(ch channel.Channel, src string) (Template, error) {
	if ch == channel.Voice {
		return ParseTemplate(src)
	}
	t, has, err := parseTemplate(src)
	if err != nil {
		return Template{}, err
	}
	if !has.key {
		return Template{}, fmt.Errorf("template: no {{key}} or {{action_url}}; the %s session could not be attributed", ch)
	}
	return t, nil
}

// channelCopy is the default banner's call to action per channel: an icon
// and link text, and the small line under it.
var channelCopy = [channel.Count][2]string{
	channel.Voice:    {"&#128222; {{number}}", "Tap to call"},
	channel.Chat:     {"&#128172; Chat with an agent", "Agents online now"},
	channel.SMS:      {"&#128241; Text us", "An agent replies by text"},
	channel.Callback: {"&#128222; Request a callback", "An agent calls you back"},
}

// DefaultChannelBannerSource is the default HTML banner of ch for a w×h
// slot: the headline and one link to the channel (the tel: URI for voice,
// the action URL otherwise). Voice is exactly DefaultBannerSource.
func DefaultChannelBannerSource(ch channel.Channel, w, h int, headline string) string {
	if ch == channel.Voice || int(ch) >= channel.Count {
		return DefaultBannerSource(w, h, headline)
	}
	var b strings.Builder
	b.WriteString(`<div style="width:`)
	b.WriteString(strconv.Itoa(w))
	b.WriteString(`px;height:`)
	b.WriteString(strconv.Itoa(h))
	b.WriteString(`px;box-sizing:border-box;display:flex;flex-direction:column;align-items:center;justify-content:center;` +
		`font:15px Arial,sans-serif;border:1px solid #ccc;text-align:center;overflow:hidden">`)
	b.WriteString(strings.NewReplacer("{", "&#123;", "}", "&#125;").Replace(string(appendHTML(nil, headline))))
	b.WriteString(`<a href="{{action_url}}" target="_blank" style="margin:6px;font-size:20px;font-weight:bold;color:#0a58ca;text-decoration:none">`)
	b.WriteString(channelCopy[ch][0])
	b.WriteString(`</a><small>`)
	b.WriteString(channelCopy[ch][1])
	b.WriteString(`</small></div>`)
	return b.String()
}

// DefaultChannelBannerTemplate is DefaultChannelBannerSource compiled.
func DefaultChannelBannerTemplate(ch channel.Channel, w, h int, headline string) Template {
	t, err := ParseChannelTemplate(ch, DefaultChannelBannerSource(ch, w, h, headline))
	if err != nil {
		panic("BUG: default " + ch.String() + " banner template does not parse: " + err.Error())
	}
	return t
}

// NativeFits reports whether a native imp can carry ch's creative: voice
// needs the phone data asset (the number is the ad); chat, sms and callback
// need the title asset (the invitation) and send the action URL as the
// link.
func NativeFits(ch channel.Channel, imp *openrtb.Imp) bool {
	if !imp.Native {
		return false
	}
	if ch == channel.Voice {
		return imp.NativeHasPhone
	}
	return imp.NativeHasTitle
}

// AppendChannelNativeMarkup renders ch's Native 1.2 response. Voice is
// AppendNativeMarkup. Chat, sms and callback answer the title asset with
// title and link to the action URL carrying the key:
//
//	{"ver":"1.2","assets":[{"id":T,"title":{"text":"Chat with a licensed agent"}}],
//	 "link":{"url":"https://chat.example.com/start?k=K7QX2"}}
//
// The phone asset, when requested, is left out: it would be a number that
// is not tracked. Call it only when NativeFits.
func AppendChannelNativeMarkup(dst []byte, imp *openrtb.Imp, ch channel.Channel, title string, v *TemplateVars) []byte {
	if ch == channel.Voice {
		return AppendNativeMarkup(dst, imp, title, v)
	}
	if imp.NativeWrapped {
		dst = append(dst, `{"native":`...)
	}
	dst = append(dst, `{"ver":"1.2","assets":[`...)
	if imp.NativeHasTitle {
		if title == "" {
			title = channelTitle[ch]
		}
		dst = append(dst, `{"id":`...)
		dst = strconv.AppendInt(dst, int64(imp.NativeTitleAssetID), 10)
		dst = append(dst, `,"title":{"text":`...)
		dst = jsonw.AppendString(dst, truncateRunes(title, imp.NativeTitleLen))
		dst = append(dst, `}}`...)
	}
	dst = append(dst, `],"link":{"url":"`...)
	dst = v.Action.appendJSON(dst, v.Key)
	dst = append(dst, `"}}`...)
	if imp.NativeWrapped {
		dst = append(dst, '}')
	}
	return dst
}

// channelTitle is the native title when the creative sets none.
var channelTitle = [channel.Count]string{
	channel.Voice:    "Call an agent",
	channel.Chat:     "Chat with an agent",
	channel.SMS:      "Text an agent",
	channel.Callback: "Request a callback",
}
