package kafkaio

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedLog) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// Records dropped on a full queue are logged at warn from the producer's own
// goroutine, with how many since the last look.
func TestQueueFullDropsAreLogged(t *testing.T) {
	var out lockedLog
	p := &Producer{log: zerolog.New(&out), closing: make(chan struct{})}
	p.droppedFull.Add(7)
	done := make(chan struct{})
	go func() { p.warnDrops(time.Millisecond); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), `"dropped":7`) {
		if time.Now().After(deadline) {
			t.Fatalf("no warning about 7 dropped records: %q", out.String())
		}
		time.Sleep(time.Millisecond)
	}
	close(p.closing)
	<-done
	if got := out.String(); strings.Count(got, "queue full") != 1 || !strings.Contains(got, `"level":"warn"`) {
		t.Fatalf("logged %q, want one warning", got)
	}
}
