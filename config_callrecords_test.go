package callbid

import (
	"strings"
	"testing"
	"time"
)

// TestCallRecordsOldKeys: the keys that bounded call records before the
// call_records section keep working, mapped onto it with a deprecation
// note; the new keys win; errors name call_records' field paths.
func TestCallRecordsOldKeys(t *testing.T) {
	cfg, err := Parse([]byte(`
numbers:
  max_calls: 20000
  call_ttl: 1h
feedback:
  max_calls: 50000
  call_retention: 72h
`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CallRecords.MaxRecords != 50_000 || cfg.CallRecords.Retention != 72*time.Hour {
		t.Fatalf("old keys not mapped: %+v", cfg.CallRecords)
	}
	notes := strings.Join(cfg.Warnings, "\n")
	for _, k := range []string{"numbers.max_calls", "feedback.max_calls", "feedback.call_retention", "numbers.call_ttl"} {
		if !strings.Contains(notes, "deprecated: "+k+" is replaced by call_records.") {
			t.Errorf("no deprecation note for %s in %q", k, notes)
		}
	}

	cfg, err = Parse([]byte(`
call_records: {retention: 24h, max_records: 1000}
feedback: {call_retention: 72h, max_calls: 5000}
`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CallRecords.MaxRecords != 1000 || cfg.CallRecords.Retention != 24*time.Hour {
		t.Fatalf("new keys did not win: %+v", cfg.CallRecords)
	}

	cfg, err = Parse([]byte(`call_records: {retention: -1h, max_records: -5}`))
	if err != nil {
		t.Fatal(err)
	}
	err = cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "call_records.retention: ") || !strings.Contains(err.Error(), "call_records.max_records: ") {
		t.Fatalf("errors do not name the field paths: %v", err)
	}

	cfg, err = Parse(DefaultYAML)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings) > 0 {
		t.Errorf("the default config uses deprecated keys: %q", cfg.Warnings)
	}
}
