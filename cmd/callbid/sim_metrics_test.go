package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// The demo's simulated contact center shows its own (SIMULATED) agent gauges
// in /metrics beside callbid's model of them.
func TestDemoExposesSimulatorMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	p := startBidder(t, buildBinary(t), demoConfig(t))
	resp, err := http.Get("http://" + p.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`callbid_ccsim_agents{`, `callbid_ccsim_waiting_calls{`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
}
