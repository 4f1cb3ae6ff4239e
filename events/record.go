package events

// Inbound is a record type a consumer can decode: *AgentState, *Call,
// *Outcome, *Impression, *Attribution, *Lease, *Tally, *Demand. Its methods
// are unexported, so only this package's record types satisfy it.
type Inbound[T any] interface {
	*T
	decode(d *decoder, b []byte, l Limits) error
	topic() string
}

// Decoder decodes one topic's records as T, reusing its parser and its
// value. It is for one goroutine.
type Decoder[T any, P Inbound[T]] struct {
	d  decoder
	ev P
}

// NewDecoder returns a decoder of record type T.
func NewDecoder[T any, P Inbound[T]]() *Decoder[T, P] {
	return &Decoder[T, P]{ev: P(new(T))}
}

// Topic is the topic T is read from.
func (d *Decoder[T, P]) Topic() string { return d.ev.topic() }

// Decode parses and checks one value (Schema Registry framing stripped, the
// times checked against l). The returned value is the decoder's own, valid
// until the next Decode: callers copy what must outlive it (strings may be
// kept; slices may not).
func (d *Decoder[T, P]) Decode(b []byte, l Limits) (*T, error) {
	err := d.ev.decode(&d.d, b, l)
	return (*T)(d.ev), err
}

// TopicOf is the topic record type T is read from.
func TopicOf[T any, P Inbound[T]]() string { return P(nil).topic() }
