// Package events is the schema of every Kafka record callbid reads or
// writes: the topic names (topics.go), the record types with their enums and
// Check rules (schema.go for the contact center's topics and attribution,
// own.go for callbid's own lease, impression, tally and demand records),
// their decoders (decode.go: Schema Registry framing stripped, a missing
// occurred_at taken from the record's timestamp, times beyond the future
// skew rejected, every failure a *BadEvent with a reason label) and the
// append-style encoders of callbid's own records (encode.go). docs/events.md
// is the spec of every topic; docs/schemas/ holds a JSON Schema per record.
//
// It imports nothing from Kafka: package kafkaio moves the bytes (producer,
// consumers, cluster checks, security) and decodes each record once through
// a Decoder of this package before handing the typed value to the handlers.
//
// Goroutines: everything here is a plain value or a pure function, safe from
// any goroutine, except a Decoder, which reuses its parser and its value and
// is for one goroutine.
package events
