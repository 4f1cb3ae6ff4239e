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
