package feedback

import (
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/callbid/callbid/callrecords"
	"github.com/callbid/callbid/events"
	"github.com/prometheus/client_golang/prometheus"
)

// stats are the package's counters, exported through RegisterMetrics.
type stats struct {
	malformed      [numTopics][numBadReasons]atomic.Int64
	duplicates     [numTopics]atomic.Int64
	orphans        atomic.Int64
	unattributed   atomic.Int64
	repeatCalls    atomic.Int64 // calls from a repeat caller (counted once in hit rates)
	repeatEvicted  atomic.Int64 // callers forgotten early because max_repeat_callers was reached
	losses         atomic.Int64
	wins           atomic.Int64
	recordsDropped atomic.Int64
	emitted        atomic.Int64
	publishDropped atomic.Int64
}

func (s *stats) bad(topic, reason int) { s.malformed[topic][reason].Add(1) }

// Stats is a copy of the counters, for tests and the admin page.
type Stats struct {
	Malformed      map[string]int64 // "topic/reason"
	Duplicates     map[string]int64 // topic
	Orphans        int64
	Unattributed   int64
	Wins, Seen     int64
	Bids           int64
	RecordsDropped int64
	Emitted        int64
	PublishDropped int64
}

// Stats returns the current counters.
func (f *Feedback) Stats() Stats {
	s := Stats{Malformed: map[string]int64{}, Duplicates: map[string]int64{}}
	for t := range numTopics {
		for r := range numBadReasons {
			if v := f.st.malformed[t][r].Load(); v != 0 {
				s.Malformed[topicNames[t]+"/"+badNames[r]] = v
			}
		}
		if v := f.st.duplicates[t].Load(); v != 0 {
			s.Duplicates[topicNames[t]] = v
		}
	}
	s.Orphans, s.Unattributed = f.st.orphans.Load(), f.st.unattributed.Load()
	s.Wins = f.st.wins.Load()
	s.Seen, s.Bids = f.reports.Totals()
	for r, v := range f.reports.Malformed() {
		s.Malformed[events.TopicBids+"/"+r] = v
	}
	s.RecordsDropped, s.Emitted, s.PublishDropped = f.st.recordsDropped.Load(), f.st.emitted.Load(), f.st.publishDropped.Load()
	return s
}

// RegisterMetrics registers the callbid_feedback_* collectors.
func (f *Feedback) RegisterMetrics(reg prometheus.Registerer) error {
	var cs []prometheus.Collector
	cf := func(name, help string, labels prometheus.Labels, v *atomic.Int64) {
		cs = append(cs, prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels},
			func() float64 { return float64(v.Load()) }))
	}
	for t := range numTopics {
		for r := range numBadReasons {
			if t == tCall || t == tOutcome || t == tAttr || t == tBids {
				break // checked once by the events consumer: callbid_events_bad_total
			}
			cf("callbid_feedback_malformed_events_total", "Events skipped because they were malformed, by topic and reason.",
				prometheus.Labels{"topic": topicNames[t], "reason": badNames[r]}, &f.st.malformed[t][r])
		}
		cf("callbid_feedback_duplicate_events_total", "Events dropped as duplicates (idempotent by bid_id/call_id).",
			prometheus.Labels{"topic": topicNames[t]}, &f.st.duplicates[t])
	}
	cf("callbid_feedback_orphan_outcomes_total", "Outcomes whose call was never attributed within orphan_ttl.", nil, &f.st.orphans)
	cf("callbid_feedback_repeat_calls_total", "Attributed calls from a caller who called the same campaign within repeat_window (counted once in hit rates).", nil, &f.st.repeatCalls)
	cf("callbid_feedback_repeat_callers_evicted_total", "Callers forgotten before their repeat_window ended because max_repeat_callers was reached.", nil, &f.st.repeatEvicted)
	cf("callbid_feedback_unattributed_calls_total", "Call events never joined with an attribution within orphan_ttl.", nil, &f.st.unattributed)
	cf("callbid_feedback_wins_total", "Won impressions counted (unique bid ids).", nil, &f.st.wins)
	cf("callbid_feedback_losses_total", "Loss notices seen.", nil, &f.st.losses)
	cf("callbid_feedback_records_dropped_total", "Bid-path counts dropped because the queue was full.", nil, &f.st.recordsDropped)
	cf("callbid_feedback_attribution_emitted_total", "Attributions re-emitted with a changed outcome.", nil, &f.st.emitted)
	cf("callbid_feedback_publish_dropped_total", "Outbound events the producer refused.", nil, &f.st.publishDropped)
	age := func(topic string, v *atomic.Int64) {
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "callbid_feedback_feed_age_seconds",
			Help: "Seconds since the last event of a feedback feed (-1 before the first).", ConstLabels: prometheus.Labels{"feed": topic}},
			func() float64 {
				n := v.Load()
				if n == 0 {
					return -1
				}
				return f.clock().Sub(time.Unix(0, n)).Seconds()
			}))
	}
	age("impressions", &f.lastImpEvent)
	age("calls", &f.lastCallEvent)
	cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "callbid_feedback_pending_calls_records",
		Help: "Call records held for joining and late outcomes."}, func() float64 {
		f.mu.Lock()
		defer f.mu.Unlock()
		return float64(f.recs.Stats().Parts[callrecords.Feedback])
	}))
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("cannot register feedback metrics: %w", err)
		}
	}
	return nil
}

// stallCalls is how many calls must be expected since the last call-feed
// event before the call feed counts as stalled (a quiet feed is normal when
// few calls are expected).
const stallCalls = 20

// Ready reports whether the feedback feeds are fresh; reason says why not.
// A stalled feed leaves the last rates in place; Ready only reports it.
func (f *Feedback) Ready() (ok bool, reason string) {
	now := f.clock()
	lastBid, lastImp := f.lastBidAt.Load(), f.lastImpEvent.Load()
	// Not winning for a while is normal for a low bidder: the feed counts as
	// stalled only after StaleBids bids and StaleAfter without any event.
	if lastBid != 0 && now.UnixNano()-lastBid < int64(f.cfg.StaleAfter) && f.bidsSinceImp.Load() >= int64(f.cfg.StaleBids) {
		ref := lastImp
		if ref == 0 {
			ref = f.started.UnixNano()
		}
		if lastBid-ref > int64(f.cfg.StaleAfter) {
			return false, fmt.Sprintf("impressions feed stalled: no event for %s while bidding", now.Sub(time.Unix(0, ref)).Round(time.Second))
		}
	}
	if exp := math.Float64frombits(f.expectedSince.Load()); exp >= stallCalls {
		ref := f.lastCallEvent.Load()
		if ref == 0 {
			ref = f.started.UnixNano()
		}
		return false, fmt.Sprintf("call feed stalled: %.0f calls expected since the last call event %s ago", exp, now.Sub(time.Unix(0, ref)).Round(time.Second))
	}
	return true, ""
}
