//go:build !race

package capacity

import (
	"testing"
	"time"

	"github.com/callbid/callbid/channel"
	"github.com/callbid/callbid/events"
)

func TestChannelViewAllocs(t *testing.T) {
	m, clk := newTestModel(t, Config{}, "s")
	c := NewChannels(ChannelsConfig{}, m, []string{"s"})
	chanAgent(t, m, c, clk, "a", events.StateAvailable, []string{"chat"}, "s")
	rebuildBoth(m, c)
	if n := testing.AllocsPerRun(100, func() {
		_ = c.View("s", channel.Chat)
		_ = c.ViewAhead("s", channel.Voice, 5*time.Minute)
	}); n != 0 {
		t.Errorf("View/ViewAhead: %v allocs per run, want 0", n)
	}
}
