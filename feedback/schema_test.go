package feedback

import (
	"testing"
	"time"

	"github.com/callbid/callbid/docs"
	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/reports"
)

// TestOutputMatchesSchemas: what feedback writes to Kafka — the bid tally
// (callbid.bids.v1), the demand feed (callbid.demand.v1) and the attribution
// re-emitted with its outcome (callbid.attribution.v1) — meets the schemas in
// docs/schemas, with no field the spec does not declare.
func TestOutputMatchesSchemas(t *testing.T) {
	cfg := Config{Reports: reports.Config{DemandInterval: 15 * time.Minute}}
	f, pub, now := newTest(t, cfg)
	f.Reports().Tick(*now) // open the demand interval, as Run does
	at := now.Add(time.Minute)
	f.RecordSeen("mortgage", "ex-a", at)
	f.RecordBid("c1", "mortgage", "pub-1", "ex-a", 2_000_000, 0, at)
	f.drain()
	f.Reports().Flush(at)
	f.HandleImpression(imp("b1", "pub-1", "ex-a", 2_000_000, at))
	f.feedAttr(attr("call-1", "b1", "pub-1", "ex-a", at, at.Add(time.Minute)))
	f.feedOutcome(outcome("call-1", events.DispositionSale, true, 90_000_000, at.Add(5*time.Minute)))

	f.Reports().Tick(now.Add(cfg.Reports.DemandInterval))
	for topic, schema := range map[string]string{events.TopicBids: "bids", events.TopicAttribution: "attribution", events.TopicDemand: "demand"} {
		msgs := pub.topic(topic)
		if len(msgs) == 0 {
			t.Errorf("nothing published to %s", topic)
		}
		for _, m := range msgs {
			if err := docs.StrictValidate(schema, m.Value); err != nil {
				t.Error(err)
			}
		}
	}
}
