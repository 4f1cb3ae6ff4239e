package hitrate

import "github.com/callbid/callbid/channel"

// Channels. A campaign's chat, sms and callback invitations share its id,
// so each channel has its own campaign × publisher cell (pairKey.ch):
// wins of the impressions that bought the channel (WinChannel) against
// the contacts started from their keys (Contribution.Channel). A new
// channel starts from the campaign's prior like a new publisher, so its
// factor says how a chat's sessions per win compare with the calls per win
// the campaign expects. Pacing's any-call rate (CallsPerWin), the pooled
// cautious rate and the exchange factor are the campaign's, over every
// channel.

// ChannelHitRate is HitRate for the impressions that bought channel ch
// (bidder.ChannelHitRates): one atomic load, one map lookup, 0 allocations.
func (h *HitRates) ChannelHitRate(campaignID, publisherID string, ch channel.Channel) float64 {
	if v, ok := h.rates.Load().factor[pairKey{campaignID, publisherID, ch}]; ok {
		return v
	}
	return 1
}

// channelName is a cell's channel in /admin/rates: empty for calls.
func channelName(ch channel.Channel) string {
	if ch == channel.Voice {
		return ""
	}
	return ch.String()
}
