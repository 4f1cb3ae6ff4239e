package status

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// Paths the page answers on the admin listener (httpapi serves them).
const (
	PathPage = "/"
	PathJSON = "/status.json"
)

// Render writes the page as HTML to w: the whole page, or with live only
// the part the page's script swaps in every few seconds (GET /?part=live).
// The JSON form is Snapshot.
func (p *Page) Render(w io.Writer, live bool) error {
	name := "page"
	if live {
		name = "live"
	}
	return pageTmpl.ExecuteTemplate(w, name, view{p.Snapshot()})
}

type view struct{ Snapshot }

// Charts renders the history as one small SVG per chart.
func (v view) Charts() []template.HTML {
	var out []template.HTML
	for _, c := range charts {
		var ss []*Series
		for _, s := range v.History.Series {
			if s.Chart == c.key {
				ss = append(ss, s)
			}
		}
		out = append(out, svgChart(c.key, c.title, c.unit, v.Now, v.History.Times, ss))
	}
	return out
}

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"}

// svgChart draws the last hour: x from now−1h to now, y from 0 to the
// largest value (at least 1), one polyline per series, broken at gaps.
func svgChart(key, title, unit string, now time.Time, times []int64, ss []*Series) template.HTML {
	const w, h, left, top, bottom = 360.0, 120.0, 34.0, 8.0, 16.0
	right := 8.0
	ymax := 1.0
	for _, s := range ss {
		for _, v := range s.Values {
			if v != nil && *v > ymax {
				ymax = *v
			}
		}
	}
	ymax = niceCeil(ymax)
	t0 := float64(now.Add(-HistoryLength).Unix())
	span := HistoryLength.Seconds()
	x := func(t int64) float64 { return left + (float64(t)-t0)/span*(w-left-right) }
	y := func(v float64) float64 { return top + (1-v/ymax)*(h-top-bottom) }
	var b strings.Builder
	esc := template.HTMLEscapeString
	fmt.Fprintf(&b, `<figure class="chart" data-chart="%s"><figcaption>%s <small>(%s, last hour)</small></figcaption>`, esc(key), esc(title), esc(unit))
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s">`, w, h, w, h, esc(title))
	fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#fafafa" stroke="#ccc"/>`, left, top, w-left-right, h-top-bottom)
	for _, f := range []float64{0, 0.5, 1} {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="9" text-anchor="end" fill="#666">%s</text>`, left-3, y(f*ymax)+3, esc(short(f*ymax)))
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="9" fill="#666">−60 min</text>`, left, h-4)
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="9" text-anchor="end" fill="#666">now</text>`, w-right, h-4)
	for i, s := range ss {
		color := palette[i%len(palette)]
		var pts []string
		flush := func() {
			if len(pts) == 1 { // a lone point still shows
				pts = append(pts, pts[0])
			}
			if len(pts) > 0 {
				fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`, color, strings.Join(pts, " "))
			}
			pts = pts[:0]
		}
		for j, v := range s.Values {
			if v == nil {
				flush()
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(times[j]), y(*v)))
		}
		flush()
	}
	b.WriteString(`</svg><div class="legend">`)
	for i, s := range ss {
		last := "–"
		for j := len(s.Values) - 1; j >= 0; j-- {
			if s.Values[j] != nil {
				last = short(*s.Values[j])
				break
			}
		}
		fmt.Fprintf(&b, `<span><i style="background:%s"></i>%s <b data-series="%s">%s</b></span>`, palette[i%len(palette)], esc(s.Name), esc(s.Name), esc(last))
	}
	if len(ss) == 0 {
		b.WriteString(`<span>no samples yet</span>`)
	}
	b.WriteString(`</div></figure>`)
	return template.HTML(b.String())
}

// niceCeil rounds up to 1, 2 or 5 × a power of ten.
func niceCeil(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func short(v float64) string {
	switch {
	case v == math.Trunc(v) && math.Abs(v) < 1e6:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case math.Abs(v) >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case math.Abs(v) >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

var funcs = template.FuncMap{
	"f1":  func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
	"f2":  func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) },
	"pct": func(v float64) string { return strconv.FormatFloat(100*v, 'f', 1, 64) + "%" },
	"opt": func(v *float64) string {
		if v == nil {
			return "–"
		}
		return strconv.FormatFloat(*v, 'f', 2, 64)
	},
	"optpct": func(v *float64) string {
		if v == nil {
			return "–"
		}
		return strconv.FormatFloat(100**v, 'f', 1, 64) + "%"
	},
	"age": func(v *float64) string {
		if v == nil {
			return "never"
		}
		return (time.Duration(*v * float64(time.Second))).Round(100*time.Millisecond).String() + " ago"
	},
	"dur": func(sec float64) string { return time.Duration(sec * float64(time.Second)).Round(time.Second).String() },
	"utc": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
}

var pageTmpl = template.Must(template.New("status").Funcs(funcs).Parse(pageHTML))

const pageHTML = `{{define "page"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>callbid status</title>
<style>
body{font:13px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#222;background:#fff}
header{display:flex;gap:1em;align-items:baseline;padding:.6em 1em;background:#f2f2f2;border-bottom:1px solid #ddd;flex-wrap:wrap}
h1{font-size:16px;margin:0}h2{font-size:14px;margin:1.2em 0 .4em}
main{padding:0 1em 1em}
table{border-collapse:collapse;min-width:40%}th,td{padding:2px 8px;border-bottom:1px solid #eee;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}th{background:#fafafa;font-weight:600}
.badge{padding:1px 8px;border-radius:3px;font-weight:700;color:#fff}.ok{background:#2a7}.bad{background:#c33}
.warn{color:#a60}.err{color:#c33}.muted{color:#777}
ul{margin:.2em 0;padding-left:1.4em}
.charts{display:flex;flex-wrap:wrap;gap:1em}.chart{margin:0}.chart figcaption{font-weight:600}
.legend span{margin-right:.8em;font-size:11px}.legend i{display:inline-block;width:9px;height:9px;margin-right:3px}
tr.hot td{background:#fff3f0}
</style></head>
<body>
<header><h1>callbid status</h1><span class="muted">version {{.Version}}</span>
<span id="conn" class="muted">live: refreshes every 3 s</span></header>
<main id="live">{{template "live" .}}</main>
<script>
(function(){
  var live=document.getElementById('live'), conn=document.getElementById('conn');
  function tick(){
    fetch('/?part=live',{cache:'no-store'}).then(function(r){
      if(!r.ok) throw new Error('HTTP '+r.status);
      return r.text();
    }).then(function(t){
      live.innerHTML=t; conn.textContent='live: updated '+new Date().toLocaleTimeString(); conn.className='muted';
    }).catch(function(e){
      conn.textContent='not updating: '+e.message+' (admin listener unreachable?)'; conn.className='err';
    }).then(function(){ setTimeout(tick,3000); });
  }
  setTimeout(tick,3000);
})();
</script>
</body></html>{{end}}
{{define "live"}}<div id="snapshot" data-now="{{.Now.UnixMilli}}">
<p>{{if .Ready}}<span class="badge ok" id="ready">READY</span>{{else}}<span class="badge bad" id="ready">NOT READY</span>{{end}}
 <span class="muted">as of {{utc .Now}} · up {{dur .UptimeSeconds}}</span></p>
{{if .NotReady}}<h2>Not ready because</h2><ul id="not-ready">{{range .NotReady}}<li class="err">{{.}}</li>{{end}}</ul>{{end}}
<h2>Feed health</h2>
{{if .Warnings}}<ul id="warnings">{{range .Warnings}}<li class="warn">{{.}}</li>{{end}}</ul>
{{else}}<p id="warnings" class="muted">no warnings: capacity fresh, feedback flowing, pools within target</p>{{end}}
{{if .CapacityStale}}<p class="err" id="capacity-stale">Capacity feed STALE: every capacity campaign answers no-bid (nbr 501) until agent-state events arrive. callbid stays ready: these answers are correct.</p>{{end}}

<h2>Skills</h2>
<table id="skills"><tr><th>skill</th><th>staffed</th><th>available</th><th>busy+acw</th><th>waiting</th><th>λ_max /min</th><th>arrivals /min</th><th>headroom /min</th><th>factor</th><th>bought in flight /min</th><th>bought arriving /min</th><th>pacing</th>{{/* participation and calls in flight come through Sources.SkillExtra */}}<th>more</th></tr>
{{range .Skills}}<tr data-skill="{{.Skill}}"><td>{{.Skill}}</td><td data-k="staffed">{{.Staffed}}</td><td data-k="available">{{.Available}}</td><td data-k="busy">{{.Busy}}</td><td data-k="waiting">{{.Waiting}}</td><td data-k="lambda_max">{{f2 .LambdaMax}}</td><td>{{f2 .Arrival}}</td><td data-k="headroom">{{f2 .Headroom}}</td><td>{{f2 .Factor}}</td><td>{{f2 .Committed}}</td><td>{{f2 .Arriving}}</td><td>{{f2 .Pacing}}{{if .PacingStopped}} <span class="err">stop</span>{{end}}</td><td>{{range .Extra}}{{.Name}} {{f2 .Value}} {{else}}<span class="muted">–</span>{{end}}</td></tr>
{{else}}<tr><td colspan="13" class="muted">no skill seen yet</td></tr>{{end}}</table>

<h2>Tracking-number pools</h2>
<table id="pools"><tr><th>pool</th><th>size</th><th>utilization</th><th>target</th><th>exhaustion no-bids</th><th>needed size</th><th>needed (observed)</th></tr>
{{range .Pools}}<tr data-pool="{{.ID}}"{{if .AboveTarget}} class="hot"{{end}}><td>{{.ID}}</td><td>{{.Size}}</td><td data-k="utilization">{{pct .Utilization}}</td><td>{{pct .Target}}</td><td data-k="exhaustion_nobids">{{.ExhaustionNoBids}}</td><td data-k="needed_size">{{.NeededSize}}</td><td>{{.NeededSizeObserved}}</td></tr>
{{end}}</table>

<h2>Campaigns today</h2>
<table id="campaigns"><tr><th>campaign</th><th>skill</th><th>spend</th><th>budget</th><th>used</th><th>bids</th><th>wins</th><th>calls</th><th>qualified</th><th>sales</th><th>cost/call</th><th>CPA</th></tr>
{{range .Campaigns}}<tr data-campaign="{{.ID}}"><td>{{.ID}}</td><td>{{.Skill}}</td><td data-k="spend">{{f2 .Spend}} {{.Currency}}</td><td>{{if gt .Budget 0.0}}{{f2 .Budget}}{{else}}unlimited{{end}}</td><td>{{optpct .BudgetUsed}}</td><td data-k="bids">{{.Bids}}</td><td data-k="wins">{{.Wins}}</td><td data-k="calls">{{.Calls}}</td><td>{{.Qualified}}</td><td>{{.Sales}}</td><td>{{opt .CostPerCall}}</td><td data-k="cpa">{{opt .CPA}}</td></tr>
{{end}}</table>
<p class="muted">Spend is won impressions at their clearing price since midnight (server.time_zone), from the report; budgets are enforced on billing notices.</p>

<h2>Feeds</h2>
<table id="feeds"><tr><th>topic</th><th>last record</th><th>lag (records)</th><th>replayed</th></tr>
{{range .Feeds}}<tr data-feed="{{.Topic}}"><td>{{.Topic}}</td><td data-k="age">{{age .AgeSeconds}}</td><td data-k="lag">{{if lt .Lag 0}}unknown{{else}}{{.Lag}}{{end}}</td><td>{{if .CaughtUp}}yes{{else}}<span class="warn">replaying</span>{{end}}</td></tr>
{{end}}</table>

<h2>Last hour</h2>
<div class="charts">{{range .Charts}}{{.}}{{end}}</div>
</div>{{end}}`
