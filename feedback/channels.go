package feedback

import "github.com/callbid/callbid/channel"

// contactChannel is the channel an impression or attribution record names:
// voice when it names none (a call, or a record written before channels)
// or one this process does not know.
func contactChannel(name string) channel.Channel {
	ch, _ := channel.Parse(name)
	return ch
}
