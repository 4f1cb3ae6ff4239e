// Package channel names the ways a person can reach the contact center
// from an ad: a phone call (voice), a web chat, a text message (sms) or a
// requested callback. capacity counts headroom per skill × channel, the
// bidder picks one per imp, creative renders its markup.
//
// Goroutines: none; values only.
package channel

// Channel is one contact channel. The zero value is Voice, so code that
// knows nothing of channels keeps meaning a phone call.
type Channel uint8

const (
	Voice    Channel = iota // a phone call to a tracking number
	Chat                    // a web chat started from a tracking key
	SMS                     // a text message carrying a tracking key
	Callback                // a callback requested with a tracking key
)

// Count is the number of channels; arrays indexed by Channel use it.
const Count = 4

var names = [Count]string{"voice", "chat", "sms", "callback"}

// String returns the channel's name in config and events ("voice", …).
func (c Channel) String() string {
	if int(c) < Count {
		return names[c]
	}
	return "unknown"
}

// Parse maps a name from config or an event to its Channel.
func Parse(s string) (Channel, bool) {
	for i, n := range names {
		if s == n {
			return Channel(i), true
		}
	}
	return Voice, false
}

// Names lists the channel names, for error messages.
const Names = "voice, chat, sms or callback"
