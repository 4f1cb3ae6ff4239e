// Package creative owns the ad markup callbid answers with: creative
// Templates ({{number}}, {{tel_uri}}, …) compiled once at config load, the
// default HTML banner, Native 1.2 phone-asset markup, and InsecureURL for
// secure=1 imps. Per contact channel (package channel): the phone
// creative carries a tracking number; chat, sms and callback creatives
// carry a tracking key, in {{key}} or inside the channel's action URL
// ({{action_url}}, an Action compiled from "https://…?k={{key}}" or
// "sms:…?body={{key}}"). Each channel has a default banner
// (DefaultChannelBannerTemplate) and native markup
// (AppendChannelNativeMarkup); NativeFits says which native imps can carry
// which channel.
//
// Goroutines: none of its own. A Template is immutable after ParseTemplate
// and safe for concurrent use. The Append* functions only write to the
// buffer they are given and do not allocate in steady state
// (TestRenderAllocs).
package creative
