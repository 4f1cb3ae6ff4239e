package httpapi

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"
	"time"
)

// TestRawWriteWaitsForTheReader: an answer larger than the socket buffers
// goes out whole through the raw write: a full buffer (EAGAIN) waits in the
// poller for the peer to read, and the bytes arrive in order.
func TestRawWriteWaitsForTheReader(t *testing.T) {
	c, sc := acceptedPair(t)
	if sc.rx == nil {
		t.Fatal("no raw reader on a Linux TCP connection")
	}
	want := make([]byte, 8<<20)
	for i := range want {
		want[i] = byte(i * 7)
	}
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(c, int64(len(want))))
		got <- b
	}()
	n, err := sc.Write(want)
	if err != nil || n != len(want) {
		t.Fatalf("write = %d, %v; want %d, nil", n, err, len(want))
	}
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("peer read %d bytes, not the %d written", len(b), len(want))
	}
}

// TestRawWriteTimesOut: a write the peer does not read fails at the
// deadline, as on a plain connection, and says how much went out.
func TestRawWriteTimesOut(t *testing.T) {
	_, sc := acceptedPair(t)
	big := make([]byte, 64<<20) // before the deadline: zeroing it takes ms
	if err := sc.SetWriteDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	n, err := sc.Write(big)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write to a peer that does not read: %v, want a timeout", err)
	}
	if n < 0 || n >= len(big) {
		t.Fatalf("wrote %d of %d bytes before the timeout", n, len(big))
	}
}

// TestRawWriteToAClosedPeer fails with an error, not a signal or a hang.
func TestRawWriteToAClosedPeer(t *testing.T) {
	c, sc := acceptedPair(t)
	c.Close()
	var err error
	for i := 0; i < 100 && err == nil; i++ { // the first writes may land before the reset
		_, err = sc.Write(make([]byte, 64<<10))
	}
	if err == nil {
		t.Fatal("writes to a closed peer kept succeeding")
	}
}
