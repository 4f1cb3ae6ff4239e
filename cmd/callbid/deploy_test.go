package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callbid/callbid"
	"github.com/callbid/callbid/events"
	"gopkg.in/yaml.v3"
)

// The deploy kit (deploy/) is checked against the code it deploys: every
// metric the dashboard and the alert rules query exists, the ConfigMap is the
// production config, and every CALLBID_* variable the manifests set is one
// callbid reads.

// pendingMetrics are queried by the deploy kit but added by work in
// progress elsewhere. Each must be ABSENT from /metrics: once it lands the
// test fails, and the entry is removed here (or the rule fixed if the name
// that landed differs).
var pendingMetrics = map[string]string{}

var metricRE = regexp.MustCompile(`\bcallbid_[a-z0-9_]+`)

// deployQueries returns every PromQL expression in the alert rules and the
// dashboard, by where it came from.
func deployQueries(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	b, err := os.ReadFile("../../deploy/prometheus/callbid-rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert, Record, Expr string
			}
		}
	}
	if err := yaml.Unmarshal(b, &rules); err != nil {
		t.Fatal(err)
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			out["rule "+r.Alert+r.Record] = append(out["rule "+r.Alert+r.Record], r.Expr)
		}
	}
	b, err = os.ReadFile("../../deploy/grafana/callbid-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
		Templating struct {
			List []struct {
				Name  string
				Query any
			}
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			out["panel "+p.Title] = append(out["panel "+p.Title], tg.Expr)
		}
	}
	for _, v := range dash.Templating.List {
		if q, ok := v.Query.(map[string]any); ok {
			if s, ok := q["query"].(string); ok {
				out["variable "+v.Name] = append(out["variable "+v.Name], s)
			}
		}
	}
	if len(out) < 10 {
		t.Fatalf("only %d queries found: the files' structure changed", len(out))
	}
	return out
}

// exposedNames are the series names in a /metrics page.
func exposedNames(page string) map[string]bool {
	names := map[string]bool{}
	for _, line := range strings.Split(page, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	return names
}

func TestDeployKitQueriesExistingMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the app with an in-process broker")
	}
	queries := deployQueries(t)
	wanted := map[string][]string{} // metric → where
	for where, exprs := range queries {
		for _, e := range exprs {
			for _, m := range metricRE.FindAllString(e, -1) {
				wanted[m] = append(wanted[m], where)
			}
		}
	}
	p := startInProcess(t, nil)
	// Per-skill series exist once a skill has been seen.
	p.agents(t, "mortgage", 0, 3)
	p.waitAvailable(t, "mortgage", 3)
	// Labelled counters exist once they have a series: one bad record.
	if !p.prod.Publish(events.TopicAgentState, []byte("test:bad"), []byte("{not json")) {
		t.Fatal("bad record publish dropped")
	}

	var missing, landed []string
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, page := p.get(t, "/metrics")
		names := exposedNames(page)
		missing, landed = nil, nil
		for m, where := range wanted {
			_, pending := pendingMetrics[m]
			switch {
			case pending && names[m]:
				landed = append(landed, m)
			case !pending && !names[m]:
				slices.Sort(where)
				missing = append(missing, m+" (queried by "+strings.Join(slices.Compact(where), ", ")+")")
			}
		}
		// Some series appear after the first pacing tick; wait, bounded.
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	slices.Sort(missing)
	slices.Sort(landed)
	for _, m := range missing {
		t.Errorf("the deploy kit queries %s, which callbid does not expose", m)
	}
	for _, m := range landed {
		t.Errorf("%s now exists: remove it from pendingMetrics", m)
	}
	for m := range pendingMetrics {
		if _, ok := wanted[m]; !ok {
			t.Errorf("pendingMetrics lists %s, which the deploy kit no longer queries", m)
		}
	}
}

// TestMetricsPassPromtool: `promtool check metrics` finds nothing to say
// about callbid's /metrics. It runs when CALLBID_PROMTOOL_TEST=1 (.ci/run
// installs promtool and sets it).
func TestMetricsPassPromtool(t *testing.T) {
	if os.Getenv("CALLBID_PROMTOOL_TEST") != "1" {
		t.Skip("set CALLBID_PROMTOOL_TEST=1 to run promtool check metrics (.ci/run does)")
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("CALLBID_PROMTOOL_TEST=1 but no promtool on PATH: apt-get install -y prometheus")
	}
	p := startInProcess(t, nil)
	p.agents(t, "mortgage", 0, 3)
	p.waitAvailable(t, "mortgage", 3)
	_, page := p.get(t, "/metrics")
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(page)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestKubernetesConfigIsTheProductionConfig: the ConfigMap carries
// configs/production.yaml verbatim, and it loads with the Deployment's
// environment.
func TestKubernetesConfigIsTheProductionConfig(t *testing.T) {
	b, err := os.ReadFile("../../deploy/kubernetes/configmap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cm struct {
		Kind string
		Data map[string]string
	}
	if err := yaml.Unmarshal(b, &cm); err != nil {
		t.Fatal(err)
	}
	prod, err := os.ReadFile("../../configs/production.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cm.Kind != "ConfigMap" || cm.Data["callbid.yaml"] != string(prod) {
		t.Fatal("deploy/kubernetes/configmap.yaml is not configs/production.yaml verbatim: regenerate it")
	}
	env := deploymentEnv(t)
	dir := t.TempDir()
	for _, f := range []string{"notice_secret", "calls_token"} {
		if err := os.WriteFile(dir+"/"+f, []byte("mounted-secret-0123456789\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	getenv := func(k string) string {
		v := env[k]
		if strings.HasPrefix(v, "/run/secrets/callbid/") {
			v = dir + "/" + strings.TrimPrefix(v, "/run/secrets/callbid/")
		}
		return v
	}
	cfg, err := callbid.Load("../../configs/production.yaml", getenv)
	if err != nil {
		t.Fatalf("the production config with the Deployment's environment: %v", err)
	}
	if cfg.Server.AdminListen != ":8081" || cfg.Server.NoticeSecret != "mounted-secret-0123456789" {
		t.Errorf("admin %q, secret from the mounted file %q", cfg.Server.AdminListen, cfg.Server.NoticeSecret)
	}
}

// knownEnv are the variables callbid reads (plus the Go runtime's).
var knownEnv = []string{callbid.EnvConfig, callbid.EnvListen, callbid.EnvAdminListen, callbid.EnvKafkaBrokers,
	callbid.EnvCallsToken, callbid.EnvNoticeSecret, callbid.EnvNoticeBaseURL, callbid.EnvCallsTokenFile,
	callbid.EnvNoticeSecretFile, "GOMEMLIMIT", "GOMAXPROCS"}

func deploymentEnv(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("../../deploy/kubernetes/deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Spec struct {
			Template struct {
				Spec struct {
					Containers []struct {
						Env []struct {
							Name, Value string
						}
					}
				}
			}
		}
	}
	if err := yaml.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Spec.Template.Spec.Containers) != 1 {
		t.Fatal("want one container in the Deployment")
	}
	env := map[string]string{}
	for _, e := range d.Spec.Template.Spec.Containers[0].Env {
		env[e.Name] = e.Value
	}
	return env
}

func TestDeployKitSetsOnlyKnownVariables(t *testing.T) {
	var probes struct {
		Spec struct {
			Template struct {
				Spec struct {
					Containers []struct {
						LivenessProbe struct {
							HTTPGet struct{ Path string } `yaml:"httpGet"`
						} `yaml:"livenessProbe"`
						ReadinessProbe struct {
							HTTPGet struct{ Path string } `yaml:"httpGet"`
						} `yaml:"readinessProbe"`
					}
				}
			}
		}
	}
	b, err := os.ReadFile("../../deploy/kubernetes/deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &probes); err != nil {
		t.Fatal(err)
	}
	c := probes.Spec.Template.Spec.Containers[0]
	if c.LivenessProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("probes: liveness %q readiness %q", c.LivenessProbe.HTTPGet.Path, c.ReadinessProbe.HTTPGet.Path)
	}
	sources := map[string]string{}
	for name := range deploymentEnv(t) {
		sources[name] = "deploy/kubernetes/deployment.yaml"
	}
	for _, f := range []string{"../../deploy/systemd/callbid.service", "../../deploy/Dockerfile"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`(?m)^(?:Environment=|ENV )(CALLBID_[A-Z_]+)=`).FindAllStringSubmatch(string(b), -1) {
			sources[m[1]] = strings.TrimPrefix(f, "../../")
		}
	}
	if len(sources) < 5 {
		t.Fatalf("only %d variables found: the files' structure changed", len(sources))
	}
	for name, where := range sources {
		if !slices.Contains(knownEnv, name) {
			t.Errorf("%s sets %s, which callbid does not read", where, name)
		}
	}
}
