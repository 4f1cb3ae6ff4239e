package capacity

import (
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// mustNew is New for tests whose config is valid by construction.
func mustNew(tb testing.TB, cfg Config, skills []string) *Model {
	tb.Helper()
	m, err := New(cfg, skills, zerolog.Nop())
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// New refuses an invalid config with the field's path, as every package's
// New does, instead of running on it.
func TestNewRefusesInvalidConfig(t *testing.T) {
	_, err := New(Config{MaxOccupancy: 2}, []string{"mortgage"}, zerolog.Nop())
	if err == nil || !strings.Contains(err.Error(), "max_occupancy") {
		t.Fatalf("New with max_occupancy 2: %v, want an error naming max_occupancy", err)
	}
}
