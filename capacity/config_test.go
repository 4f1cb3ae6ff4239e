package capacity

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestConfigDefaultsValid(t *testing.T) {
	for name, c := range map[string]Config{"zero": {}, "defaults": DefaultConfig()} {
		if err := c.Validate(); err != nil {
			t.Errorf("%s config: %v", name, err)
		}
	}
	var got Config
	got.SetDefaults()
	if !reflect.DeepEqual(got, DefaultConfig()) {
		t.Errorf("zero config with defaults = %+v, want %+v", got, DefaultConfig())
	}
}

func TestConfigYAML(t *testing.T) {
	var c Config
	src := `
service_level: {target: 0.9, answer_time: 30s}
max_occupancy: 0.8
default_handle_time: 6m
stale_after: 15s
factor: {min_headroom: 0.2, full_headroom: 3}
premium: {multiplier: 1, min_available: 2}
`
	if err := yaml.Unmarshal([]byte(src), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.ServiceLevel.AnswerTime != 30*time.Second || c.DefaultHandleTime != 6*time.Minute ||
		c.Factor.FullHeadroom != 3 || c.Premium.MinAvailable != 2 {
		t.Fatalf("decoded %+v", c)
	}
}

func TestConfigValidateEveryProblem(t *testing.T) {
	c := Config{
		ServiceLevel:         ServiceLevel{Target: 1.5, AnswerTime: -time.Second},
		MaxOccupancy:         1,
		DefaultHandleTime:    -1,
		DefaultAfterCallWork: 2 * time.Hour,
		HandleTimeAlpha:      2,
		ArrivalWindow:        -1,
		WaitingHorizon:       -1,
		WaitingTimeout:       -1,
		StaleAfter:           10 * time.Millisecond,
		DefaultAgentTTL:      -1,
		RebuildInterval:      time.Second,
		RefreshInterval:      100 * time.Millisecond,
		Factor:               FactorConfig{MinHeadroom: 2, FullHeadroom: 1},
		Premium:              PremiumConfig{Multiplier: 0.5, MinAvailable: -1},
		MaxSkills:            -3,
	}
	err := c.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, path := range []string{
		"service_level.target: 1.5", "service_level.answer_time:", "max_occupancy:", "default_handle_time:",
		"default_after_call_work:", "handle_time_alpha:", "arrival_window:", "waiting_horizon:", "waiting_timeout:",
		"stale_after:", "default_agent_ttl:", "refresh_interval:", "factor.full_headroom:",
		"premium.multiplier:", "premium.min_available:", "max_skills:",
	} {
		found := false
		for _, line := range strings.Split(msg, "\n") {
			if strings.HasPrefix(line, path) {
				found = true
			}
		}
		if !found {
			t.Errorf("no line starting %q in:\n%s", path, msg)
		}
	}
	if err := (&Config{Factor: FactorConfig{MinHeadroom: -1}}).Validate(); err == nil ||
		!strings.HasPrefix(err.Error(), "factor.min_headroom:") {
		t.Errorf("negative min_headroom: %v", err)
	}
}
