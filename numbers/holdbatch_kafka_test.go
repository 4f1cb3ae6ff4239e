package numbers

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/callbid/callbid/embedbroker"
	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/kafkaio"
	"github.com/rs/zerolog"
)

// perRecordLog is a lease log that does not tell its partition count, so
// every hold is a record of its own (the behaviour before hold batches).
type perRecordLog struct{ d *kafkaio.Durable }

func (l perRecordLog) Append(key, value []byte) uint64            { return l.d.Append(key, value) }
func (l perRecordLog) Acked(seq uint64) bool                      { return l.d.Acked(seq) }
func (l perRecordLog) Wait(ctx context.Context, seq uint64) error { return l.d.Wait(ctx, seq) }
func (l perRecordLog) Health(now time.Time) kafkaio.DurableHealth { return l.d.Health(now) }

// BenchmarkHoldsToKafka is the whole cost of getting one hold into the
// lease log and acknowledged: LogHolds, the durable lane, kafka-go and the
// broker (an in-process kfake, 4 partitions: its CPU counts too), one hold
// record per hold against one batch per partition per pass (64 holds a
// pass, as at ~13,000 bids/s). Measure CPU time, e.g. under /usr/bin/time,
// on a loaded machine.
func BenchmarkHoldsToKafka(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	br, err := embedbroker.Start(kafkaio.EmbeddedConfig{Enabled: true, Listen: addr, Partitions: 4}, events.AllTopics, zerolog.Nop())
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	for _, mode := range []string{"record-per-hold", "batched"} {
		b.Run(mode, func(b *testing.B) {
			prod := kafkaio.NewProducer(kafkaio.Config{Brokers: []string{addr}, BatchTimeout: 2 * time.Millisecond}, zerolog.Nop())
			defer prod.Close(context.Background())
			d := prod.Durable(events.TopicLeases)
			p := mustNew(b, onePool(100_000), nil)
			p.leases = d
			if mode == "record-per-hold" {
				p.leases = perRecordLog{d}
			} else {
				for d.Partitions() == 0 {
					time.Sleep(10 * time.Millisecond)
				}
			}
			const pass = 64
			refs := make([]Ref, 0, pass)
			claims := make([]*Claim, pass)
			for k := range claims {
				claims[k] = testClaim(k)
			}
			b.ResetTimer()
			for n := 0; n < b.N; n += pass {
				refs = refs[:0]
				for k := range pass {
					r, ok := p.Reserve(0, claims[k], time.Now())
					if !ok {
						b.Fatal("pool exhausted")
					}
					refs = append(refs, r.Ref)
				}
				p.LogHolds()
				for _, r := range refs {
					p.Loss(r, time.Now())
				}
			}
			for d.Health(time.Now()).Pending > 0 {
				time.Sleep(time.Millisecond)
			}
		})
	}
}
