package kafkaio

import (
	"bytes"
	"testing"
)

// closeCounter is a record key or value that counts its Close calls.
type closeCounter struct {
	*bytes.Reader
	closed int
}

func (c *closeCounter) Close() error { c.closed++; return nil }

// A fetched key or value is closed once copied: kafka-go returns the
// response's pages to its pool only then (see appendBytes).
func TestAppendBytesClosesItsSource(t *testing.T) {
	src := &closeCounter{Reader: bytes.NewReader([]byte("value"))}
	got, err := appendBytes([]byte("key"), src)
	if err != nil || string(got) != "keyvalue" || src.closed != 1 {
		t.Fatalf("appendBytes: %q, %v, closed %d times", got, err, src.closed)
	}
	if got, err := appendBytes(got, nil); err != nil || string(got) != "keyvalue" {
		t.Fatalf("nil source: %q, %v", got, err)
	}
	skipped := &closeCounter{Reader: bytes.NewReader(nil)}
	closeBytes(nil, skipped)
	if skipped.closed != 1 {
		t.Fatalf("closeBytes closed %d times", skipped.closed)
	}
}
