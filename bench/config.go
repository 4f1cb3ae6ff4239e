package bench

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// Config is one bench run. The zero value is not runnable: start from
// DefaultConfig and override.
type Config struct {
	// Target is the bidder's base URL, e.g. http://127.0.0.1:8080: loopback
	// only unless AllowRemote.
	Target string `yaml:"target" json:"target"`
	// AllowRemote lets the bench load https targets and hosts beyond
	// loopback (a staging bidder, a load balancer). Off, a typo in -target
	// cannot send a load test to somebody else's machine.
	AllowRemote bool `yaml:"allow_remote" json:"allow_remote,omitempty"`
	// BidPath is the bid endpoint path (default /openrtb2/bid).
	BidPath string `yaml:"bid_path" json:"bid_path"`
	// Rate is the constant target rate in requests per second.
	Rate float64 `yaml:"rate" json:"rate"`
	// Duration of the measured part of the run (after Warmup). Either Duration
	// or Requests (or both) bounds the run; whichever comes first ends it.
	Duration time.Duration `yaml:"duration" json:"duration"`
	// Requests is the number of measured requests (0 = bounded by Duration).
	Requests int64 `yaml:"requests" json:"requests"`
	// Warmup is sent at Rate before measuring and left out of the figures.
	Warmup time.Duration `yaml:"warmup" json:"warmup"`
	// Conns is the number of keep-alive connections, each with one request in
	// flight (no pipelining), like exchanges that hold one outstanding request
	// per connection.
	Conns int `yaml:"conns" json:"conns"`
	// Timeout is the request deadline counted from the scheduled send time.
	Timeout time.Duration `yaml:"timeout" json:"timeout"`
	// MaxSendLag drops a request that waited longer than this for a free
	// connection (counted as expired, not sent), the way an exchange skips a
	// bidder whose connections are all busy instead of queueing for it. 0:
	// only requests past Timeout are dropped; the rest go out with what is
	// left of their deadline, and past 1× the target's maximum they leave
	// with almost nothing left, time out, and each timeout closes and
	// re-dials a connection: the bench then measures its own collapse.
	MaxSendLag time.Duration `yaml:"max_send_lag" json:"max_send_lag,omitempty"`
	// Batch is the scheduler's shortest sleep: above 1/Batch requests per
	// second, requests due within one batch go out together. Larger batches
	// cost the bench less CPU per request but delay sends by up to Batch;
	// the delay is measured (send lag), not hidden.
	Batch time.Duration `yaml:"batch" json:"batch"`
	// Client picks the HTTP client: "raw" (one goroutine and an epoll set
	// for every connection, Linux, plain http: about a third of the CPU per
	// request), "fasthttp" (one goroutine per connection; https and other
	// systems) or "" (auto: raw where it can run).
	Client string `yaml:"client" json:"client,omitempty"`
	// ConnectTimeout bounds the reachability check at start.
	ConnectTimeout time.Duration `yaml:"connect_timeout" json:"connect_timeout"`

	// Corpus is a directory of OpenRTB JSON bid requests; empty = generator.
	Corpus string `yaml:"corpus" json:"corpus,omitempty"`
	// Seed makes the generated requests and the closed loop reproducible.
	Seed int64 `yaml:"seed" json:"seed"`
	// Pool is how many request bodies are pre-generated.
	Pool int `yaml:"pool" json:"pool"`
	// Publishers is the number of distinct publishers (Zipf-skewed).
	Publishers int `yaml:"publishers" json:"publishers"`
	// Gzip sends GzipShare of the bodies gzipped and accepts gzip answers.
	Gzip      bool    `yaml:"gzip" json:"gzip"`
	GzipShare float64 `yaml:"gzip_share" json:"gzip_share"`
	// SecureShare of generated impressions are flagged secure=1.
	SecureShare float64 `yaml:"secure_share" json:"secure_share"`
	// UniqueIDs rewrites BidRequest.id on every send so ids never repeat
	// (gzip bodies keep the pooled id: they are compressed once).
	UniqueIDs bool `yaml:"unique_ids" json:"unique_ids"`

	// ClosedLoop plays the exchange's notices and the callers.
	ClosedLoop ClosedLoopConfig `yaml:"closed_loop" json:"closed_loop"`
	// Admin is the bidder's admin base URL (GET /admin/pools is polled).
	Admin      string        `yaml:"admin" json:"admin,omitempty"`
	AdminEvery time.Duration `yaml:"admin_every" json:"admin_every"`
	// AgentSim is a command started beside the run to stream simulated agent
	// states (use cmd/agentsim); it is stopped when the run ends.
	AgentSim string `yaml:"agentsim" json:"agentsim,omitempty"`

	// FindMax steps the rate up instead of one constant-rate run.
	FindMax FindMaxConfig `yaml:"find_max" json:"find_max"`
	// Limits make a constant-rate run fail (exit non-zero) when it misses
	// them: the bench as a CI gate.
	Limits LimitsConfig `yaml:"limits" json:"limits"`

	// TargetPID, when set, is the bidder's process id: its CPU use per phase
	// is read from /proc and reported beside the bench's own.
	TargetPID int `yaml:"target_pid" json:"target_pid,omitempty"`

	// Ceiling, with FindMax, is the URL of a ceiling server (callbid-bench
	// ceiling) searched the same way after the target, so the target's
	// maximum is stated as a share of the machine's HTTP ceiling in the same
	// run. CeilingPID is its process id (for its CPU figures).
	Ceiling    string `yaml:"ceiling" json:"ceiling,omitempty"`
	CeilingPID int    `yaml:"ceiling_pid" json:"ceiling_pid,omitempty"`

	// Progress prints one line per second to the progress writer.
	Progress bool `yaml:"progress" json:"-"`
}

// ClosedLoopConfig drives notices and calls from the bids received.
type ClosedLoopConfig struct {
	Enabled bool `yaml:"enabled" json:"enabled"`
	// WinRate is the share of bids that win (nurl); the rest lose (lurl, 102).
	WinRate float64 `yaml:"win_rate" json:"win_rate"`
	// BillRate is the share of wins that also render and bill (burl).
	BillRate float64 `yaml:"bill_rate" json:"bill_rate"`
	// NoticeDelay is the median delay from the bid to its nurl/lurl
	// (lognormal with NoticeSigma); the burl follows after a second draw.
	NoticeDelay time.Duration `yaml:"notice_delay" json:"notice_delay"`
	NoticeSigma float64       `yaml:"notice_sigma" json:"notice_sigma"`
	// LateWinShare of wins is notified after LateWinDelay instead (late wins).
	LateWinShare float64       `yaml:"late_win_share" json:"late_win_share"`
	LateWinDelay time.Duration `yaml:"late_win_delay" json:"late_win_delay"`
	// CallRate is the share of billed wins that produce a call.
	CallRate float64 `yaml:"call_rate" json:"call_rate"`
	// CallDelay is the median time from the win to the call (lognormal with
	// CallSigma); seconds rather than minutes: time is compressed.
	CallDelay time.Duration `yaml:"call_delay" json:"call_delay"`
	CallSigma float64       `yaml:"call_sigma" json:"call_sigma"`
	// RepeatCallers is the share of calls that come again from an earlier
	// caller to the same number (exercises cooldown/sticky attribution).
	RepeatCallers float64 `yaml:"repeat_callers" json:"repeat_callers"`
	// CallsURL is the POST /v1/calls base URL (default: Target).
	CallsURL   string `yaml:"calls_url" json:"calls_url,omitempty"`
	CallsToken string `yaml:"calls_token" json:"-"`
	// Drain is how long pending notices and calls may still fire after the
	// load stops; the rest are counted as abandoned.
	Drain time.Duration `yaml:"drain" json:"drain"`
	// Workers fire notices and calls; MaxPending bounds the queue of them.
	Workers    int `yaml:"workers" json:"workers"`
	MaxPending int `yaml:"max_pending" json:"max_pending"`
}

// LimitsConfig are the pass/fail thresholds of a constant-rate run; zero
// values are not checked.
type LimitsConfig struct {
	// P99 of the latency from the scheduled send time.
	P99 time.Duration `yaml:"p99" json:"p99,omitempty"`
	// MaxErrorRate is the share of scheduled requests that may end in an
	// error or a timeout; negative = not checked (0 means none may).
	MaxErrorRate float64 `yaml:"max_error_rate" json:"max_error_rate"`
}

// FindMaxConfig steps the rate up until p99 passes P99 or errors appear.
type FindMaxConfig struct {
	Enabled      bool          `yaml:"enabled" json:"enabled"`
	Start        float64       `yaml:"start" json:"start"`
	Step         float64       `yaml:"step" json:"step"`
	Limit        float64       `yaml:"limit" json:"limit"`
	StepDuration time.Duration `yaml:"step_duration" json:"step_duration"`
	P99          time.Duration `yaml:"p99" json:"p99"`
	// P50, when set, also bounds the median: on a shared machine p99 is
	// often other tenants' noise while a median that climbs means the
	// target's queue is growing (saturation).
	P50 time.Duration `yaml:"p50" json:"p50,omitempty"`
	// MaxErrorRate is the share of errors+timeouts a step may have.
	MaxErrorRate float64 `yaml:"max_error_rate" json:"max_error_rate"`
	// MinAchieved is the share of the target rate a step must reach.
	MinAchieved float64 `yaml:"min_achieved" json:"min_achieved"`
	// Retries re-runs a failing step this many times before giving up: on
	// a shared machine one noisy neighbour should not end the search.
	Retries int `yaml:"retries" json:"retries"`
}

// The HTTP clients Config.Client names.
const (
	ClientRaw      = "raw"
	ClientFastHTTP = "fasthttp"
)

// DefaultConfig returns a runnable configuration against 127.0.0.1:8080.
func DefaultConfig() Config {
	return Config{
		Target:         "http://127.0.0.1:8080",
		BidPath:        "/openrtb2/bid",
		Rate:           1000,
		Duration:       10 * time.Second,
		Warmup:         2 * time.Second,
		Conns:          64,
		Timeout:        time.Second,
		ConnectTimeout: time.Second,
		Batch:          100 * time.Microsecond,
		Seed:           1,
		Pool:           10000,
		Publishers:     500,
		GzipShare:      0.5,
		UniqueIDs:      true,
		AdminEvery:     time.Second,
		ClosedLoop: ClosedLoopConfig{
			WinRate:       0.2,
			BillRate:      0.8,
			NoticeDelay:   200 * time.Millisecond,
			NoticeSigma:   1.0,
			LateWinShare:  0.01,
			LateWinDelay:  20 * time.Second,
			CallRate:      0.3,
			CallDelay:     3 * time.Second,
			CallSigma:     0.8,
			RepeatCallers: 0.1,
			Drain:         5 * time.Second,
			Workers:       16,
			MaxPending:    200000,
		},
		FindMax: FindMaxConfig{
			Start:        1000,
			Step:         1000,
			Limit:        200000,
			StepDuration: 5 * time.Second,
			P99:          10 * time.Millisecond,
			MaxErrorRate: 0.001,
			MinAchieved:  0.97,
			Retries:      1,
		},
		Limits:   LimitsConfig{MaxErrorRate: -1},
		Progress: true,
	}
}

// Limits keep every run bounded.
const (
	MaxDuration = time.Hour
	MaxRate     = 2_000_000
	MaxConns    = 10_000
	MaxPool     = 1_000_000
)

// Validate reports every problem, each starting with its field path.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if err := checkURL(c.Target, c.AllowRemote); err != nil {
		bad("target: %w", err)
	}
	if c.BidPath == "" || c.BidPath[0] != '/' {
		bad("bid_path: %q must start with /", c.BidPath)
	}
	if !c.FindMax.Enabled {
		if c.Rate <= 0 || c.Rate > MaxRate {
			bad("rate: %g must be in (0, %d] requests/s", c.Rate, MaxRate)
		}
		if c.Duration <= 0 && c.Requests <= 0 {
			bad("duration: a run needs a duration or a request count")
		}
	}
	if c.Duration < 0 || c.Duration > MaxDuration {
		bad("duration: %s must be between 0 and %s", c.Duration, MaxDuration)
	}
	if c.Requests < 0 {
		bad("requests: %d must not be negative", c.Requests)
	}
	if c.Warmup < 0 || c.Warmup > 10*time.Minute {
		bad("warmup: %s must be between 0 and 10m", c.Warmup)
	}
	if c.Conns < 1 || c.Conns > MaxConns {
		bad("conns: %d must be between 1 and %d", c.Conns, MaxConns)
	}
	if c.Timeout <= 0 || c.Timeout > time.Minute {
		bad("timeout: %s must be between 0 and 1m", c.Timeout)
	}
	if c.Batch < 0 || c.Batch > 10*time.Millisecond {
		bad("batch: %s must be between 0 and 10ms", c.Batch)
	}
	switch c.Client {
	case "", ClientRaw, ClientFastHTTP:
	default:
		bad("client: %q must be %q, %q or empty (auto)", c.Client, ClientRaw, ClientFastHTTP)
	}
	if c.MaxSendLag < 0 || c.MaxSendLag > c.Timeout {
		bad("max_send_lag: %s must be between 0 and the timeout (%s)", c.MaxSendLag, c.Timeout)
	}
	if c.ConnectTimeout <= 0 || c.ConnectTimeout > time.Minute {
		bad("connect_timeout: %s must be between 0 and 1m", c.ConnectTimeout)
	}
	if c.Pool < 1 || c.Pool > MaxPool {
		bad("pool: %d must be between 1 and %d", c.Pool, MaxPool)
	}
	if c.Publishers < 1 || c.Publishers > 1_000_000 {
		bad("publishers: %d must be between 1 and 1000000", c.Publishers)
	}
	if c.GzipShare < 0 || c.GzipShare > 1 {
		bad("gzip_share: %g must be between 0 and 1", c.GzipShare)
	}
	if c.SecureShare < 0 || c.SecureShare > 1 {
		bad("secure_share: %g must be between 0 and 1", c.SecureShare)
	}
	if c.Admin != "" {
		if err := checkURL(c.Admin, c.AllowRemote); err != nil {
			bad("admin: %w", err)
		}
	}
	if c.AdminEvery <= 0 {
		bad("admin_every: %s must be positive", c.AdminEvery)
	}
	if c.Ceiling != "" {
		if err := checkURL(c.Ceiling, c.AllowRemote); err != nil {
			bad("ceiling: %w", err)
		} else if !c.FindMax.Enabled {
			bad("ceiling: only used with find_max")
		}
	}
	if c.Limits.P99 < 0 {
		bad("limits.p99: %s must not be negative", c.Limits.P99)
	}
	if c.Limits.MaxErrorRate > 1 {
		bad("limits.max_error_rate: %g must be at most 1", c.Limits.MaxErrorRate)
	}
	errs = append(errs, c.ClosedLoop.validate("closed_loop", c.AllowRemote)...)
	if c.FindMax.Enabled {
		errs = append(errs, c.FindMax.validate("find_max")...)
	}
	return errors.Join(errs...)
}

func (c *ClosedLoopConfig) validate(p string, allowRemote bool) []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(p+"."+format, a...)) }
	share := func(name string, v float64) {
		if v < 0 || v > 1 {
			bad("%s: %g must be between 0 and 1", name, v)
		}
	}
	share("win_rate", c.WinRate)
	share("bill_rate", c.BillRate)
	share("late_win_share", c.LateWinShare)
	share("call_rate", c.CallRate)
	share("repeat_callers", c.RepeatCallers)
	dur := func(name string, d time.Duration) {
		if d < 0 || d > 10*time.Minute {
			bad("%s: %s must be between 0 and 10m", name, d)
		}
	}
	dur("notice_delay", c.NoticeDelay)
	dur("late_win_delay", c.LateWinDelay)
	dur("call_delay", c.CallDelay)
	dur("drain", c.Drain)
	if c.NoticeSigma < 0 || c.NoticeSigma > 3 {
		bad("notice_sigma: %g must be between 0 and 3", c.NoticeSigma)
	}
	if c.CallSigma < 0 || c.CallSigma > 3 {
		bad("call_sigma: %g must be between 0 and 3", c.CallSigma)
	}
	if c.CallsURL != "" {
		if err := checkURL(c.CallsURL, allowRemote); err != nil {
			bad("calls_url: %w", err)
		}
	}
	if c.Workers < 1 || c.Workers > 1000 {
		bad("workers: %d must be between 1 and 1000", c.Workers)
	}
	if c.MaxPending < 1 || c.MaxPending > 10_000_000 {
		bad("max_pending: %d must be between 1 and 10000000", c.MaxPending)
	}
	return errs
}

func (c *FindMaxConfig) validate(p string) []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(p+"."+format, a...)) }
	if c.Start <= 0 || c.Start > MaxRate {
		bad("start: %g must be in (0, %d]", c.Start, MaxRate)
	}
	if c.Step <= 0 {
		bad("step: %g must be positive", c.Step)
	}
	if c.Limit < c.Start || c.Limit > MaxRate {
		bad("limit: %g must be between start (%g) and %d", c.Limit, c.Start, MaxRate)
	}
	if c.StepDuration <= 0 || c.StepDuration > 10*time.Minute {
		bad("step_duration: %s must be between 0 and 10m", c.StepDuration)
	}
	if c.P99 <= 0 {
		bad("p99: %s must be positive", c.P99)
	}
	if c.P50 < 0 {
		bad("p50: %s must not be negative", c.P50)
	}
	if c.MaxErrorRate < 0 || c.MaxErrorRate > 1 {
		bad("max_error_rate: %g must be between 0 and 1", c.MaxErrorRate)
	}
	if c.MinAchieved <= 0 || c.MinAchieved > 1 {
		bad("min_achieved: %g must be in (0, 1]", c.MinAchieved)
	}
	if c.Retries < 0 || c.Retries > 5 {
		bad("retries: %d must be between 0 and 5", c.Retries)
	}
	if c.Start > 0 && c.Step > 0 && (c.Limit-c.Start)/c.Step > 1000 {
		bad("step: %g makes more than 1000 steps from %g to %g", c.Step, c.Start, c.Limit)
	}
	return errs
}

// checkURL accepts http URLs on loopback and, with allowRemote, http or
// https URLs on any host.
func checkURL(s string, allowRemote bool) error {
	if !allowRemote {
		if u, err := url.Parse(s); err == nil && u.Scheme == "https" {
			return fmt.Errorf("%q: https targets are remote targets; add -allow-remote (allow_remote) to load them", s)
		}
		err := checkLoopbackURL(s)
		if err != nil && strings.Contains(err.Error(), "not a loopback address") {
			err = fmt.Errorf("%w; add -allow-remote (allow_remote) to load it", err)
		}
		return err
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return fmt.Errorf("%q is not an http(s)://host[:port] URL", s)
	}
	return nil
}

// hostPort is u's host with the scheme's default port when it has none.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "https" {
		return net.JoinHostPort(u.Hostname(), "443")
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

// checkLoopbackURL accepts http URLs whose host is a loopback address: the
// bench must never load anything but this machine unless told to.
func checkLoopbackURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return fmt.Errorf("%q is not an http://host:port URL", s)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback address (the bench only loads this machine)", host)
	}
	return nil
}
