package embedbroker_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/callbid/callbid/embedbroker"
	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/kafkaio"
	"github.com/rs/zerolog"
)

// TestStartSeedsTopics: the demo broker has every topic, the state topics
// compacted, so callbid's start-up check passes against it as is.
func TestStartSeedsTopics(t *testing.T) {
	b, err := embedbroker.Start(kafkaio.EmbeddedConfig{Partitions: 2}, events.AllTopics, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !strings.HasPrefix(b.Addr(), "127.0.0.1:") {
		t.Errorf("Addr %q is not on loopback", b.Addr())
	}
	var cfg kafkaio.Config
	cfg.UseEmbedded(b)
	var logs bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := kafkaio.CheckTopics(ctx, cfg, events.AllTopics, zerolog.New(&logs)); err != nil {
		t.Fatalf("CheckTopics against the embedded broker: %v", err)
	}
	if strings.Contains(logs.String(), "should be compacted") {
		t.Errorf("a state topic is not compacted: %s", logs.String())
	}
}

func TestStartRefusesBadConfig(t *testing.T) {
	_, err := embedbroker.Start(kafkaio.EmbeddedConfig{Listen: "10.1.2.3:9092"}, nil, zerolog.Nop())
	if err == nil || !strings.Contains(err.Error(), "embedded.listen") {
		t.Fatalf("Start on a non-loopback address: %v, want an error naming embedded.listen", err)
	}
}
