package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/valyala/fasthttp"
)

// AdminReport is what GET /admin/pools said during the run. The bench does
// not know the bidder's exact schema: it sums every numeric field by its name
// across the pools (fields named like "utilization" take the maximum), keeps
// the peak of each sum and the last answer as it came.
type AdminReport struct {
	URL       string             `json:"url"`
	Polls     int64              `json:"polls"`
	Errors    int64              `json:"errors"`
	LastError string             `json:"last_error,omitempty"`
	Last      json.RawMessage    `json:"last,omitempty"`
	Totals    map[string]float64 `json:"totals"`
	Peak      map[string]float64 `json:"peak"`
	Series    []AdminPoint       `json:"series"`
}

// AdminPoint is one poll, for the utilization chart.
type AdminPoint struct {
	T           float64 `json:"t"`
	Utilization float64 `json:"utilization"`
}

func pollAdmin(ctx context.Context, base string, every time.Duration, runStart time.Time) *AdminReport {
	r := &AdminReport{URL: strings.TrimRight(base, "/") + "/admin/pools", Totals: map[string]float64{}, Peak: map[string]float64{}}
	tk := time.NewTicker(every)
	defer tk.Stop()
	for {
		r.poll(runStart)
		select {
		case <-ctx.Done():
			return r
		case <-tk.C:
		}
	}
}

func (r *AdminReport) poll(runStart time.Time) {
	r.Polls++
	code, body, err := fasthttp.GetTimeout(nil, r.URL, time.Second)
	if err == nil && code != 200 {
		err = fmt.Errorf("status %d", code)
	}
	var doc any
	if err == nil {
		err = json.Unmarshal(body, &doc)
	}
	if err != nil {
		r.Errors++
		r.LastError = err.Error()
		return
	}
	r.Last = json.RawMessage(body)
	sums := map[string]float64{}
	if m, ok := doc.(map[string]any); ok {
		if pools, ok := m["pools"].([]any); ok {
			doc = pools // per-pool figures only: top-level totals would count twice
		}
	}
	sumLeaves(doc, "", sums)
	r.Totals = sums
	util, ok := sums["utilization"]
	for k, v := range sums {
		r.Peak[k] = max(r.Peak[k], v)
		if !ok && strings.Contains(k, "utili") && !strings.Contains(k, "target") {
			util = max(util, v)
		}
	}
	r.Series = append(r.Series, AdminPoint{T: time.Since(runStart).Seconds(), Utilization: util})
}

func sumLeaves(v any, key string, sums map[string]float64) {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			sumLeaves(c, k, sums)
		}
	case []any:
		for _, c := range x {
			sumLeaves(c, key, sums)
		}
	case float64:
		if key == "" {
			return
		}
		if isLevel(key) {
			sums[key] = max(sums[key], x)
		} else {
			sums[key] += x
		}
	}
}

func (r *AdminReport) writeText(w io.Writer) {
	tw := w.(*tabwriter.Writer)
	fmt.Fprintf(tw, "\nnumber pools (%s)\t%d polls, %d failed%s\n", r.URL, r.Polls, r.Errors, errSuffix(r.LastError))
	keys := make([]string, 0, len(r.Totals))
	for k := range r.Totals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(tw, "  %s\tlast %s\tpeak %s\n", k, fmtNum(r.Totals[k]), fmtNum(r.Peak[k]))
	}
}

func errSuffix(s string) string {
	if s == "" {
		return ""
	}
	return " (last: " + s + ")"
}

// isLevel says a field is a level or setting, not a count: across pools it
// takes the maximum instead of the sum.
func isLevel(key string) bool {
	for _, w := range []string{"utili", "ratio", "percent", "_seconds", "target", "rate"} {
		if strings.Contains(key, w) {
			return true
		}
	}
	return false
}
