package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// The status page in a real headless browser (Debian's chromium). It runs
// when CALLBID_BROWSER_TEST=1, as .ci/run sets after installing chromium;
// without it (a plain `go test ./...` on a machine without a browser) it
// skips. With the variable set, a missing browser is a failure, not a skip.
// Screenshots are kept in $CALLBID_TEST_ARTIFACTS, or a fresh temp directory
// the test names in its log.

func chromiumPath(t *testing.T) string {
	t.Helper()
	if os.Getenv("CALLBID_BROWSER_TEST") != "1" {
		t.Skip("set CALLBID_BROWSER_TEST=1 to load the status page in headless chromium (.ci/run does)")
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("CALLBID_BROWSER_TEST=1 but no chromium on PATH: apt-get install -y chromium")
	return ""
}

func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("CALLBID_TEST_ARTIFACTS")
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "callbid-status-page-"); err != nil {
			t.Fatal(err)
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browse loads url in headless chromium and returns the DOM after the page's
// scripts ran for budget of virtual time (0: right after load); with shot
// set it also writes a screenshot there.
func browse(t *testing.T, chrome, url string, budget time.Duration, shot string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
		"--user-data-dir=" + t.TempDir()}
	if budget > 0 {
		args = append(args, "--virtual-time-budget="+strconv.FormatInt(budget.Milliseconds(), 10))
	}
	if shot != "" {
		shotArgs := append(append([]string(nil), args...), "--window-size=1400,1500", "--screenshot="+shot, url)
		if out, err := exec.CommandContext(ctx, chrome, shotArgs...).CombinedOutput(); err != nil {
			t.Fatalf("chromium --screenshot: %v\n%s", err, out)
		}
		if st, err := os.Stat(shot); err != nil || st.Size() == 0 {
			t.Fatalf("no screenshot at %s: %v", shot, err)
		}
	}
	cmd := exec.CommandContext(ctx, chrome, append(args, "--dump-dom", url)...)
	dom, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom: %v", err)
	}
	return string(dom)
}

// cell reads <td data-k="key"> of the row marked attr="id" from a DOM dump.
func cell(t *testing.T, dom, attr, id, key string) string {
	t.Helper()
	row := regexp.MustCompile(`(?s)<tr ` + attr + `="` + regexp.QuoteMeta(id) + `"[^>]*>(.*?)</tr>`).FindStringSubmatch(dom)
	if row == nil {
		t.Fatalf("no row %s=%q in the page", attr, id)
	}
	m := regexp.MustCompile(`<td data-k="` + key + `">([^<]*)</td>`).FindStringSubmatch(row[1])
	if m == nil {
		t.Fatalf("row %s=%q has no %s cell: %s", attr, id, key, row[1])
	}
	return m[1]
}

func TestStatusPageInBrowser(t *testing.T) {
	chrome := chromiumPath(t)
	arts := artifactDir(t)
	p := startInProcess(t, nil)
	waitFor(t, "ready", 20*time.Second, &proc{out: p.out}, func() bool { c, _ := p.get(t, "/readyz"); return c == 200 })
	url := "http://" + p.admin + "/"

	p.agents(t, "mortgage", 0, 4)
	first := p.waitAvailable(t, "mortgage", 4)
	p.a.status.Sample(time.Now())
	dom1 := browse(t, chrome, url, 0, filepath.Join(arts, "status-4-agents.png"))

	// More agents log in: the figures on the page move.
	p.agents(t, "mortgage", 4, 6)
	second := p.waitAvailable(t, "mortgage", 10)
	if second.Headroom <= first.Headroom || second.LambdaMax <= first.LambdaMax {
		t.Fatalf("headroom did not grow with the agents: %+v -> %+v", first, second)
	}
	p.a.status.Sample(time.Now())
	// A few seconds of virtual time: the page's own script refreshes it.
	dom2 := browse(t, chrome, url, 7*time.Second, filepath.Join(arts, "status-10-agents.png"))
	t.Logf("screenshots in %s", arts)

	for _, dom := range []string{dom1, dom2} {
		for _, want := range []string{`id="ready">READY`, `<tr data-pool="mortgage-pool"`, `<tr data-campaign="mortgage-refi"`,
			`<tr data-feed="cc.agent-state.v1"`, `data-chart="headroom"`, `<polyline`} {
			if !regexp.MustCompile(regexp.QuoteMeta(want)).MatchString(dom) {
				t.Errorf("the page in the browser lacks %q", want)
			}
		}
	}
	if a := cell(t, dom1, "data-skill", "mortgage", "available"); a != "4" {
		t.Errorf("first load: %s agents available, want 4", a)
	}
	if a := cell(t, dom2, "data-skill", "mortgage", "available"); a != "10" {
		t.Errorf("second load: %s agents available, want 10", a)
	}
	h1, h2 := cell(t, dom1, "data-skill", "mortgage", "headroom"), cell(t, dom2, "data-skill", "mortgage", "headroom")
	l1, l2 := cell(t, dom1, "data-skill", "mortgage", "lambda_max"), cell(t, dom2, "data-skill", "mortgage", "lambda_max")
	if h1 == h2 || l1 == l2 {
		t.Errorf("headroom %s -> %s, λ_max %s -> %s: the figures did not move", h1, h2, l1, l2)
	}
	if u := cell(t, dom2, "data-pool", "mortgage-pool", "utilization"); u != "0.0%" {
		t.Errorf("mortgage-pool utilization %q", u)
	}
	if age := cell(t, dom2, "data-feed", "cc.agent-state.v1", "age"); age == "never" {
		t.Errorf("agent-state feed age %q after events", age)
	}
	// The live refresh ran in the browser and succeeded.
	if !regexp.MustCompile(`id="conn" class="muted">live: updated `).MatchString(dom2) {
		m := regexp.MustCompile(`<span id="conn"[^>]*>[^<]*</span>`).FindString(dom2)
		t.Errorf("the page did not refresh itself: %s", m)
	}
	// The chart's legend shows the newest sample.
	if !regexp.MustCompile(`data-chart="available".*?data-series="mortgage">10</b>`).MatchString(dom2) {
		t.Errorf("the available-agents chart does not end at 10")
	}
}
