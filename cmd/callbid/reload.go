package main

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/callbid/callbid/bidder"
	"github.com/prometheus/client_golang/prometheus"
)

// reloadMetrics counts config reloads by result, whatever started them and
// wherever they failed (read, parse, validation, compile).
type reloadMetrics struct {
	mu          sync.Mutex
	success     uint64
	failure     uint64
	lastOK      bool
	lastSuccess time.Time
}

func (r *reloadMetrics) record(ok bool, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lastOK = ok
	if ok {
		r.success++
		r.lastSuccess = at
	} else {
		r.failure++
	}
}

// register exports callbid_config_*. The config loaded at start counts as
// the first successful load, as Prometheus itself does, so "seconds since
// the last good config" is meaningful from the first scrape.
func (r *reloadMetrics) register(reg prometheus.Registerer, started time.Time) error {
	r.mu.Lock()
	r.lastOK, r.lastSuccess = true, started
	r.mu.Unlock()
	read := func(f func() float64) func() float64 {
		return func() float64 { r.mu.Lock(); defer r.mu.Unlock(); return f() }
	}
	cs := []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "callbid_config_reloads_total",
			Help: "Config reload attempts (file change, SIGHUP, POST /admin/reload) by result.", ConstLabels: prometheus.Labels{"result": "success"}},
			read(func() float64 { return float64(r.success) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "callbid_config_reloads_total",
			Help: "Config reload attempts (file change, SIGHUP, POST /admin/reload) by result.", ConstLabels: prometheus.Labels{"result": "failure"}},
			read(func() float64 { return float64(r.failure) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "callbid_config_last_reload_successful",
			Help: "1 when the last reload attempt (or the start) applied its config, 0 when it was refused."},
			read(func() float64 {
				if r.lastOK {
					return 1
				}
				return 0
			})),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "callbid_config_last_reload_success_timestamp_seconds",
			Help: "Unix time of the last config applied (the start counts)."},
			read(func() float64 { return float64(r.lastSuccess.UnixNano()) / 1e9 })),
	}
	var errs []error
	for _, c := range cs {
		errs = append(errs, reg.Register(c))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cannot register config metrics: %w", err)
	}
	return nil
}

// campaignDiff is what a reload changed, by campaign id.
type campaignDiff struct{ added, removed, changed []string }

func diffCampaigns(old, cur []bidder.CampaignConfig) campaignDiff {
	before := make(map[string]*bidder.CampaignConfig, len(old))
	for i := range old {
		before[old[i].ID] = &old[i]
	}
	var d campaignDiff
	seen := make(map[string]bool, len(cur))
	for i := range cur {
		c := &cur[i]
		seen[c.ID] = true
		switch o, ok := before[c.ID]; {
		case !ok:
			d.added = append(d.added, c.ID)
		case !reflect.DeepEqual(*o, *c):
			d.changed = append(d.changed, c.ID)
		}
	}
	for i := range old {
		if !seen[old[i].ID] {
			d.removed = append(d.removed, old[i].ID)
		}
	}
	return d
}

func (d campaignDiff) String() string {
	var parts []string
	for _, p := range []struct {
		what string
		ids  []string
	}{{"added", d.added}, {"removed", d.removed}, {"changed", d.changed}} {
		if len(p.ids) > 0 {
			parts = append(parts, p.what+" "+strings.Join(p.ids, ", "))
		}
	}
	if len(parts) == 0 {
		return "no campaign changed"
	}
	return "campaigns " + strings.Join(parts, "; ")
}
