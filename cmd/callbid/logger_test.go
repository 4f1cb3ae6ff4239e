package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/callbid/callbid"
)

func TestLogFormats(t *testing.T) {
	for _, tc := range []struct {
		format string
		want   []string
	}{
		{"", []string{`{"level":"info","service":"callbid","pool":"p1"`, `"message":"pool exhausted"}`}},
		{"console", []string{"INF", "pool exhausted", "pool=p1", "service=callbid"}},
	} {
		f, err := os.Create(filepath.Join(t.TempDir(), "log"))
		if err != nil {
			t.Fatal(err)
		}
		log := newLogger(callbid.LogConfig{Format: tc.format}, f)
		log.Info().Str("pool", "p1").Msg("pool exhausted")
		log.Debug().Msg("hidden at the default level")
		f.Close()
		b, _ := os.ReadFile(f.Name())
		out := string(b)
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("format %q: %q lacks %q", tc.format, out, w)
			}
		}
		// A file is not a terminal: no colour escapes in it.
		if strings.Contains(out, "\x1b[") || strings.Contains(out, "hidden") {
			t.Errorf("format %q: %q", tc.format, out)
		}
	}
}
