package numbers

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

type pubMsg struct {
	topic      string
	key, value []byte
}

// fakePub records what would go to Kafka; full makes it drop everything.
type fakePub struct {
	mu   sync.Mutex
	msgs []pubMsg
	full bool
}

func (f *fakePub) Publish(topic string, key, value []byte) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.full {
		return false
	}
	f.msgs = append(f.msgs, pubMsg{topic, append([]byte(nil), key...), append([]byte(nil), value...)})
	return true
}

func (f *fakePub) topic(name string) []pubMsg {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []pubMsg
	for _, m := range f.msgs {
		if m.topic == name {
			out = append(out, m)
		}
	}
	return out
}

// plainNumbers returns n distinct E.164 numbers starting at +1800555xxxx.
func plainNumbers(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("+1800%07d", i)
	}
	return out
}

func mustNew(t testing.TB, cfg Config, pub Publisher) *Pools {
	t.Helper()
	if pub == nil {
		pub = (*fakePub)(nil)
	}
	var p *Pools
	var err error
	if fp, ok := pub.(*fakePub); ok && fp == nil {
		p, err = New(cfg, nil, zerolog.Nop())
	} else {
		p, err = New(cfg, pub, zerolog.Nop())
	}
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func onePool(nums int) Config {
	return Config{CallsToken: "tok", Pools: []PoolConfig{{
		ID: "p", Numbers: plainNumbers(nums),
		Hold: 15 * time.Second, Lease: 30 * time.Minute, Cooldown: 30 * time.Minute,
	}}}
}

func testClaim(k int) *Claim {
	return &Claim{
		CampaignID: "camp-mortgage", PublisherID: fmt.Sprintf("pub-%d", k%7), SiteOrApp: "news.example.com",
		Exchange: "xchg", RequestID: fmt.Sprintf("req-%d", k), ImpID: "1", BidID: fmt.Sprintf("bid-%d", k),
		Skill: "mortgage", PriceMicros: 2_500_000, IPHash: uint64(k) * 31, IFAHash: uint64(k) * 17,
	}
}

func (p *Pools) stateOf(i int32) state {
	pl := p.poolOf(i)
	s := p.shardOf(pl, i)
	s.mu.Lock()
	defer s.mu.Unlock()
	return p.entries[i].state
}

func refIndex(r Ref) int32 { return int32(uint32(r >> 32)) }
