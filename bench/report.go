package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latency is a distribution summary in milliseconds.
type Latency struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p99_9_ms"`
	Max   float64 `json:"max_ms"`
}

// Quantile is one point of the latency distribution (for the chart).
type Quantile struct {
	Percentile float64 `json:"percentile"`
	Ms         float64 `json:"ms"`
}

// Result is one constant-rate phase, measured part only.
type Result struct {
	Label        string  `json:"label,omitempty"`
	TargetRate   float64 `json:"target_rate"`
	AchievedRate float64 `json:"achieved_rate"` // requests actually sent per second
	Throughput   float64 `json:"throughput"`    // answers received per second
	Seconds      float64 `json:"seconds"`
	Scheduled    int64   `json:"scheduled"`
	Sent         int64   `json:"sent"`
	Responses    int64   `json:"responses"`
	Errors       int64   `json:"errors"`
	// Timeouts includes Expired: requests that waited in the bench's queue
	// past their deadline because every connection was busy.
	Timeouts     int64            `json:"timeouts"`
	Expired      int64            `json:"expired"`
	Status       map[string]int64 `json:"status"`
	BidResponses int64            `json:"bid_responses"`
	Bids         int64            `json:"bids"`
	NoBids       int64            `json:"no_bids"`
	BadBodies    int64            `json:"bad_bodies"`
	BidRate      float64          `json:"bid_rate"`
	MeanPrice    float64          `json:"mean_price_cpm"`
	// NoBidReasons counts nbr codes; "204" is a bare 204, "no-nbr" a 200
	// without bids or nbr.
	NoBidReasons map[string]int64 `json:"no_bid_reasons"`
	ErrorKinds   map[string]int64 `json:"error_kinds,omitempty"`
	// Latency is from the scheduled send time (what the exchange sees);
	// Service from the moment the request was written; SendLag is the gap
	// (queueing in the bench when every connection is busy, plus timer lag).
	Latency      Latency    `json:"latency"`
	Service      Latency    `json:"service"`
	SendLag      Latency    `json:"send_lag"`
	Distribution []Quantile `json:"distribution"`
	Series       []Point    `json:"series"`
	// BenchCPU is the CPU the bench used over the phase, in cores (from
	// getrusage); TargetCPU the target's (-target-pid), -1 when unknown. A
	// bench near its cores' limit is a bottleneck; the figures are then
	// the bench's, not the target's.
	BenchCPU  float64 `json:"bench_cpu_cores"`
	TargetCPU float64 `json:"target_cpu_cores"`
	// TargetCPUPerAnswer is the target's CPU per answer in µs (TargetCPU ÷
	// Throughput; 0 when unknown): on a shared machine it moves far less
	// than throughput when neighbours take the core.
	TargetCPUPerAnswer float64 `json:"target_cpu_us_per_answer,omitempty"`
	Interrupted        bool    `json:"interrupted,omitempty"`

	hist *hdrhistogram.Histogram // Latency's histogram, for the .hgrm export
}

// ErrorRate is the share of scheduled requests that failed or timed out.
func (r *Result) ErrorRate() float64 {
	if r.Scheduled == 0 {
		return 0
	}
	return float64(r.Errors+r.Timeouts) / float64(r.Scheduled)
}

// Step is one find-max step.
type Step struct {
	Rate   float64 `json:"rate"`
	Passed bool    `json:"passed"`
	Why    string  `json:"why,omitempty"`
	Result *Result `json:"result"`
}

// CeilingResult is the find-max search against the ceiling server.
type CeilingResult struct {
	URL     string  `json:"url"`
	MaxRate float64 `json:"max_sustained_rate"`
	Steps   []Step  `json:"steps"`
	// ShareOfCeiling is the target's max over the ceiling's max.
	ShareOfCeiling float64 `json:"share_of_ceiling"`
	// BenchHeadroom is the highest rate the bench generated and got answered
	// (against the ceiling) over the target's max: at least 2 means the bench
	// was not what limited the target.
	BenchHeadroom float64 `json:"bench_headroom"`
}

// Report is everything one invocation measured.
type Report struct {
	Mode        string         `json:"mode"`
	StartedAt   time.Time      `json:"started_at"`
	Config      Config         `json:"config"`
	Machine     Machine        `json:"machine"`
	Bodies      BodyStats      `json:"bodies"`
	Result      *Result        `json:"result,omitempty"`
	Steps       []Step         `json:"steps,omitempty"`
	MaxRate     float64        `json:"max_sustained_rate,omitempty"`
	AtHalf      *Result        `json:"at_half_max,omitempty"`
	Ceiling     *CeilingResult `json:"ceiling,omitempty"`
	ClosedLoop  *LoopReport    `json:"closed_loop,omitempty"`
	Admin       *AdminReport   `json:"admin,omitempty"`
	Interrupted bool           `json:"interrupted,omitempty"`
	// Failures are the limits (Config.Limits) a constant-rate run missed;
	// the command exits non-zero when there are any.
	Failures []string `json:"failures,omitempty"`
	// Hints point at a likely mistake in the set-up (only 204s came back…).
	Hints []string `json:"hints,omitempty"`
}

// BodyStats describes the request pool.
type BodyStats struct {
	Source string  `json:"source"` // "generator" or the corpus directory
	Count  int     `json:"count"`
	Gzip   int     `json:"gzip"`
	Mean   float64 `json:"mean_bytes"`
}

// Machine records where the numbers come from.
type Machine struct {
	GOMAXPROCS int    `json:"gomaxprocs"`
	NumCPU     int    `json:"num_cpu"`
	LoadAvg    string `json:"load_avg,omitempty"`
	GoVersion  string `json:"go_version"`
}

func summarize(h *hdrhistogram.Histogram) Latency {
	if h.TotalCount() == 0 {
		return Latency{}
	}
	return Latency{
		Count: h.TotalCount(), Mean: h.Mean() / 1000,
		P50: ms(h.ValueAtQuantile(50)), P90: ms(h.ValueAtQuantile(90)), P95: ms(h.ValueAtQuantile(95)), P99: ms(h.ValueAtQuantile(99)),
		P999: ms(h.ValueAtQuantile(99.9)), Max: ms(h.Max()),
	}
}

// distribution samples the percentile spectrum on a log scale of 1/(1-p),
// the usual HdrHistogram plot.
func distribution(h *hdrhistogram.Histogram) []Quantile {
	if h.TotalCount() == 0 {
		return nil
	}
	var out []Quantile
	for x := 0.0; x <= 5.0001; x += 0.05 { // 0% .. 99.999%
		p := 100 * (1 - math.Pow(10, -x))
		out = append(out, Quantile{Percentile: p, Ms: ms(h.ValueAtQuantile(p))})
	}
	out = append(out, Quantile{Percentile: 100, Ms: ms(h.Max())})
	return out
}

func buildResult(ph phase, measured int64, window time.Duration, t *tally, lat, svc, lag *hdrhistogram.Histogram, series []Point) *Result {
	r := &Result{
		Label: ph.label, TargetRate: ph.rate, Seconds: window.Seconds(), Scheduled: measured,
		Sent: t.sent, Responses: t.responses, Errors: t.errors, Timeouts: t.timeouts, Expired: t.expired,
		Status: t.statusMap(), BidResponses: t.bidResponses, Bids: t.bids, NoBids: t.noBids, BadBodies: t.badBodies,
		NoBidReasons: map[string]int64{}, ErrorKinds: t.errKinds,
		Latency: summarize(lat), Service: summarize(svc), SendLag: summarize(lag),
		Distribution: distribution(lat), Series: series, hist: lat,
	}
	if s := window.Seconds(); s > 0 {
		r.AchievedRate = float64(t.sent) / s
		r.Throughput = float64(t.responses) / s
	}
	if answered := t.bidResponses + t.noBids; answered > 0 {
		r.BidRate = float64(t.bidResponses) / float64(answered)
	}
	if t.bids > 0 {
		r.MeanPrice = t.priceSum / float64(t.bids)
	}
	for code, n := range t.nbr {
		r.NoBidReasons[nbrKey(code)] = n
	}
	return r
}

// nbrKey names a no-bid outcome: "204" bare, "no-nbr" a 200 without bids or
// nbr, else "nbr=500 no agent headroom".
func nbrKey(code int) string {
	switch code {
	case -1:
		return "204"
	case -2:
		return "no-nbr"
	}
	return "nbr=" + strconv.Itoa(code) + nbrName(code)
}

func nbrName(code int) string {
	switch code {
	case 0:
		return " unknown"
	case 1:
		return " technical"
	case 2:
		return " invalid request"
	case 7:
		return " blocked publisher"
	case 15:
		return " insufficient time"
	case 500:
		return " no agent headroom"
	case 501:
		return " capacity stale"
	case 502:
		return " pool exhausted"
	case 503:
		return " below floor"
	case 504:
		return " blocked traffic"
	}
	return ""
}

// WriteJSON writes the report for machines.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the human table.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "callbid-bench %s  target %s  started %s\n", r.Mode, r.Config.Target, r.StartedAt.UTC().Format(time.RFC3339))
	fmt.Fprintf(tw, "machine: GOMAXPROCS %d, %d CPUs, load %s; bodies: %d from %s (%d gzip, mean %.0f B); conns %d, timeout %s\n",
		r.Machine.GOMAXPROCS, r.Machine.NumCPU, r.Machine.LoadAvg, r.Bodies.Count, r.Bodies.Source, r.Bodies.Gzip, r.Bodies.Mean,
		r.Config.Conns, r.Config.Timeout)
	if r.Interrupted {
		fmt.Fprintln(tw, "INTERRUPTED: figures cover what ran before the stop.")
	}
	if len(r.Steps) > 0 {
		fmt.Fprintln(tw, "\nfind-max")
		writeSteps(tw, r.Steps)
		p50 := ""
		if r.Config.FindMax.P50 > 0 {
			p50 = fmt.Sprintf("p50 <= %s, ", r.Config.FindMax.P50)
		}
		fmt.Fprintf(tw, "max sustained rate: %.0f requests/s (%sp99 <= %s, errors+timeouts <= %.2f%%, achieved >= %.0f%% of target)\n",
			r.MaxRate, p50, r.Config.FindMax.P99, 100*r.Config.FindMax.MaxErrorRate, 100*r.Config.FindMax.MinAchieved)
	}
	if c := r.Ceiling; c != nil {
		fmt.Fprintf(tw, "\nceiling %s\n", c.URL)
		writeSteps(tw, c.Steps)
		fmt.Fprintf(tw, "ceiling max: %.0f requests/s; target max %.0f/s = %.1f%% of the ceiling; bench headroom %.1fx the target's max\n",
			c.MaxRate, r.MaxRate, 100*c.ShareOfCeiling, c.BenchHeadroom)
	}
	for _, x := range []*Result{r.Result, r.AtHalf} {
		if x == nil {
			continue
		}
		writeResult(tw, x)
	}
	if r.ClosedLoop != nil {
		r.ClosedLoop.writeText(tw)
	}
	if r.Admin != nil {
		r.Admin.writeText(tw)
	}
	for _, h := range r.Hints {
		fmt.Fprintf(tw, "\nhint: %s\n", h)
	}
	if len(r.Failures) > 0 {
		fmt.Fprintln(tw, "\nFAILED limits:")
		for _, f := range r.Failures {
			fmt.Fprintf(tw, "  %s\n", f)
		}
	}
	return tw.Flush()
}

// CheckLimits returns the limits a constant-rate result missed, each as a
// sentence.
func CheckLimits(l LimitsConfig, x *Result) []string {
	if x == nil {
		return nil
	}
	var out []string
	if l.P99 > 0 && x.Latency.P99 > float64(l.P99)/float64(time.Millisecond) {
		out = append(out, fmt.Sprintf("p99 %.3fms is over -max-p99 %s", x.Latency.P99, l.P99))
	}
	if l.MaxErrorRate >= 0 && x.ErrorRate() > l.MaxErrorRate {
		out = append(out, fmt.Sprintf("errors+timeouts %.3f%% (%d of %d) are over -max-error-rate %.3f%%",
			100*x.ErrorRate(), x.Errors+x.Timeouts, x.Scheduled, 100*l.MaxErrorRate))
	}
	return out
}

// hints looks at a result for set-ups that measure the wrong thing.
func hints(cfg Config, x *Result) []string {
	if x == nil || x.Responses == 0 {
		return nil
	}
	var out []string
	if x.NoBidReasons["204"] == x.Responses {
		h := "every answer was a bare 204 (no bid, no reason given). callbid gives the reason (nbr) only to exchanges " +
			"listed in server.nbr_exchanges: "
		if strings.Contains(cfg.BidPath, "exchange=") {
			h += "the -exchange given is not one of them on this bidder"
		} else {
			h += "pass -exchange with one of them (configs/bench.yaml lists bench-nbr)"
		}
		out = append(out, h+". Then check that the campaigns can match the traffic (targeting, -secure-share with http notice URLs, capacity).")
	}
	return out
}

// WriteHgrm writes the latency histogram of the run (of the run at 50% of
// the maximum after find-max) in HdrHistogram's percentile distribution
// format (.hgrm, values in milliseconds), which HdrHistogram's plotter and
// other tools read.
func (r *Report) WriteHgrm(w io.Writer) error {
	x := r.Result
	if x == nil {
		x = r.AtHalf
	}
	if x == nil && len(r.Steps) > 0 {
		x = r.Steps[len(r.Steps)-1].Result
	}
	if x == nil || x.hist == nil {
		return fmt.Errorf("no latency histogram to export")
	}
	_, err := x.hist.PercentilesPrint(w, 5, 1000)
	return err
}

func writeResult(tw io.Writer, x *Result) {
	title := "result"
	if x.Label != "" {
		title = x.Label
	}
	fmt.Fprintf(tw, "\n%s\t\n", title)
	fmt.Fprintf(tw, "  rate\ttarget %.0f/s, achieved %.0f/s, answered %.0f/s over %.1fs\n", x.TargetRate, x.AchievedRate, x.Throughput, x.Seconds)
	fmt.Fprintf(tw, "  requests\tscheduled %d, sent %d, answered %d, errors %d, timeouts %d (%d expired in queue)\n",
		x.Scheduled, x.Sent, x.Responses, x.Errors, x.Timeouts, x.Expired)
	fmt.Fprintf(tw, "  latency ms\tp50 %.3f  p90 %.3f  p95 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  mean %.3f  (from scheduled send time)\n",
		x.Latency.P50, x.Latency.P90, x.Latency.P95, x.Latency.P99, x.Latency.P999, x.Latency.Max, x.Latency.Mean)
	fmt.Fprintf(tw, "  service ms\tp50 %.3f  p99 %.3f  p99.9 %.3f  (from actual send; send lag p50 %.3f p99 %.3f max %.3f)\n",
		x.Service.P50, x.Service.P99, x.Service.P999, x.SendLag.P50, x.SendLag.P99, x.SendLag.Max)
	tcpu := "unknown (-target-pid)"
	if x.TargetCPU >= 0 {
		tcpu = fmt.Sprintf("%.2f cores", x.TargetCPU)
		if x.TargetCPUPerAnswer > 0 {
			tcpu += fmt.Sprintf(" (%.1f µs per answer)", x.TargetCPUPerAnswer)
		}
	}
	fmt.Fprintf(tw, "  cpu\tbench %.2f cores, target %s\n", x.BenchCPU, tcpu)
	fmt.Fprintf(tw, "  status\t%s\n", kv(x.Status))
	fmt.Fprintf(tw, "  bids\t%d bids in %d responses, bid rate %.1f%%, mean price %.4f CPM, %d unreadable bodies\n",
		x.Bids, x.BidResponses, 100*x.BidRate, x.MeanPrice, x.BadBodies)
	fmt.Fprintf(tw, "  no-bids\t%d: %s\n", x.NoBids, kv(x.NoBidReasons))
	if len(x.ErrorKinds) > 0 {
		fmt.Fprintf(tw, "  errors\t%s\n", kv(x.ErrorKinds))
	}
}

func kv(m map[string]int64) string {
	if len(m) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s: %d", k, m[k])
	}
	return b.String()
}

func writeSteps(tw io.Writer, steps []Step) {
	fmt.Fprintln(tw, "\trate/s\tachieved/s\tp50 ms\tp99 ms\tp99.9 ms\tmax ms\terr+timeout\tbench cpu\ttarget cpu\tverdict")
	for _, s := range steps {
		v := "ok"
		if !s.Passed {
			v = "FAIL: " + s.Why
		}
		x := s.Result
		tcpu := "-"
		if x.TargetCPU >= 0 {
			tcpu = fmt.Sprintf("%.2f", x.TargetCPU)
			if x.TargetCPUPerAnswer > 0 {
				tcpu += fmt.Sprintf(" (%.1fµs)", x.TargetCPUPerAnswer)
			}
		}
		fmt.Fprintf(tw, "\t%.0f\t%.0f\t%.3f\t%.3f\t%.3f\t%.3f\t%d\t%.2f\t%s\t%s\n", s.Rate, x.AchievedRate, x.Latency.P50, x.Latency.P99,
			x.Latency.P999, x.Latency.Max, x.Errors+x.Timeouts, x.BenchCPU, tcpu, v)
	}
}
