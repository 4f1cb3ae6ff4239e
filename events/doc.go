// Package events owns callbid's Kafka plumbing and the schema of every
// record callbid reads: the topic names, the record types with their enums
// and Check rules (schema.go, decode.go: no Kafka import), a Consumer that
// replays one topic from the first offset and then follows it, a Producer
// whose Publish never blocks. The embedded demo broker (kfake) lives in
// package embedbroker, which only commands and tests import; docs/events.md
// is the spec of every topic.
//
// One decoder per topic: NewRecordConsumer decodes and checks each record
// once (Schema Registry framing stripped; a missing occurred_at taken from
// the record's timestamp; times beyond max_future_skew rejected) and hands
// the typed value to each handler. Bad records are skipped, counted in
// callbid_events_bad_total{topic,reason} and logged, rate-limited, with
// their partition, offset and reason.
//
// All Kafka access goes through segmentio/kafka-go (kafka.Client for
// metadata, list offsets and fetch; kafka.Writer for produce); franz-go is
// used only for kfake. kafka-go speaks to kfake without special settings:
// metadata, produce, fetch and list offsets negotiate their versions through
// ApiVersions (checked by the tests over real TCP).
//
// Consumers use no consumer group and commit no offsets: every callbid
// instance needs the whole state, so each reads every partition from
// kafka.FirstOffset, records the end offsets at start and reports CaughtUp
// once it has handled everything up to them.
//
// Goroutines: a Consumer's Run runs the handler on its own goroutine and
// starts one fetcher goroutine per partition; a Producer runs one writer
// goroutine between NewProducer and Close. Everything else is safe to call from any goroutine.
package events
