package bidder

import (
	"fmt"
	"time"

	"github.com/callbid/callbid/capacity"
	"github.com/callbid/callbid/channel"
	ad "github.com/callbid/callbid/creative"
	"github.com/callbid/callbid/numbers"
	"github.com/callbid/callbid/openrtb"
)

// ChannelConfig is one contact channel a campaign may invite to besides a
// phone call (campaigns[].channels[]): a chat, sms or callback creative
// carrying a tracking key from a key pool (numbers.pools[] with channel).
//
//	channels:
//	  - { channel: chat, pool: chat-keys, action_url: "https://chat.example.com/start?k={{key}}" }
//	  - { channel: callback, pool: cb-keys, action_url: "https://example.com/callback?k={{key}}", value_multiplier: 0.8 }
//
// A voice entry sets only contact_delay and has no pool (the campaign's
// number_pool is the voice pool).
type ChannelConfig struct {
	Channel string `yaml:"channel"` // voice|chat|sms|callback
	// Pool is the numbers pool of tracking keys (numbers.pools[].channel
	// must match).
	Pool string `yaml:"pool"`
	// ActionURL is where the creative sends the person, with {{key}}:
	// https:// for chat and callback pages, sms: for texts.
	ActionURL string `yaml:"action_url"`
	// Template is the banner HTML for every size, with {{action_url}} or
	// {{key}}; empty: the channel's default banner with Title.
	Template string `yaml:"template"`
	// Title is the default banner's headline.
	Title string `yaml:"title"`
	// ValueMultiplier is what a contact on this channel is worth against a
	// call (default 1): it scales the bid.
	ValueMultiplier float64 `yaml:"value_multiplier"`
	// ContactDelay is the usual time from the win to the contact (a call
	// about 5 minutes later). Capacity is read for then, from the schedule
	// (capacity.Channels.ViewAhead); 0 reads capacity now.
	ContactDelay time.Duration `yaml:"contact_delay"`
}

// ChannelCapacity is the per skill × channel headroom
// (*capacity.Channels). Nil: the campaigns' channels other than voice never
// bid and contact_delay is ignored.
type ChannelCapacity interface {
	ViewAhead(skill string, ch channel.Channel, delay time.Duration) capacity.ChannelView
}

// campaignChannel is a compiled channel of a campaign. A campaign with
// channels is compiled into one campaign per channel (the voice one is the
// campaign itself): they share id, budget and call counters, and each imp
// goes to the best-priced one that has headroom — voice whenever it has
// headroom, another channel only while voice has none.
type campaignChannel struct {
	ch     channel.Channel
	delay  time.Duration
	action ad.Action
	voice  *campaign // the campaign's voice channel (its capacity decides "voice first")
	// rate is the contacts a win is expected to bring before hit rates
	// (expected_call_rate, else hitrate's default prior); flight counts
	// the contacts recent bids may still bring (channel_flight.go).
	rate   float64
	flight *flight
}

// validateChannels checks campaigns[i].channels.
func validateChannels(p string, cc *CampaignConfig, add func(path, format string, args ...any)) {
	seen := map[channel.Channel]bool{}
	for j, chc := range cc.Channels {
		cp := fmt.Sprintf("%s.channels[%d]", p, j)
		ch, ok := channel.Parse(chc.Channel)
		if !ok {
			add(cp+".channel", "%q is not %s", chc.Channel, channel.Names)
			continue
		}
		if seen[ch] {
			add(cp+".channel", "%s is listed twice", ch)
		}
		seen[ch] = true
		if chc.ValueMultiplier < 0 {
			add(cp+".value_multiplier", "%v must not be negative", chc.ValueMultiplier)
		}
		if chc.ContactDelay < 0 || chc.ContactDelay > time.Hour {
			add(cp+".contact_delay", "%v must be between 0 and 1h", chc.ContactDelay)
		}
		if ch == channel.Voice {
			if chc.Pool != "" || chc.ActionURL != "" || chc.Template != "" {
				add(cp, "voice uses the campaign's number_pool and creatives; only contact_delay may be set")
			}
			continue
		}
		if cc.NeedsCapacity != nil && !*cc.NeedsCapacity {
			add(cp, "a %s channel bids only when voice has no headroom: it needs needs_capacity", ch)
		}
		if chc.Pool == "" {
			add(cp+".pool", "is required: the numbers pool of %s tracking keys", ch)
		}
		if _, err := ad.ParseAction(chc.ActionURL); err != nil {
			add(cp+".action_url", "%v", err)
		}
		if chc.Template != "" {
			if _, err := ad.ParseChannelTemplate(ch, chc.Template); err != nil {
				add(cp+".template", "%v", err)
			}
			if ad.InsecureURL([]byte(chc.Template)) {
				add(cp+".template", "uses http://; secure (imp.secure=1) inventory needs https:// resources only")
			}
		}
	}
}

// channelCampaigns compiles the channels of voice (campaigns[i]) into
// their own campaigns, after it in the list.
func channelCampaigns(p string, voice *campaign, cc *CampaignConfig, res Reserver) ([]*campaign, error) {
	var out []*campaign
	for j := range cc.Channels {
		chc := &cc.Channels[j]
		cp := fmt.Sprintf("%s.channels[%d]", p, j)
		ch, _ := channel.Parse(chc.Channel)
		mult := chc.ValueMultiplier
		if mult == 0 {
			mult = 1
		}
		if ch == channel.Voice {
			voice.chn = &campaignChannel{ch: channel.Voice, delay: chc.ContactDelay, voice: voice}
			continue
		}
		act, err := ad.ParseAction(chc.ActionURL)
		if err != nil {
			return nil, fmt.Errorf("%s.action_url: %w", cp, err)
		}
		idx, ok := res.PoolIndex(chc.Pool)
		if !ok {
			return nil, fmt.Errorf("%s.pool: no pool %q in numbers.pools", cp, chc.Pool)
		}
		c := *voice // the same targeting, multipliers, budget and counters
		rate := cc.ExpectedCallRate
		if rate <= 0 {
			rate = defaultContactRate
		}
		c.chn = &campaignChannel{ch: ch, delay: chc.ContactDelay, action: act, voice: voice, rate: rate, flight: &flight{}}
		c.pool = idx
		c.baseCPM *= mult
		c.valueCallRate *= mult
		// A native invitation (title and link) wherever the campaign has a
		// native phone creative; the title is the channel's, or its default.
		c.natives = nil
		for _, n := range voice.natives {
			c.natives = append(c.natives, creative{id: n.id + "-" + ch.String(), title: chc.Title})
		}
		c.banners = make([]creative, 0, len(voice.banners))
		for _, b := range voice.banners {
			k := creative{id: b.id + "-" + ch.String(), w: b.w, h: b.h, title: chc.Title}
			if chc.Template != "" {
				if k.tmpl, err = ad.ParseChannelTemplate(ch, chc.Template); err != nil {
					return nil, fmt.Errorf("%s.template: %w", cp, err)
				}
			} else {
				title := chc.Title
				if title == "" {
					title = b.title
				}
				k.tmpl = ad.DefaultChannelBannerTemplate(ch, b.w, b.h, title)
			}
			c.banners = append(c.banners, k)
		}
		out = append(out, &c)
	}
	return out, nil
}

// capacityView is the capacity a campaign bids on: the voice model's view
// (with the campaign's proficiencies), read ahead by contact_delay when the
// schedule is wired; for another channel, its own headroom, but only while
// the campaign's voice channel has none and its recent bids' contacts
// (channel_flight.go) do not fill what is free.
func (b *Bidder) capacityView(c *campaign, now time.Time) capacity.View {
	chn := c.chn
	if chn == nil {
		return b.deps.Capacity.View(c.skill, c.minProf, c.premProf)
	}
	voice := b.voiceView(chn.voice)
	if chn.ch == channel.Voice || voice.State == capacity.Stale {
		return voice
	}
	if voice.Factor > 0 || b.deps.Channels == nil {
		return capacity.View{State: capacity.NoHeadroom} // voice first
	}
	v := b.deps.Channels.ViewAhead(c.skill, chn.ch, chn.delay)
	if v.Factor > 0 && chn.flight.contacts(now) >= v.Free {
		return capacity.View{State: capacity.NoHeadroom} // recent bids may fill what is free
	}
	return capacity.View{Factor: v.Factor, State: v.State}
}

// voiceView is the voice channel's view of campaign c.
func (b *Bidder) voiceView(c *campaign) capacity.View {
	v := b.deps.Capacity.View(c.skill, c.minProf, c.premProf)
	if c.chn == nil || c.chn.delay <= 0 || b.deps.Channels == nil || v.State == capacity.Stale {
		return v
	}
	a := b.deps.Channels.ViewAhead(c.skill, channel.Voice, c.chn.delay)
	return capacity.View{Factor: a.Factor, State: a.State, PremiumFree: v.PremiumFree && a.Factor > 0}
}

// markupVars are the values a bid's markup is rendered with: the reserved
// number for voice, the reserved key and the action URL otherwise.
func markupVars(c *campaign, res *numbers.Reservation) ad.TemplateVars {
	if c.chn == nil || c.chn.ch == channel.Voice {
		return ad.TemplateVars{E164: res.E164, Ext: res.Ext, CampaignID: c.id}
	}
	return ad.TemplateVars{Key: res.E164, Action: &c.chn.action, CampaignID: c.id}
}

// supported reports whether the bidder can answer imp at all: a banner, a
// native imp with the phone asset, or — when a campaign has a chat, sms or
// callback native creative — one with a title asset. The loop runs only
// for native imps without a phone asset.
func (s *snapshot) supported(imp *openrtb.Imp) bool {
	if impSupported(imp) {
		return true
	}
	if !imp.Native || !imp.NativeHasTitle {
		return false
	}
	for _, c := range s.campaigns {
		if c.chn != nil && c.chn.ch != channel.Voice && len(c.natives) > 0 {
			return true
		}
	}
	return false
}

// nativeFits reports whether c's native creative fits imp: the phone asset
// for a call, the title asset for an invitation to chat, text or call back.
func nativeFits(c *campaign, imp *openrtb.Imp) bool {
	ch := channel.Voice
	if c.chn != nil {
		ch = c.chn.ch
	}
	return ad.NativeFits(ch, imp)
}

// appendNative renders c's native markup: the phone asset for a call, the
// title linking to the action URL with the key otherwise.
func appendNative(dst []byte, c *campaign, imp *openrtb.Imp, title string, v *ad.TemplateVars) []byte {
	if c.chn == nil || c.chn.ch == channel.Voice {
		return ad.AppendNativeMarkup(dst, imp, title, v)
	}
	return ad.AppendChannelNativeMarkup(dst, imp, c.chn.ch, title, v)
}

// contactChannel is the channel c bids on (voice for a campaign without
// channels).
func (c *campaign) contactChannel() channel.Channel {
	if c.chn == nil {
		return channel.Voice
	}
	return c.chn.ch
}

// ChannelHitRates is the learned call-rate factor per campaign × publisher
// × channel (*hitrate.HitRates). The bidder finds it behind
// Deps.Feedback (the value itself, or FeedbackParts.HitRates); without it
// every channel is priced with HitRate.
type ChannelHitRates interface {
	ChannelHitRate(campaignID, publisherID string, ch channel.Channel) float64
}

// channelHitRates finds the per-channel rates behind fb, or nil.
func channelHitRates(fb Feedback) ChannelHitRates {
	switch x := fb.(type) {
	case ChannelHitRates:
		return x
	case FeedbackParts:
		r, _ := x.HitRates.(ChannelHitRates)
		return r
	case *FeedbackParts:
		r, _ := x.HitRates.(ChannelHitRates)
		return r
	}
	return nil
}

// hitRate is the learned factor a bid of c is priced with: the channel's
// own for a chat, sms or callback invitation (a chat's sessions per win
// are not a call's), the campaign × publisher's for a call. No allocation.
func (b *Bidder) hitRate(fb Feedback, c *campaign, publisher string) float64 {
	if ch := c.contactChannel(); ch != channel.Voice && b.chRates != nil {
		return b.chRates.ChannelHitRate(c.id, publisher, ch)
	}
	return fb.HitRate(c.id, publisher)
}

// appendTokenChannel ends a notice token's payload with the channel's byte
// for chat, sms and callback; a call's token has none, so tokens issued
// before channels (and every call's) read as voice.
func appendTokenChannel(dst []byte, ch channel.Channel) []byte {
	if ch == channel.Voice {
		return dst
	}
	return append(dst, byte(ch))
}

// parseTokenChannel reads the optional channel byte at the end of a token
// payload and returns the rest (which must then be empty).
func parseTokenChannel(p []byte) (channel.Channel, []byte) {
	if len(p) == 1 && p[0] > byte(channel.Voice) && p[0] < channel.Count {
		return channel.Channel(p[0]), p[1:]
	}
	return channel.Voice, p
}

// channelField is the impression record's "channel": empty for a call.
func channelField(ch channel.Channel) string {
	if ch == channel.Voice {
		return ""
	}
	return ch.String()
}

// ChannelBidRecorder takes a chat, sms or callback bid's counts
// (*feedback.Feedback): RecordBid with the channel, so report rows and the
// bid tally keep the channel's bids apart and no call is charged to the
// skill's pacing for them. Found behind Deps.Feedback like
// ChannelHitRates; without it such bids are recorded with RecordBid.
type ChannelBidRecorder interface {
	RecordChannelBid(campaignID, skill, publisherID, exchange string, ch channel.Channel, priceMicros, valueMicros int64, now time.Time)
}

// channelBidRecorder finds the per-channel bid recorder behind fb, or nil.
func channelBidRecorder(fb Feedback) ChannelBidRecorder {
	switch x := fb.(type) {
	case ChannelBidRecorder:
		return x
	case FeedbackParts:
		r, _ := x.BidRecorder.(ChannelBidRecorder)
		return r
	case *FeedbackParts:
		r, _ := x.BidRecorder.(ChannelBidRecorder)
		return r
	}
	return nil
}

// recordBid hands a bid of c to the feed; a chat, sms or callback bid
// also counts the contacts it may bring in its channel's flight: P(win)
// (the learned win curve at the bid's USD price, 1 without shading) ×
// contacts per win.
func (b *Bidder) recordBid(d *decision, c *campaign, price, value int64, usd float64) {
	s, publisher, exchange, now := d.s, d.req.PublisherID, d.ex.name, d.now
	ch := c.contactChannel()
	if ch == channel.Voice {
		b.deps.Feedback.RecordBid(c.id, c.skill, publisher, exchange, price, value, now)
		return
	}
	pwin := 1.0
	if !s.cfg.Shading.Disabled {
		pwin = b.shade.winProb(&s.cfg.Shading, d.shadeCells(b.shade), usd)
	}
	c.chn.flight.add(now, pwin*c.chn.rate*b.hitRate(b.deps.Feedback, c, publisher))
	if b.chBids != nil {
		b.chBids.RecordChannelBid(c.id, c.skill, publisher, exchange, ch, price, value, now)
		return
	}
	b.deps.Feedback.RecordBid(c.id, c.skill, publisher, exchange, price, value, now)
}

// pacing is the pacing a bid of c is priced with. Pacing and the
// participation gate (admit) steer the calls bought against the voice
// agents; a chat, sms or callback invitation bids only while voice has no
// headroom — exactly when voice pacing stops — and its own channel has a
// free session or slot (capacityView), so voice pacing neither prices nor
// stops it.
func (b *Bidder) pacing(fb Feedback, c *campaign) (multiplier float64, stop bool) {
	if c.contactChannel() != channel.Voice {
		return 1, false
	}
	return fb.Pacing(c.skill)
}

// admit is the participation gate for a bid of c (see pacing).
func (b *Bidder) admit(pt Participation, c *campaign) bool {
	return c.contactChannel() != channel.Voice || pt.Admit(c.skill)
}
