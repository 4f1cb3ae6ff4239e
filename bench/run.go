package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// Run executes one bench invocation (a constant-rate run, or find-max) and
// returns its report. Cancelling ctx (Ctrl-C) stops the load early; the
// report then covers what ran and has Interrupted set. Progress lines go to
// progress (nil: none). Errors are for things that stop a run from starting.
func Run(ctx context.Context, cfg Config, progress io.Writer) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	bodies, src, err := loadBodies(cfg)
	if err != nil {
		return nil, err
	}
	if err := checkReachable(cfg.Target, cfg.ConnectTimeout); err != nil {
		return nil, err
	}
	rep := &Report{Mode: "run", StartedAt: time.Now(), Config: cfg, Machine: machine(), Bodies: bodyStats(src, bodies)}
	if cfg.FindMax.Enabled {
		rep.Mode = "find-max"
	}
	runStart := time.Now()
	if cfg.AgentSim != "" {
		stop, err := startAgentSim(cfg.AgentSim, progress)
		if err != nil {
			return nil, err
		}
		defer stop()
	}
	var loop *closedLoop
	loopCtx, stopLoop := context.WithCancel(context.Background())
	defer stopLoop()
	if cfg.ClosedLoop.Enabled {
		loop = newClosedLoop(cfg.ClosedLoop, cfg.Target, cfg.Seed)
		go loop.run(loopCtx)
	}
	adminCtx, stopAdmin := context.WithCancel(context.Background())
	adminDone := make(chan *AdminReport, 1)
	if cfg.Admin != "" {
		go func() { adminDone <- pollAdmin(adminCtx, cfg.Admin, cfg.AdminEvery, runStart) }()
	}

	e, err := newEngine(cfg, bodies, loop, progress)
	if err != nil {
		stopAdmin()
		return nil, err
	}
	senders, release := e.newSenders()
	defer release()

	if cfg.FindMax.Enabled {
		rep.Interrupted = e.findMax(ctx, rep, senders, runStart)
		if n := len(rep.Steps); n > 0 {
			rep.Hints = hints(cfg, rep.Steps[n-1].Result)
		}
		if cfg.Ceiling != "" && !rep.Interrupted {
			c, stopped, err := searchCeiling(ctx, cfg, rep.MaxRate, bodies, progress, runStart)
			if err != nil {
				fmt.Fprintf(progress, "callbid-bench: ceiling search skipped: %v\n", err)
			} else {
				rep.Ceiling, rep.Interrupted = c, stopped
				if c.MaxRate > 0 {
					c.ShareOfCeiling = rep.MaxRate / c.MaxRate
				}
				if rep.MaxRate > 0 {
					c.BenchHeadroom = c.MaxRate / rep.MaxRate
				}
			}
		}
	} else {
		rep.Result, rep.Interrupted = e.runPhase(ctx, phase{rate: cfg.Rate, warmup: cfg.Warmup, duration: cfg.Duration,
			requests: cfg.Requests}, senders, runStart)
		rep.Failures = CheckLimits(cfg.Limits, rep.Result)
		rep.Hints = hints(cfg, rep.Result)
	}
	if loop != nil {
		drain := cfg.ClosedLoop.Drain
		if rep.Interrupted {
			drain = 0
		}
		rep.ClosedLoop = loop.finish(stopLoop, drain)
	}
	if cfg.Admin != "" {
		stopAdmin()
		rep.Admin = <-adminDone
	}
	stopAdmin()
	return rep, nil
}

// searchCeiling runs the same find-max against the ceiling server.
// It starts at the target's maximum and steps by a quarter of it (at least
// the configured step), so a few steps show how far above the target the
// machine's HTTP stack (and the bench) go.
func searchCeiling(ctx context.Context, cfg Config, targetMax float64, bodies []Body, progress io.Writer, runStart time.Time) (*CeilingResult, bool, error) {
	if err := checkReachable(cfg.Ceiling, cfg.ConnectTimeout); err != nil {
		return nil, false, err
	}
	cfg.Target, cfg.TargetPID, cfg.Duration = cfg.Ceiling, cfg.CeilingPID, 0
	cfg.FindMax.Start = max(cfg.FindMax.Start, targetMax)
	cfg.FindMax.Step = max(cfg.FindMax.Step, targetMax/4)
	cfg.FindMax.Limit = max(cfg.FindMax.Limit, cfg.FindMax.Start)
	e, err := newEngine(cfg, bodies, nil, progress)
	if err != nil {
		return nil, false, err
	}
	senders, release := e.newSenders()
	defer release()
	sub := &Report{}
	stopped := e.findMax(ctx, sub, senders, runStart)
	for i := range sub.Steps {
		sub.Steps[i].Result.Label = "ceiling " + sub.Steps[i].Result.Label
	}
	return &CeilingResult{URL: cfg.Ceiling, MaxRate: sub.MaxRate, Steps: sub.Steps}, stopped, nil
}

// findMax steps the rate up from Start by Step until a step fails (p99 over
// the threshold, too many errors, or the rate not reached), then optionally
// measures at half the highest passing rate.
func (e *engine) findMax(ctx context.Context, rep *Report, senders []*sender, runStart time.Time) bool {
	fm := e.cfg.FindMax
	warm := e.cfg.Warmup
	tries := 0
	for rate := fm.Start; rate <= fm.Limit+1e-9; {
		res, stopped := e.runPhase(ctx, phase{rate: rate, warmup: warm, duration: fm.StepDuration,
			label: fmt.Sprintf("step %.0f/s", rate)}, senders, runStart)
		warm = min(e.cfg.Warmup, time.Second) // connections are warm after the first step
		st := Step{Rate: rate, Result: res, Passed: true}
		switch {
		case stopped:
			st.Passed, st.Why = false, "interrupted"
		case fm.P50 > 0 && res.Latency.P50 > float64(fm.P50)/float64(time.Millisecond):
			st.Passed, st.Why = false, fmt.Sprintf("p50 %.2fms > %s", res.Latency.P50, fm.P50)
		case res.Latency.P99 > float64(fm.P99)/float64(time.Millisecond):
			st.Passed, st.Why = false, fmt.Sprintf("p99 %.2fms > %s", res.Latency.P99, fm.P99)
		case res.ErrorRate() > fm.MaxErrorRate:
			st.Passed, st.Why = false, fmt.Sprintf("errors+timeouts %.2f%% > %.2f%%", 100*res.ErrorRate(), 100*fm.MaxErrorRate)
		case res.AchievedRate < fm.MinAchieved*rate:
			st.Passed, st.Why = false, fmt.Sprintf("achieved %.0f/s < %.0f%% of target", res.AchievedRate, 100*fm.MinAchieved)
		}
		rep.Steps = append(rep.Steps, st)
		if stopped {
			return true
		}
		if !st.Passed {
			if tries < fm.Retries {
				tries++
				continue // same rate once more
			}
			break
		}
		tries = 0
		rep.MaxRate = rate
		rate += fm.Step
	}
	if rep.MaxRate > 0 && e.cfg.Duration > 0 {
		// Latency well below saturation is what production should see.
		res, stopped := e.runPhase(ctx, phase{rate: rep.MaxRate / 2, warmup: time.Second, duration: e.cfg.Duration,
			label: fmt.Sprintf("at 50%% of max (%.0f/s)", rep.MaxRate/2)}, senders, runStart)
		rep.AtHalf = res
		return stopped
	}
	return false
}

func loadBodies(cfg Config) ([]Body, string, error) {
	if cfg.Corpus != "" {
		b, err := LoadCorpus(cfg.Corpus, cfg.UniqueIDs, cfg.Gzip, cfg.GzipShare, cfg.Seed)
		return b, cfg.Corpus, err
	}
	b, err := Generate(GeneratorConfig{Seed: cfg.Seed, Count: cfg.Pool, Publishers: cfg.Publishers,
		Gzip: cfg.Gzip, GzipShare: cfg.GzipShare, UniqueIDs: cfg.UniqueIDs, SecureShare: cfg.SecureShare})
	return b, "generator", err
}

func bodyStats(src string, b []Body) BodyStats {
	s := BodyStats{Source: src, Count: len(b)}
	total := 0
	for _, x := range b {
		total += len(x.Data)
		if x.Gzip {
			s.Gzip++
		}
	}
	if len(b) > 0 {
		s.Mean = float64(total) / float64(len(b))
	}
	return s
}

func machine() Machine {
	m := Machine{GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU(), GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(b))
		if len(f) >= 3 {
			m.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	return m
}

// startAgentSim starts the agent-state streamer beside the run (the hook for
// cmd/agentsim; the bench does not import it) and returns its stop function.
func startAgentSim(command string, out io.Writer) (func(), error) {
	f := strings.Fields(command)
	if len(f) == 0 {
		return nil, fmt.Errorf("agentsim: empty command")
	}
	cmd := exec.Command(f[0], f[1:]...)
	if out != nil {
		cmd.Stdout, cmd.Stderr = out, out
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("agentsim: cannot start %q: %w", f[0], err)
	}
	return func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}, nil
}

// newSenders builds the general client's senders (one per connection;
// none when the raw client sends) and the func that returns their pooled
// requests and responses and closes the raw client's connections.
func (e *engine) newSenders() ([]*sender, func()) {
	n := e.cfg.Conns
	if e.raw != nil {
		n = 0
	}
	senders := make([]*sender, n)
	for i := range senders {
		senders[i] = e.newSender(i)
	}
	return senders, func() {
		for _, s := range senders {
			s.release()
		}
		e.close()
	}
}
