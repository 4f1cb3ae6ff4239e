package bench

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestDefaultConfigIsValid(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestValidateNamesEveryProblem(t *testing.T) {
	c := DefaultConfig()
	c.Target = "http://10.0.0.1:8080"
	c.Rate = -1
	c.Conns = 0
	c.Duration = 0
	c.ClosedLoop.WinRate = 2
	c.Admin = "ftp://x"
	c.MaxSendLag = 2 * c.Timeout
	c.Client = "curl"
	err := c.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"target: \"10.0.0.1\" is not a loopback", "rate: -1", "conns: 0", "duration: a run needs",
		"closed_loop.win_rate: 2", "admin: \"ftp://x\"", "max_send_lag: 2s must be between 0 and the timeout (1s)",
		`client: "curl" must be "raw", "fasthttp" or empty`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	c = DefaultConfig()
	c.FindMax = FindMaxConfig{Enabled: true, Start: 100, Step: 0, Limit: 50, StepDuration: time.Second, P99: time.Millisecond, MinAchieved: 1}
	err = c.Validate()
	for _, want := range []string{"find_max.step: 0", "find_max.limit: 50"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

func TestCeilingBody(t *testing.T) {
	b := CeilingBody("127.0.0.1:9090")
	if len(b) != CeilingBodySize {
		t.Fatalf("ceiling body is %d bytes, want %d", len(b), CeilingBodySize)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("ceiling body is not JSON: %v", err)
	}
}

// TestCeilingBodyOfSize: a sized ceiling answer is valid JSON of exactly the
// size asked, or the bare bid when the size is below it.
func TestCeilingBodyOfSize(t *testing.T) {
	for _, size := range []int{1530, 4096, 0} {
		b := CeilingBodyOfSize("127.0.0.1:19090", size)
		if size > 0 && len(b) != size {
			t.Errorf("size %d: body is %d bytes", size, len(b))
		}
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Errorf("size %d: not JSON: %v", size, err)
		}
	}
}
