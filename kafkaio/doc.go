// Package kafkaio moves callbid's records to and from Kafka: a Producer
// whose Publish never blocks (one lane per topic, so one topic's failure
// never holds another's records; a durable lane for the lease log that never
// drops and reports what Kafka acknowledged), a Consumer that replays one
// topic from the first offset and then follows it, the consumer group that
// shares the lease partitions (PoolGroup), the start-up checks and creation
// of topics (ClusterCheck, EnsureTopics), TLS and SASL (PLAIN, SCRAM, AWS MSK
// IAM), and the kafka: configuration with its CALLBID_KAFKA_* variables.
// The record schemas live in package events, which imports no Kafka code.
//
// One decoder per topic: NewRecordConsumer decodes and checks each record
// once (an events.Decoder) and hands the typed value to each handler. Bad
// records are skipped, counted in callbid_events_bad_total{topic,reason} and
// logged, rate-limited, with their partition, offset and reason.
//
// All Kafka access goes through segmentio/kafka-go (kafka.Client for
// metadata, list offsets and fetch; kafka.Writer for the droppable lanes'
// produce; the durable lane builds its own produce requests, one per
// partition leader for every partition of a batch, sent through the same
// kafka.Transport: produce.go); franz-go is
// used only for kfake in tests and in package embedbroker, which only
// commands import. kafka-go speaks to kfake without special settings:
// metadata, produce, fetch and list offsets negotiate their versions through
// ApiVersions (checked by the tests over real TCP).
//
// Consumers use no consumer group and commit no offsets: every callbid
// instance needs the whole state, so each reads every partition from
// kafka.FirstOffset, records the end offsets at start and reports CaughtUp
// once it has handled everything up to them. WaitHandled waits for the
// handler to have had a partition's records up to an offset (the dispatcher
// wakes its waiters; handled.go).
//
// Goroutines: a Consumer's Run runs the handler on its own goroutine and
// starts one fetcher goroutine per partition; a Producer runs one writer
// goroutine per topic lane between NewProducer and Close; a PoolGroup and a
// ClusterCheck run on the goroutine that calls Run. Everything else is safe
// to call from any goroutine.
package kafkaio

import "time"

// Message is one Kafka record handed to a consumer's handler. Key and Value
// are valid only during the handler call (their buffers are reused); copy
// what must outlive it.
type Message struct {
	Topic     string
	Partition int
	Offset    int64
	Key       []byte
	Value     []byte
	Time      time.Time
}
