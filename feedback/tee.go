package feedback

import (
	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/kafkaio"
)

// InProcess is the partition number of records handed over in-process by
// Tee; their Kafka copies are then recognised as duplicates (impressions by
// bid id, attributions by call id).
const InProcess = -1

// Tee returns a Publisher that forwards everything to next and also hands
// callbid's own impressions (win and bill notices) and attributions to f at
// once, from the publishing goroutine. Pacing and hit rates then see a win or
// a call the moment it happens rather than after the Kafka round trip, and
// keep seeing them when a topic is missing on the cluster; Kafka replays them
// after a restart and brings other instances' records. A nil next only feeds f.
func (f *Feedback) Tee(next Publisher) Publisher { return &tee{f: f, next: next} }

type tee struct {
	f    *Feedback
	next Publisher
}

func (t *tee) Publish(topic string, key, value []byte) bool {
	switch topic {
	case events.TopicImpressions:
		t.f.HandleImpression(kafkaio.Message{Topic: topic, Partition: InProcess, Key: key, Value: value})
	case events.TopicAttribution:
		var a events.Attribution
		if events.DecodeAttribution(value, &a) == nil {
			_ = t.f.HandleAttribution(&a) // a repeat from Kafka later is recognised by its call id
		}
	}
	if t.next == nil {
		return true
	}
	return t.next.Publish(topic, key, value)
}

// Durable passes the producer's durable lane through, so the number pools
// behind a Tee still write their lease records on the never-dropping,
// acknowledged path (nil when next has none).
func (t *tee) Durable(topic string) *kafkaio.Durable {
	if d, ok := t.next.(interface{ Durable(string) *kafkaio.Durable }); ok {
		return d.Durable(topic)
	}
	return nil
}
