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

// BenchmarkAnswerWrite: a 1.5 KB answer (the size of a bid) written on an
// accepted connection and read by the peer, through the raw write (what
// callbid does) and through net.Conn (what it did before session 8). A
// ping-pong in one process: both take ≈ 7–9 µs of wall time here (the round
// trip), 0 allocations. What the raw write saves, the monitor thread's
// wake-ups on an idling core, shows only at a fixed rate (README,
// "Go's monitor thread and the tail").
func BenchmarkAnswerWrite(b *testing.B) {
	for _, raw := range []bool{true, false} {
		name := "net.Conn"
		if raw {
			name = "raw"
		}
		b.Run(name, func(b *testing.B) {
			c, sc := acceptedPair(b)
			msg, buf := make([]byte, 1536), make([]byte, 1536)
			b.ReportAllocs()
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				var err error
				if raw {
					_, err = sc.rx.write(msg)
				} else {
					_, err = sc.Conn.Write(msg)
				}
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
