// Command callbid-bench loads a callbid bidder the way exchanges and callers
// do and reports what it sustained. It only wires flags to bench.Config and
// calls bench.Run (or bench.ServeCeiling); see package bench.
//
//	callbid-bench [run] -target http://127.0.0.1:8080 -rate 5000 -duration 30s
//	callbid-bench run -find-max -start 2000 -step 2000 -limit 60000
//	callbid-bench ceiling -listen 127.0.0.1:9090
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/callbid/callbid/bench"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	sub := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); stop() }() // a second Ctrl-C kills at once
	switch sub {
	case "run":
		return runBench(ctx, args, stdout, stderr)
	case "ceiling":
		return runCeiling(ctx, args, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "callbid-bench: unknown command %q (want run or ceiling)\n", sub)
		return 2
	}
}

func fail(stderr io.Writer, code int, err error) int {
	msg := strings.ReplaceAll(err.Error(), "\n", "; ")
	fmt.Fprintf(stderr, "callbid-bench: %s\n", msg)
	return code
}

func parse(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (int, bool) {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return 0, false
		}
		return fail(stderr, 2, fmt.Errorf("%w (see -h)", err)), false
	}
	if fs.NArg() > 0 {
		return fail(stderr, 2, fmt.Errorf("unexpected argument %q (see -h)", fs.Arg(0))), false
	}
	return 0, true
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg := bench.DefaultConfig()
	cl, fm := &cfg.ClosedLoop, &cfg.FindMax
	fs := flag.NewFlagSet("callbid-bench run", flag.ContinueOnError)
	fs.StringVar(&cfg.Target, "target", cfg.Target, "bidder base URL (loopback only unless -allow-remote)")
	fs.BoolVar(&cfg.AllowRemote, "allow-remote", false, "allow https targets and hosts beyond loopback (staging bidders, load balancers)")
	fs.StringVar(&cfg.BidPath, "path", cfg.BidPath, "bid endpoint path")
	fs.Float64Var(&cfg.Rate, "rate", cfg.Rate, "constant target rate, requests/s (open loop)")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "measured duration after warm-up (0 = use -n)")
	fs.Int64Var(&cfg.Requests, "n", cfg.Requests, "measured request count (0 = use -duration; with both, the first reached ends the run)")
	fs.DurationVar(&cfg.Warmup, "warmup", cfg.Warmup, "warm-up at the target rate, excluded from the figures")
	fs.IntVar(&cfg.Conns, "conns", cfg.Conns, "keep-alive connections, one request in flight on each")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "request deadline, counted from the scheduled send time")
	fs.DurationVar(&cfg.MaxSendLag, "max-send-lag", 0, "drop (count as expired, unsent) a request that waited longer than this for a free connection, as an exchange skips a busy bidder; 0: only past -timeout (overload runs: a few ms)")
	fs.DurationVar(&cfg.Batch, "batch", cfg.Batch, "scheduler's shortest sleep: requests due within it go out together (bigger = cheaper bench, more send lag)")
	fs.StringVar(&cfg.Client, "client", "", "HTTP client: raw (one goroutine, epoll; Linux, http), fasthttp (one goroutine per connection), empty = raw where it runs")
	fs.DurationVar(&cfg.ConnectTimeout, "connect-timeout", cfg.ConnectTimeout, "reachability check at start")
	fs.StringVar(&cfg.Corpus, "corpus", "", "directory of OpenRTB JSON bid requests (default: generated requests)")
	fs.Int64Var(&cfg.Seed, "seed", cfg.Seed, "seed for generated requests and closed-loop draws")
	fs.IntVar(&cfg.Pool, "pool", cfg.Pool, "generated request bodies built before the run")
	fs.IntVar(&cfg.Publishers, "publishers", cfg.Publishers, "distinct generated publishers (Zipf-skewed)")
	fs.BoolVar(&cfg.Gzip, "gzip", false, "send some bodies gzipped (-gzip-share) and accept gzip answers")
	fs.Float64Var(&cfg.GzipShare, "gzip-share", cfg.GzipShare, "share of gzipped bodies with -gzip")
	fs.Float64Var(&cfg.SecureShare, "secure-share", cfg.SecureShare, "share of generated imps with secure=1 (a bidder with http notice URLs no-bids them)")
	exchange := fs.String("exchange", "", "exchange name sent as ?exchange= on the bid path (callbid answers nbr bodies to exchanges listed in nbr_exchanges)")
	fs.BoolVar(&cfg.UniqueIDs, "unique-ids", cfg.UniqueIDs, "rewrite BidRequest.id on each send so ids never repeat")
	fs.BoolVar(&cl.Enabled, "closed-loop", false, "fire nurl/burl/lurl for bids and place calls through POST /v1/calls")
	fs.Float64Var(&cl.WinRate, "win-rate", cl.WinRate, "share of bids that win (the rest get lurl with loss 102)")
	fs.Float64Var(&cl.BillRate, "bill-rate", cl.BillRate, "share of wins that bill (burl)")
	fs.DurationVar(&cl.NoticeDelay, "notice-delay", cl.NoticeDelay, "median delay bid→nurl/lurl (lognormal); burl follows after ~3x")
	fs.Float64Var(&cl.NoticeSigma, "notice-sigma", cl.NoticeSigma, "lognormal sigma of notice delays")
	fs.Float64Var(&cl.LateWinShare, "late-wins", cl.LateWinShare, "share of wins notified late (after -late-win-delay)")
	fs.DurationVar(&cl.LateWinDelay, "late-win-delay", cl.LateWinDelay, "delay of late wins (x1..2)")
	fs.Float64Var(&cl.CallRate, "call-rate", cl.CallRate, "share of billed wins that call the number")
	fs.DurationVar(&cl.CallDelay, "call-delay", cl.CallDelay, "median time-to-call after the ad renders (lognormal; compressed time)")
	fs.Float64Var(&cl.CallSigma, "call-sigma", cl.CallSigma, "lognormal sigma of time-to-call")
	fs.Float64Var(&cl.RepeatCallers, "repeat-callers", cl.RepeatCallers, "share of calls from an earlier caller to the same number")
	fs.StringVar(&cl.CallsURL, "calls-url", "", "base URL for POST /v1/calls (default -target)")
	fs.StringVar(&cl.CallsToken, "calls-token", os.Getenv("CALLBID_CALLS_TOKEN"), "bearer token for /v1/calls (default $CALLBID_CALLS_TOKEN)")
	fs.DurationVar(&cl.Drain, "drain", cl.Drain, "time pending notices and calls may still fire after the load stops")
	fs.IntVar(&cl.Workers, "loop-workers", cl.Workers, "closed-loop workers firing notices and calls")
	fs.StringVar(&cfg.Admin, "admin", "", "bidder admin base URL; GET /admin/pools is polled each -admin-every")
	fs.DurationVar(&cfg.AdminEvery, "admin-every", cfg.AdminEvery, "admin poll interval")
	fs.StringVar(&cfg.AgentSim, "agentsim", "", "command streaming simulated agent states during the run (use cmd/agentsim, e.g. \"./agentsim -rate 50\")")
	fs.BoolVar(&fm.Enabled, "find-max", false, "step the rate up until p99 or errors pass the limits; report the highest rate sustained")
	fs.Float64Var(&fm.Start, "start", fm.Start, "find-max: first rate")
	fs.Float64Var(&fm.Step, "step", fm.Step, "find-max: rate increment")
	fs.Float64Var(&fm.Limit, "limit", fm.Limit, "find-max: highest rate tried")
	fs.DurationVar(&fm.StepDuration, "step-duration", fm.StepDuration, "find-max: measured time per step")
	fs.DurationVar(&fm.P99, "max-p99", fm.P99, "find-max: a step fails when p99 exceeds this; a constant-rate run given it fails (exit 3) when its p99 does")
	fs.IntVar(&fm.Retries, "retries", fm.Retries, "find-max: re-runs of a failing step before the search stops (noisy machines)")
	fs.DurationVar(&fm.P50, "max-p50", 0, "find-max: a step also fails when p50 exceeds this (0 = off; robust to noisy neighbours)")
	fs.Float64Var(&fm.MaxErrorRate, "max-errors", fm.MaxErrorRate, "find-max: a step fails when errors+timeouts exceed this share; a constant-rate run given it fails (exit 3) when they do")
	fs.Float64Var(&fm.MaxErrorRate, "max-error-rate", fm.MaxErrorRate, "same as -max-errors")
	fs.StringVar(&cfg.Ceiling, "ceiling", "", "find-max: also search this ceiling server (callbid-bench ceiling) and report the target as a share of it")
	fs.IntVar(&cfg.CeilingPID, "ceiling-pid", 0, "the ceiling server's process id, for its CPU figures")
	fs.IntVar(&cfg.TargetPID, "target-pid", 0, "the bidder's process id: report its CPU use per phase beside the bench's (Linux /proc)")
	cpuProfile := fs.String("cpuprofile", "", "write the bench's own CPU profile here (to check it is not the bottleneck)")
	quiet := fs.Bool("quiet", false, "no progress line on stderr")
	jsonPath := fs.String("json", "", "write the JSON report to this file (- = stdout)")
	htmlPath := fs.String("html", "", "write the HTML report (inline SVG charts) to this file")
	hgrmPath := fs.String("hgrm", "", "write the latency histogram as an HdrHistogram percentile distribution (.hgrm, ms) to this file")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: callbid-bench [run] [flags]   |   callbid-bench ceiling -listen 127.0.0.1:9090")
		fs.PrintDefaults()
	}
	if code, ok := parse(fs, args, stdout, stderr); !ok {
		return code
	}
	cfg.Progress = !*quiet
	if *exchange != "" {
		sep := "?"
		if strings.Contains(cfg.BidPath, "?") {
			sep = "&"
		}
		cfg.BidPath += sep + "exchange=" + url.QueryEscape(*exchange)
	}
	if cfg.Requests > 0 && !flagSet(fs, "duration") {
		cfg.Duration = 0 // -n alone: the count bounds the run
	}
	if fm.Enabled && !flagSet(fs, "duration") {
		cfg.Duration = 2 * fm.StepDuration // the run at 50% of max
	}
	// A constant-rate run is checked against the limits given explicitly
	// (the CI gate); find-max uses them, with defaults, to judge steps.
	if !fm.Enabled {
		if flagSet(fs, "max-p99") {
			cfg.Limits.P99 = fm.P99
		}
		if flagSet(fs, "max-errors") || flagSet(fs, "max-error-rate") {
			cfg.Limits.MaxErrorRate = fm.MaxErrorRate
		}
	}
	if err := cfg.Validate(); err != nil {
		return fail(stderr, 2, err)
	}
	// Files are opened before the run so a bad path does not waste it.
	jsonOut, err := create(*jsonPath, stdout)
	if err != nil {
		return fail(stderr, 1, err)
	}
	htmlOut, err := create(*htmlPath, stdout)
	if err != nil {
		return fail(stderr, 1, err)
	}
	hgrmOut, err := create(*hgrmPath, stdout)
	if err != nil {
		return fail(stderr, 1, err)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fail(stderr, 1, fmt.Errorf("cannot create %s: %w", *cpuProfile, err))
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return fail(stderr, 1, err)
		}
		defer func() { pprof.StopCPUProfile(); _ = f.Close() }()
	}
	rep, err := bench.Run(ctx, cfg, stderr)
	if err != nil {
		return fail(stderr, 1, err)
	}
	if *jsonPath != "-" {
		_ = rep.WriteText(stdout)
	}
	for _, o := range []struct {
		f     io.WriteCloser
		write func(io.Writer) error
		path  string
	}{{jsonOut, rep.WriteJSON, *jsonPath}, {htmlOut, rep.WriteHTML, *htmlPath}, {hgrmOut, rep.WriteHgrm, *hgrmPath}} {
		if o.f == nil {
			continue
		}
		err := o.write(o.f)
		if cerr := o.f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fail(stderr, 1, fmt.Errorf("cannot write %s: %w", o.path, err))
		}
	}
	if rep.Interrupted {
		return 130
	}
	if len(rep.Failures) > 0 {
		fmt.Fprintf(stderr, "callbid-bench: FAILED: %s\n", strings.Join(rep.Failures, "; "))
		return 3
	}
	return 0
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

func create(path string, stdout io.Writer) (io.WriteCloser, error) {
	switch path {
	case "":
		return nil, nil
	case "-":
		return nopCloser{stdout}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("cannot create %s: %w", path, err)
	}
	return f, nil
}

func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func runCeiling(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("callbid-bench ceiling", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:9090", "address to serve the fixed answer on (loopback)")
	size := fs.Int("size", bench.CeilingBodySize, "answer size in bytes (the bidder's answer size shows what length alone costs)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: callbid-bench ceiling [-listen 127.0.0.1:9090] [-size 600]\n"+
			"Answers every request with a fixed BidResponse (600 bytes): the machine's HTTP ceiling.\n"+
			"Pin it like the bidder: GOMAXPROCS=1 taskset -c 0 callbid-bench ceiling")
		fs.PrintDefaults()
	}
	if code, ok := parse(fs, args, stdout, stderr); !ok {
		return code
	}
	if *size < 0 || *size > 1<<20 {
		return fail(stderr, 2, fmt.Errorf("-size %d: want 0 to 1048576 bytes", *size))
	}
	n := len(bench.CeilingBodyOfSize("127.0.0.1:9090", *size))
	ready := func(addr string) {
		fmt.Fprintf(stderr, "callbid-bench ceiling: serving %d-byte answers on http://%s (Ctrl-C stops)\n", n, addr)
	}
	if err := bench.ServeCeilingOfSize(ctx, *listen, *size, ready); err != nil {
		return fail(stderr, 1, err)
	}
	return 0
}
