package numbers

import (
	"testing"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/kafkaio"
)

type leaseHeard struct{ number, ext, skill, channel, publisher string }

func hearLeases(p *Pools) *[]leaseHeard {
	var got []leaseHeard
	p.OnLease(func(number, ext, skill, channel, publisher string) {
		got = append(got, leaseHeard{number, ext, skill, channel, publisher})
	})
	return &got
}

// A fresh win's lease reaches OnLease once, with its extension; a repeated
// notice, a bid, a loss and a lease replayed from the log do not.
func TestOnLeaseHearsFreshWinsOnly(t *testing.T) {
	pub := &fakePub{}
	p := mustNew(t, extPool(5), pub)
	got := hearLeases(p)
	r, ok := p.Reserve(0, testClaim(3), t0)
	if !ok {
		t.Fatal("pool exhausted")
	}
	if len(*got) != 0 {
		t.Fatalf("a bid was heard as a lease: %+v", *got)
	}
	lost, _ := p.Reserve(0, testClaim(4), t0)
	p.Loss(lost.Ref, t0)
	if w := p.Win(r.Ref, false, t0.Add(time.Second)); w != WinLeased {
		t.Fatalf("Win = %s", w)
	}
	if w, _ := p.Bill(r.Ref, t0.Add(2*time.Second)); w != WinDuplicate {
		t.Fatalf("Bill after Win = %s", w)
	}
	want := leaseHeard{r.E164, r.Ext, "mortgage", "", testClaim(3).PublisherID}
	if len(*got) != 1 || (*got)[0] != want || want.ext == "" {
		t.Fatalf("heard %+v, want one %+v", *got, want)
	}

	// Another process replays the lease log: nothing to call.
	p2 := mustNew(t, extPool(5), nil)
	p2.clockNow = func() time.Time { return t0.Add(time.Minute) }
	got2 := hearLeases(p2)
	for _, m := range pub.topic(events.TopicLeases) {
		p2.ApplyLeaseEvent(kafkaio.Message{Topic: events.TopicLeases, Key: m.key, Value: m.value})
	}
	if p2.Stats().Pools[0].Leased != 1 || len(*got2) != 0 {
		t.Fatalf("replay: %+v leased, heard %+v", p2.Stats().Pools[0], *got2)
	}
}

// A key pool's lease names its channel and the key as the number.
func TestOnLeaseNamesKeyChannel(t *testing.T) {
	p := mustNew(t, keyPoolConfig(3), nil)
	got := hearLeases(p)
	r := leaseOne(t, p, 1, t0)
	if len(*got) != 1 || (*got)[0].channel != "chat" || (*got)[0].number != r.E164 || (*got)[0].ext != "" {
		t.Fatalf("heard %+v for %+v", *got, r)
	}
}
