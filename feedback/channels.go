package feedback

import "github.com/callbid/callbid/channel"

// Channels. Impressions and attributions name the contact channel they
// bought (empty: a call). Chats, texts and callbacks count in their own
// hit-rate cells and report rows, but not in what pacing steers — the
// calls bought against the voice agents: a chat bid charges nothing to the
// skill's participation bucket, a chat win adds no call in flight (its
// exchange still counts the win), and a chat's arrival is neither a
// bought call arriving nor a sample of the skill's delay from win to call.

// contactChannel is the channel an impression or attribution record names:
// voice when it names none (a call, or a record written before channels)
// or one this process does not know.
func contactChannel(name string) channel.Channel {
	ch, _ := channel.Parse(name)
	return ch
}

// charge is what a bid on ch charges to the skill's participation bucket:
// the expected calls of a call bid, nothing for another channel.
func (f *Feedback) charge(campaignID, skill, publisherID, exchange string, ch channel.Channel) float64 {
	if ch != channel.Voice {
		return 0
	}
	return f.pace.Charge(campaignID, skill, publisherID, exchange)
}

// voiceCalls is the calls in flight a win on ch adds to pacing.
func voiceCalls(ch channel.Channel, calls float64) float64 {
	if ch != channel.Voice {
		return 0
	}
	return calls
}
