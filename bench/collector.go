package bench

import (
	"context"
	"fmt"
	"time"
)

// Point is one second of the run, for the progress line and the charts.
type Point struct {
	T         float64 `json:"t"` // seconds since the run started
	Warmup    bool    `json:"warmup,omitempty"`
	Phase     string  `json:"phase,omitempty"`
	Target    float64 `json:"target_rate"`
	Sent      int64   `json:"sent"`
	Responses int64   `json:"responses"`
	Bids      int64   `json:"bids"`
	NoBids    int64   `json:"no_bids"`
	Errors    int64   `json:"errors"`
	Timeouts  int64   `json:"timeouts"`
	// NoBidReasons splits NoBids as Result.NoBidReasons does.
	NoBidReasons map[string]int64 `json:"no_bid_reasons,omitempty"`
	P50          float64          `json:"p50_ms"`
	P90          float64          `json:"p90_ms"`
	P99          float64          `json:"p99_ms"`
	Max          float64          `json:"max_ms"`
	// ServiceP99 is this second's p99 from the actual send (the bidder's
	// service time, without the bench's send lag): on a shared machine it
	// tells the target's spikes from the bench's own.
	ServiceP99 float64 `json:"service_p99_ms"`
	// CPU use in cores over this second: the bench's, and the target's
	// when -target-pid is set (else -1).
	BenchCPU  float64 `json:"bench_cpu"`
	TargetCPU float64 `json:"target_cpu"`
}

type collector struct {
	e         *engine
	senders   []*sender
	ph        phase
	t0        time.Time
	measStart time.Time
	runStart  time.Time
	series    []Point
	agg       tally
	cpu, tcpu float64 // CPU seconds at the last collection
}

func newCollector(e *engine, senders []*sender, ph phase, t0, measStart, runStart time.Time) *collector {
	return &collector{e: e, senders: senders, ph: ph, t0: t0, measStart: measStart, runStart: runStart}
}

func (c *collector) run(ctx context.Context) {
	c.cpu, c.tcpu = cpuSeconds(), pidCPUSeconds(c.e.cfg.TargetPID)
	tk := time.NewTicker(time.Second)
	defer tk.Stop()
	last := c.t0
	for {
		select {
		case <-ctx.Done():
			if now := time.Now(); now.Sub(last) > 100*time.Millisecond {
				c.collect(last, now)
			}
			return
		case now := <-tk.C:
			c.collect(last, now)
			last = now
		}
	}
}

// collect swaps every sender's window and adds one point.
func (c *collector) collect(from, now time.Time) {
	h, hs := newHist(seriesSig), newHist(seriesSig)
	c.agg.reset()
	for _, s := range c.senders {
		s.win.mu.Lock()
		full, fullS := s.win.hist, s.win.svc
		s.win.hist, s.win.svc = s.spare, s.spareS
		c.agg.add(&s.win.t)
		s.win.t.reset()
		s.win.mu.Unlock()
		if full.TotalCount() > 0 {
			h.Merge(full)
			hs.Merge(fullS)
		}
		full.Reset()
		fullS.Reset()
		s.spare, s.spareS = full, fullS
	}
	secs := now.Sub(from).Seconds()
	if secs <= 0 {
		secs = 1
	}
	a := &c.agg
	p := Point{
		T:      now.Sub(c.runStart).Seconds(),
		Warmup: now.Before(c.measStart),
		Phase:  c.ph.label,
		Target: c.ph.rate,
		Sent:   a.sent, Responses: a.responses, Bids: a.bidResponses, NoBids: a.noBids,
		Errors: a.errors, Timeouts: a.timeouts,
		P50: ms(h.ValueAtQuantile(50)), P90: ms(h.ValueAtQuantile(90)),
		P99: ms(h.ValueAtQuantile(99)), Max: ms(h.Max()),
		ServiceP99: ms(hs.ValueAtQuantile(99)),
	}
	if h.TotalCount() == 0 {
		p.Max = 0
	}
	for code, n := range a.nbr {
		if n > 0 {
			if p.NoBidReasons == nil {
				p.NoBidReasons = map[string]int64{}
			}
			p.NoBidReasons[nbrKey(code)] = n
		}
	}
	cpu, tcpu := cpuSeconds(), pidCPUSeconds(c.e.cfg.TargetPID)
	p.BenchCPU, p.TargetCPU = (cpu-c.cpu)/secs, -1
	if tcpu >= 0 && c.tcpu >= 0 {
		p.TargetCPU = (tcpu - c.tcpu) / secs
	}
	c.cpu, c.tcpu = cpu, tcpu
	c.series = append(c.series, p)
	if c.e.progress != nil && c.e.cfg.Progress {
		tag := ""
		if p.Warmup {
			tag = " warm-up"
		}
		if c.ph.label != "" {
			tag += " " + c.ph.label
		}
		tc := ""
		if p.TargetCPU >= 0 {
			tc = fmt.Sprintf(" target %.2f", p.TargetCPU)
		}
		fmt.Fprintf(c.e.progress, "[%5.1fs]%s target %.0f/s sent %.0f/s ok %.0f/s bids %d nobid %d err %d timeout %d | p50 %.2fms p99 %.2fms (service %.2fms) max %.2fms | cpu bench %.2f%s%s\n",
			p.T, tag, c.ph.rate, float64(a.sent)/secs, float64(a.responses)/secs, a.bidResponses, a.noBids, a.errors, a.timeouts,
			p.P50, p.P99, p.ServiceP99, p.Max, p.BenchCPU, tc, c.e.loop.progress())
	}
}

func ms(us int64) float64 { return float64(us) / 1000 }
