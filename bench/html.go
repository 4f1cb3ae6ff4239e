package bench

import (
	"fmt"
	"html"
	"io"
	"math"
	"sort"
	"strings"
)

type chartSeries struct {
	name, color string
	x, y        []float64
}

type axis struct {
	label    string
	log      bool
	ticks    []float64
	tickName func(float64) string
}

// WriteHTML writes a self-contained page (inline SVG, no scripts or CDN):
// latency over time, throughput over time, the latency distribution, and
// find-max and pool utilization when they ran.
func (r *Report) WriteHTML(w io.Writer) error {
	var b strings.Builder
	b.WriteString(`<!doctype html><html><head><meta charset="utf-8"><title>callbid-bench report</title><style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1000px}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
pre{background:#f6f6f6;padding:12px;overflow-x:auto;font-size:12px}
svg{background:#fff;border:1px solid #ddd;margin:8px 0}
.k{color:#666}
</style></head><body>`)
	fmt.Fprintf(&b, "<h1>callbid-bench %s — %s</h1>", html.EscapeString(r.Mode), html.EscapeString(r.Config.Target))
	var txt strings.Builder
	_ = r.WriteText(&txt)
	fmt.Fprintf(&b, "<pre>%s</pre>", html.EscapeString(txt.String()))

	points := r.allPoints()
	if len(points) > 0 {
		var t, p50, p90, p99, sp99, mx, sent, resp, target []float64
		for _, p := range points {
			t = append(t, p.T)
			p50 = append(p50, p.P50)
			p90 = append(p90, p.P90)
			p99 = append(p99, p.P99)
			sp99 = append(sp99, p.ServiceP99)
			mx = append(mx, p.Max)
			sent = append(sent, float64(p.Sent))
			resp = append(resp, float64(p.Responses))
			target = append(target, p.Target)
		}
		b.WriteString("<h2>Latency over time (from scheduled send time, per second, and the p99 of the service time from the actual send; warm-up shaded)</h2>")
		b.WriteString(lineChart(points, axis{label: "seconds"}, axis{label: "ms", log: true}, []chartSeries{
			{"p50", "#1f77b4", t, p50}, {"p90", "#2ca02c", t, p90}, {"p99", "#d62728", t, p99},
			{"service p99", "#9467bd", t, sp99}, {"max", "#999", t, mx}}))
		b.WriteString("<h2>Throughput over time (requests per second)</h2>")
		b.WriteString(lineChart(points, axis{label: "seconds"}, axis{label: "req/s"}, []chartSeries{
			{"target", "#999", t, target}, {"sent", "#1f77b4", t, sent}, {"answered", "#2ca02c", t, resp}}))
		b.WriteString("<h2>Answers over time (per second): bids, no-bids by reason, errors, timeouts</h2>")
		b.WriteString(lineChart(points, axis{label: "seconds"}, axis{label: "per second"}, outcomeSeries(points)))
	}
	var dists []chartSeries
	colors := []string{"#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"}
	addDist := func(name string, res *Result) {
		if res == nil || len(res.Distribution) == 0 {
			return
		}
		var x, y []float64
		for _, q := range res.Distribution {
			if q.Percentile >= 100 {
				continue
			}
			x = append(x, -math.Log10(1-q.Percentile/100))
			y = append(y, q.Ms)
		}
		dists = append(dists, chartSeries{name, colors[len(dists)%len(colors)], x, y})
	}
	addDist("run", r.Result)
	addDist("at 50% of max", r.AtHalf)
	if n := len(r.Steps); n > 0 {
		lastPass := -1
		for i, s := range r.Steps {
			if s.Passed {
				lastPass = i
			}
		}
		if lastPass >= 0 {
			addDist(fmt.Sprintf("max passing step %.0f/s", r.Steps[lastPass].Rate), r.Steps[lastPass].Result)
		}
		if !r.Steps[n-1].Passed {
			addDist(fmt.Sprintf("failing step %.0f/s", r.Steps[n-1].Rate), r.Steps[n-1].Result)
		}
	}
	if len(dists) > 0 {
		b.WriteString("<h2>Latency distribution (percentile spectrum)</h2>")
		pct := []string{"0%", "90%", "99%", "99.9%", "99.99%", "99.999%"}
		b.WriteString(lineChart(nil, axis{label: "percentile", ticks: []float64{0, 1, 2, 3, 4, 5},
			tickName: func(v float64) string { return pct[int(v)] }}, axis{label: "ms", log: true}, dists))
	}
	if len(r.Steps) > 0 {
		var x, p99, p50, ach []float64
		for _, s := range r.Steps {
			x = append(x, s.Rate)
			p99 = append(p99, s.Result.Latency.P99)
			p50 = append(p50, s.Result.Latency.P50)
			ach = append(ach, s.Result.AchievedRate)
		}
		lat := []chartSeries{{"p50", "#1f77b4", x, p50}, {"p99", "#d62728", x, p99}}
		thr := []chartSeries{{"target", "#999", x, x}, {"achieved", "#2ca02c", x, ach}}
		if r.Ceiling != nil {
			var cx, cp99, cach []float64
			for _, s := range r.Ceiling.Steps {
				cx = append(cx, s.Rate)
				cp99 = append(cp99, s.Result.Latency.P99)
				cach = append(cach, s.Result.AchievedRate)
			}
			lat = append(lat, chartSeries{"ceiling p99", "#ff7f0e", cx, cp99})
			thr = append(thr, chartSeries{"ceiling achieved", "#ff7f0e", cx, cach})
		}
		b.WriteString("<h2>Find-max: latency by target rate</h2>")
		b.WriteString(lineChart(nil, axis{label: "target req/s"}, axis{label: "ms", log: true}, lat))
		b.WriteString("<h2>Find-max: achieved rate by target rate</h2>")
		b.WriteString(lineChart(nil, axis{label: "target req/s"}, axis{label: "achieved req/s"}, thr))
	}
	if r.Admin != nil && len(r.Admin.Series) > 0 {
		var x, y []float64
		for _, p := range r.Admin.Series {
			x = append(x, p.T)
			y = append(y, p.Utilization)
		}
		b.WriteString("<h2>Number pool utilization (highest pool, from /admin/pools)</h2>")
		b.WriteString(lineChart(nil, axis{label: "seconds"}, axis{label: "utilization"}, []chartSeries{{"utilization", "#9467bd", x, y}}))
	}
	b.WriteString(`<p class="k">Generated by callbid-bench. Latency is measured from each request's scheduled send time (open loop, no coordinated omission).</p></body></html>`)
	_, err := io.WriteString(w, b.String())
	return err
}

// outcomeSeries splits each second's answers: responses with bids, no-bids
// per reason (nbr code or bare 204), transport errors and timeouts.
func outcomeSeries(points []Point) []chartSeries {
	var t, bids, errs, tmo []float64
	reasons := map[string]bool{}
	for _, p := range points {
		t = append(t, p.T)
		bids = append(bids, float64(p.Bids))
		errs = append(errs, float64(p.Errors))
		tmo = append(tmo, float64(p.Timeouts))
		for k := range p.NoBidReasons {
			reasons[k] = true
		}
	}
	keys := make([]string, 0, len(reasons))
	for k := range reasons {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := []chartSeries{{"bids", "#2ca02c", t, bids}}
	colors := []string{"#1f77b4", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#aec7e8"}
	for i, k := range keys {
		y := make([]float64, len(points))
		for j, p := range points {
			y[j] = float64(p.NoBidReasons[k])
		}
		// The legend has room for the code only ("nbr=500", "204").
		name, _, _ := strings.Cut(k, " ")
		out = append(out, chartSeries{"no-bid " + name, colors[i%len(colors)], t, y})
	}
	return append(out, chartSeries{"errors", "#d62728", t, errs}, chartSeries{"timeouts", "#ff7f0e", t, tmo})
}

func (r *Report) allPoints() []Point {
	var out []Point
	for _, s := range r.Steps {
		out = append(out, s.Result.Series...)
	}
	if r.Ceiling != nil {
		for _, s := range r.Ceiling.Steps {
			out = append(out, s.Result.Series...)
		}
	}
	if r.Result != nil {
		out = append(out, r.Result.Series...)
	}
	if r.AtHalf != nil {
		out = append(out, r.AtHalf.Series...)
	}
	// Phases ran in another order than listed (the 50% run before the
	// ceiling search): draw them in time order.
	sort.SliceStable(out, func(i, j int) bool { return out[i].T < out[j].T })
	return out
}

const (
	chartW, chartH         = 900, 320
	padL, padR, padT, padB = 70, 150, 16, 44
	plotW, plotH           = chartW - padL - padR, chartH - padT - padB
)

// lineChart draws series as polylines. A log axis drops values <= 0.
func lineChart(shade []Point, xa, ya axis, series []chartSeries) string {
	xmin, xmax := math.Inf(1), math.Inf(-1)
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for _, s := range series {
		for i := range s.x {
			if ya.log && s.y[i] <= 0 {
				continue
			}
			xmin, xmax = math.Min(xmin, s.x[i]), math.Max(xmax, s.x[i])
			ymin, ymax = math.Min(ymin, s.y[i]), math.Max(ymax, s.y[i])
		}
	}
	if math.IsInf(xmin, 0) {
		return "<p>(no data)</p>"
	}
	if !ya.log {
		ymin = math.Min(ymin, 0)
	}
	if xmax == xmin {
		xmax = xmin + 1
	}
	fy := func(v float64) float64 { return v }
	if ya.log {
		fy = math.Log10
		ymin = math.Pow(10, math.Floor(math.Log10(ymin)))
		ymax = math.Pow(10, math.Ceil(math.Log10(ymax)))
	}
	if ymax <= ymin {
		ymax = ymin + 1
	}
	if !ya.log {
		ymax *= 1.05
	}
	X := func(v float64) float64 { return padL + (v-xmin)/(xmax-xmin)*plotW }
	Y := func(v float64) float64 { return padT + plotH - (fy(v)-fy(ymin))/(fy(ymax)-fy(ymin))*plotH }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-size="11">`, chartW, chartH, chartW, chartH)
	// warm-up shading
	for i := 0; i < len(shade); i++ {
		if !shade[i].Warmup {
			continue
		}
		x0 := shade[i].T - 1
		if i > 0 {
			x0 = shade[i-1].T
		}
		x0 = math.Max(x0, xmin)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="#f2f2f2"/>`, X(x0), padT, math.Max(X(shade[i].T)-X(x0), 0), plotH)
	}
	// y grid and ticks
	var yt []float64
	if ya.log {
		for v := ymin; v <= ymax*1.0001; v *= 10 {
			yt = append(yt, v)
		}
	} else {
		step := niceStep((ymax - ymin) / 5)
		for v := math.Ceil(ymin/step) * step; v <= ymax; v += step {
			yt = append(yt, v)
		}
	}
	for _, v := range yt {
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#e5e5e5"/><text x="%d" y="%.1f" text-anchor="end">%s</text>`,
			padL, padL+plotW, Y(v), Y(v), padL-6, Y(v)+4, fmtNum(v))
	}
	xt := xa.ticks
	if xt == nil {
		step := niceStep((xmax - xmin) / 8)
		for v := math.Ceil(xmin/step) * step; v <= xmax; v += step {
			xt = append(xt, v)
		}
	}
	for _, v := range xt {
		name := fmtNum(v)
		if xa.tickName != nil {
			name = xa.tickName(v)
		}
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#e5e5e5"/><text x="%.1f" y="%d" text-anchor="middle">%s</text>`,
			X(v), X(v), padT, padT+plotH, X(v), padT+plotH+16, html.EscapeString(name))
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#888"/>`, padL, padT, plotW, plotH)
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`, padL+plotW/2, chartH-6, html.EscapeString(xa.label))
	fmt.Fprintf(&b, `<text x="14" y="%d" transform="rotate(-90 14 %d)" text-anchor="middle">%s</text>`, padT+plotH/2, padT+plotH/2, html.EscapeString(ya.label))
	for i, s := range series {
		var pts strings.Builder
		for j := range s.x {
			if ya.log && s.y[j] <= 0 {
				continue
			}
			fmt.Fprintf(&pts, "%.1f,%.1f ", X(s.x[j]), Y(s.y[j]))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.6" points="%s"/>`, s.color, pts.String())
		ly := padT + 14 + 18*i
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="3"/><text x="%d" y="%d">%s</text>`,
			padL+plotW+12, padL+plotW+32, ly-4, ly-4, s.color, padL+plotW+38, ly, html.EscapeString(s.name))
	}
	b.WriteString("</svg>")
	return b.String()
}

func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func fmtNum(v float64) string {
	switch {
	case v == 0:
		return "0"
	case math.Abs(v) >= 1000:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 1:
		return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
	case math.Abs(v) >= 0.0001:
		return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.4f", v), "0"), ".")
	default:
		return fmt.Sprintf("%.2g", v)
	}
}
