package creative

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/callbid/callbid/jsonw"
	"github.com/callbid/callbid/openrtb"
)

// Template is a creative template compiled once at config load. Placeholders:
//
//	{{number}}       the number for people: "(800) 555-0123" for NANP numbers,
//	                 E.164 otherwise, followed by " ext. 42" when there is an
//	                 extension
//	{{number_e164}}  +18005550123
//	{{tel_uri}}      tel:+18005550123, or tel:+18005550123;ext=42
//	{{ext}}          the extension digits, "" when none
//	{{campaign}}     the campaign id
//	{{click_url}}    TemplateVars.ClickURL
//	{{key}}          the tracking key of a chat, sms or callback creative
//	{{action_url}}   the channel's action URL with the key in it
//	                 (TemplateVars.Action, see ParseAction)
//
// Values are HTML-escaped: templates are HTML creatives.
type Template struct {
	src  string
	segs []segment
}

type segment struct {
	lit     string
	litJSON string      // lit JSON-string-escaped once at parse, for AppendJSON
	ph      placeholder // phNone: lit only
}

type placeholder uint8

const (
	phNone placeholder = iota
	// The number's placeholders come first, up to phExt (AppendJSON).
	phNumber
	phNumberE164
	phTelURI
	phExt
	phCampaign
	phClickURL
	phKey
	phActionURL
)

var placeholders = map[string]placeholder{
	"number":      phNumber,
	"number_e164": phNumberE164,
	"tel_uri":     phTelURI,
	"ext":         phExt,
	"campaign":    phCampaign,
	"click_url":   phClickURL,
	"key":         phKey,
	"action_url":  phActionURL,
}

// ParseTemplate compiles a creative template. Errors name the bad
// placeholder. A template must place the number somewhere ({{number}},
// {{number_e164}} or {{tel_uri}}): the number is what makes the ad
// attributable.
func ParseTemplate(src string) (Template, error) {
	t, has, err := parseTemplate(src)
	if err != nil {
		return Template{}, err
	}
	if !has.number {
		return Template{}, errors.New("template: no {{number}}, {{number_e164}} or {{tel_uri}}; the ad would not show the tracking number")
	}
	return t, nil
}

// found records which attributable placeholders a template holds.
type found struct{ number, key bool }

func parseTemplate(src string) (Template, found, error) {
	t := Template{src: src}
	var has found
	s := src
	off := 0
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			break
		}
		j := strings.Index(s[i+2:], "}}")
		if j < 0 {
			return Template{}, has, fmt.Errorf("template: \"{{\" at byte %d is never closed with \"}}\"", off+i)
		}
		name := strings.TrimSpace(s[i+2 : i+2+j])
		ph, ok := placeholders[name]
		if !ok {
			return Template{}, has, fmt.Errorf("template: unknown placeholder {{%s}} at byte %d; known are number, number_e164, tel_uri, ext, campaign, click_url, key and action_url", name, off+i)
		}
		has.number = has.number || ph == phNumber || ph == phNumberE164 || ph == phTelURI
		has.key = has.key || ph == phKey || ph == phActionURL
		t.segs = append(t.segs, segment{lit: s[:i], litJSON: jsonBody(s[:i]), ph: ph})
		s = s[i+2+j+2:]
		off += i + 2 + j + 2
	}
	if s != "" {
		t.segs = append(t.segs, segment{lit: s, litJSON: jsonBody(s)})
	}
	return t, has, nil
}

// String returns the template's source.
func (t *Template) String() string { return t.src }

// Insecure reports whether the template's own text holds an http:// URL,
// so it must not serve imps with secure=1. It cannot see values: check
// ClickURL separately.
func (t *Template) Insecure() bool { return InsecureURL([]byte(t.src)) }

// TemplateVars are the values rendered into a Template.
type TemplateVars struct {
	E164       string // +18005550123
	Ext        string // "" when none
	CampaignID string
	ClickURL   string  // {{click_url}}; "" when unused
	Key        string  // {{key}}: the tracking key of a chat, sms or callback creative
	Action     *Action // {{action_url}}; nil renders ""
}

// Append renders t with v into dst.
func (t *Template) Append(dst []byte, v *TemplateVars) []byte {
	for _, sg := range t.segs {
		dst = append(dst, sg.lit...)
		dst = appendValue(dst, sg.ph, v)
	}
	return dst
}

// AppendJSON renders t with v into dst already escaped as the inside of a
// JSON string (no quotes), for Bid.AdMEscaped. The template's own text was
// escaped once at ParseTemplate, so a bid copies it instead of escaping
// ~700 bytes of HTML (every attribute quote) per response; only the values
// are checked, and they rarely need it.
func (t *Template) AppendJSON(dst []byte, v *TemplateVars) []byte {
	digits := -1 // whether E164 and Ext are only '+' and digits; -1: not looked at
	for _, sg := range t.segs {
		dst = append(dst, sg.litJSON...)
		if sg.ph == phNone {
			continue
		}
		if sg.ph <= phExt { // the number's placeholders
			if digits < 0 {
				digits = 0
				if numeric(v.E164) && numeric(v.Ext) {
					digits = 1
				}
			}
			if digits == 1 {
				// A number (+, digits) renders with (, ), space, -, "ext.",
				// "tel:" and ";ext=": nothing to escape for HTML or JSON,
				// so neither scan is needed.
				dst = appendNumber(dst, sg.ph, v)
				continue
			}
		}
		start := len(dst)
		dst = appendValue(dst, sg.ph, v)
		if !jsonSafe(dst[start:]) {
			val := string(dst[start:]) // rare: a value with a quote, backslash, control or non-ASCII byte
			dst = jsonw.AppendStringBody(dst[:start], val)
		}
	}
	return dst
}

// numeric: s is only '+' and ASCII digits (a number or extension as the
// pools hand them out).
func numeric(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && c != '+' {
			return false
		}
	}
	return true
}

// appendNumber renders a number placeholder of a numeric E164 and Ext.
func appendNumber(dst []byte, ph placeholder, v *TemplateVars) []byte {
	switch ph {
	case phNumber:
		return AppendDisplayNumber(dst, v.E164, v.Ext)
	case phNumberE164:
		return append(dst, v.E164...)
	case phTelURI:
		return AppendTelURI(dst, v.E164, v.Ext)
	case phExt:
		return append(dst, v.Ext...)
	}
	return dst
}

func appendValue(dst []byte, ph placeholder, v *TemplateVars) []byte {
	switch ph {
	case phNumber:
		dst = appendDisplayNumber(dst, v.E164, v.Ext)
	case phNumberE164:
		dst = appendHTML(dst, v.E164)
	case phTelURI:
		dst = appendTelURI(dst, v.E164, v.Ext)
	case phExt:
		dst = appendHTML(dst, v.Ext)
	case phCampaign:
		dst = appendHTML(dst, v.CampaignID)
	case phClickURL:
		dst = appendHTML(dst, v.ClickURL)
	case phKey:
		dst = appendHTML(dst, v.Key)
	case phActionURL:
		dst = v.Action.appendHTML(dst, v.Key)
	}
	return dst
}

// jsonBody is s escaped as the inside of a JSON string.
func jsonBody(s string) string {
	b := jsonw.AppendString(nil, s)
	return string(b[1 : len(b)-1])
}

// jsonSafe reports whether b needs no escaping inside a JSON string (plain
// printable ASCII without quote or backslash).
func jsonSafe(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// DefaultBannerSource is the source of callbid's default HTML banner for a
// w×h slot: the headline, the number in large type as a tel: link, and
// "Tap to call". headline is plain text (it is HTML-escaped here). The
// markup holds no URL besides the tel: link, so it serves secure imps.
func DefaultBannerSource(w, h int, headline string) string {
	// Kept lean on purpose: the markup is most of a bid response, exchanges
	// ask for small responses, and every byte is written per bid.
	var b strings.Builder
	b.WriteString(`<div style="width:`)
	b.WriteString(strconv.Itoa(w))
	b.WriteString(`px;height:`)
	b.WriteString(strconv.Itoa(h))
	b.WriteString(`px;box-sizing:border-box;display:flex;flex-direction:column;align-items:center;justify-content:center;` +
		`font:15px Arial,sans-serif;border:1px solid #ccc;text-align:center;overflow:hidden">`)
	// Escape braces too, so a headline cannot form a placeholder.
	h2 := strings.NewReplacer("{", "&#123;", "}", "&#125;").Replace(string(appendHTML(nil, headline)))
	b.WriteString(h2)
	b.WriteString(`<a href="{{tel_uri}}" target="_top" style="margin:6px;font-size:20px;font-weight:bold;color:#0a58ca;text-decoration:none">` +
		`&#128222; {{number}}</a><small>Tap to call</small></div>`)
	return b.String()
}

// DefaultBannerTemplate is DefaultBannerSource compiled.
func DefaultBannerTemplate(w, h int, headline string) Template {
	t, err := ParseTemplate(DefaultBannerSource(w, h, headline))
	if err != nil {
		panic("BUG: default banner template does not parse: " + err.Error())
	}
	return t
}

// InsecureURL reports whether markup holds an http:// URL (any letter
// case). Markup for an imp with secure=1 must not; the bidder checks
// templates and notice URLs with it at config load.
func InsecureURL(markup []byte) bool {
	const p = "http://"
	for i := 0; i+len(p) <= len(markup); i++ {
		if markup[i]|0x20 != 'h' {
			continue
		}
		j := 0
		for ; j < len(p); j++ {
			c := markup[i+j]
			if c >= 'A' && c <= 'Z' {
				c |= 0x20
			}
			if c != p[j] {
				break
			}
		}
		if j == len(p) {
			return true
		}
	}
	return false
}

// AppendDisplayNumber appends the number as people read it:
// "(800) 555-0123" for a NANP number (+1 and ten digits), the E.164 form
// otherwise, followed by " ext. 42" when ext is set.
func AppendDisplayNumber(dst []byte, e164, ext string) []byte {
	if isNANP(e164) {
		d := e164[2:]
		dst = append(dst, '(')
		dst = append(dst, d[:3]...)
		dst = append(dst, ") "...)
		dst = append(dst, d[3:6]...)
		dst = append(dst, '-')
		dst = append(dst, d[6:]...)
	} else {
		dst = append(dst, e164...)
	}
	if ext != "" {
		dst = append(dst, " ext. "...)
		dst = append(dst, ext...)
	}
	return dst
}

func appendDisplayNumber(dst []byte, e164, ext string) []byte {
	if isPlain(e164) && isPlain(ext) {
		return AppendDisplayNumber(dst, e164, ext)
	}
	return appendHTML(dst, string(AppendDisplayNumber(nil, e164, ext)))
}

// AppendTelURI appends the RFC 3966 URI: tel:+18005550123[;ext=42].
func AppendTelURI(dst []byte, e164, ext string) []byte {
	dst = append(dst, "tel:"...)
	dst = append(dst, e164...)
	if ext != "" {
		dst = append(dst, ";ext="...)
		dst = append(dst, ext...)
	}
	return dst
}

func appendTelURI(dst []byte, e164, ext string) []byte {
	if isPlain(e164) && isPlain(ext) {
		return AppendTelURI(dst, e164, ext)
	}
	return appendHTML(dst, string(AppendTelURI(nil, e164, ext)))
}

func isNANP(s string) bool {
	if len(s) != 12 || s[0] != '+' || s[1] != '1' {
		return false
	}
	for i := 2; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isPlain reports whether s needs no HTML escaping (the usual case for
// numbers), so rendering stays allocation-free.
func isPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '&', '<', '>', '"', '\'':
			return false
		}
	}
	return true
}

func appendHTML(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '"':
			esc = "&#34;"
		case '\'':
			esc = "&#39;"
		default:
			continue
		}
		dst = append(dst, s[start:i]...)
		dst = append(dst, esc...)
		start = i + 1
	}
	return append(dst, s[start:]...)
}

// AppendNativeMarkup renders a Native 1.2 response whose phone data asset
// (type 8) carries the number, plus the title asset when requested and
// title is set, with a tel: link:
//
//	{"ver":"1.2","assets":[{"id":P,"data":{"value":"(800) 555-0123"}},
//	 {"id":T,"title":{"text":"…"}}],"link":{"url":"tel:+18005550123"}}
//
// The object is wrapped in {"native":…} when the request was (Native 1.0
// form, imp.NativeWrapped); Native 1.1+ responses are the bare object. The
// title is cut to imp.NativeTitleLen characters; the number falls back to
// its E.164 form when the display form is longer than imp.NativePhoneLen.
// The result is JSON text (not yet escaped as the adm string).
func AppendNativeMarkup(dst []byte, imp *openrtb.Imp, title string, v *TemplateVars) []byte {
	if imp.NativeWrapped {
		dst = append(dst, `{"native":`...)
	}
	dst = append(dst, `{"ver":"1.2","assets":[`...)
	first := true
	if imp.NativeHasPhone {
		first = false
		dst = append(dst, `{"id":`...)
		dst = strconv.AppendInt(dst, int64(imp.NativePhoneAssetID), 10)
		dst = append(dst, `,"data":{"value":`...)
		dst = appendPhoneValue(dst, imp.NativePhoneLen, v)
		dst = append(dst, `}}`...)
	}
	if imp.NativeHasTitle && title != "" {
		if !first {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"id":`...)
		dst = strconv.AppendInt(dst, int64(imp.NativeTitleAssetID), 10)
		dst = append(dst, `,"title":{"text":`...)
		dst = jsonw.AppendString(dst, truncateRunes(title, imp.NativeTitleLen))
		dst = append(dst, `}}`...)
	}
	dst = append(dst, `],"link":{"url":"`...)
	dst = appendJSONRaw(dst, v.E164, v.Ext)
	dst = append(dst, `"}}`...)
	if imp.NativeWrapped {
		dst = append(dst, '}')
	}
	return dst
}

// appendPhoneValue writes the phone asset's value as a JSON string.
func appendPhoneValue(dst []byte, maxLen int, v *TemplateVars) []byte {
	n := displayLen(v.E164, v.Ext)
	dst = append(dst, '"')
	start := len(dst)
	switch {
	case maxLen <= 0 || n <= maxLen:
		dst = AppendDisplayNumber(dst, v.E164, v.Ext)
	default:
		dst = append(dst, v.E164...)
	}
	// Numbers are digits, '+', '(', ')', ' ', '-' and "ext."; escape anyway
	// if config ever lets something else through.
	if needsJSONEscape(dst[start:]) {
		s := string(dst[start:])
		dst = jsonw.AppendString(dst[:start-1], s)
		return dst
	}
	return append(dst, '"')
}

// appendJSONRaw writes the tel: URI inside an already opened JSON string.
func appendJSONRaw(dst []byte, e164, ext string) []byte {
	start := len(dst)
	dst = AppendTelURI(dst, e164, ext)
	if needsJSONEscape(dst[start:]) {
		s := string(dst[start:])
		q := jsonw.AppendString(dst[:start], s)
		// drop the quotes jsonw.AppendString added; the caller writes its own
		copy(q[start:], q[start+1:len(q)-1])
		return q[:len(q)-2]
	}
	return dst
}

func needsJSONEscape(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			return true
		}
	}
	return false
}

func displayLen(e164, ext string) int {
	n := len(e164)
	if isNANP(e164) {
		n = len("(800) 555-0123")
	}
	if ext != "" {
		n += len(" ext. ") + len(ext)
	}
	return n
}

// truncateRunes cuts s to at most n characters (n <= 0: no limit), never
// inside a UTF-8 sequence.
func truncateRunes(s string, n int) string {
	if n <= 0 || len(s) <= n {
		return s
	}
	count := 0
	for i := range s {
		if count == n {
			return s[:i]
		}
		count++
	}
	return s
}
