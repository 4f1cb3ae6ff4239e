package bidder

import (
	"errors"

	"github.com/callbid/callbid/numbers"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics holds the bidder's collectors, resolved per label value up front so
// the hot path never calls WithLabelValues.
type metrics struct {
	requests       prometheus.Counter
	bids           prometheus.Counter
	noBidVec       *prometheus.CounterVec
	noBids         [numCauses]prometheus.Counter
	badVec         *prometheus.CounterVec
	bad            [numBadReasons]prometheus.Counter
	latency        prometheus.Histogram
	noticeVec      *prometheus.CounterVec
	notices        [numNoticeKinds][numNoticeOutcomes]prometheus.Counter
	winVec         *prometheus.CounterVec
	winResults     [numWinResults]prometheus.Counter
	reloads        prometheus.Counter
	reloadErrors   prometheus.Counter
	publishDropped prometheus.Counter
	replayedSpend  prometheus.Counter
	srv            *serverMetrics // listeners and admission control
}

// badReason labels requests refused before a decision.
type badReason uint8

const (
	badMalformed badReason = iota
	badTooLarge
	badGzip
	badMethod
	numBadReasons
)

// numWinResults covers numbers.WinResult values 0 (unexpected) to WinUnknown.
const numWinResults = int(numbers.WinFallback) + 1

var winResultNames = [numWinResults]string{"other", "leased", "duplicate", "late", "collision", "unknown", "fallback"}

var badReasonNames = [numBadReasons]string{"malformed", "too_large", "bad_gzip", "method"}

func newMetrics() *metrics {
	m := &metrics{
		srv: newServerMetrics(),
		requests: prometheus.NewCounter(prometheus.CounterOpts{Name: "callbid_bidder_requests_total",
			Help: "Bid requests received on /openrtb2/bid."}),
		bids: prometheus.NewCounter(prometheus.CounterOpts{Name: "callbid_bidder_bids_total",
			Help: "Bids sent (one per imp bid on)."}),
		noBidVec: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "callbid_bidder_nobids_total",
			Help: "Bid requests answered without a bid, by reason."}, []string{"reason"}),
		badVec: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "callbid_bidder_bad_requests_total",
			Help: "Bid requests refused before a decision (400/405/413), by reason."}, []string{"reason"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "callbid_bidder_request_seconds",
			Help:    "Time from reading a bid request to writing the answer, excluding network.",
			Buckets: []float64{25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3}}),
		noticeVec: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "callbid_bidder_notices_total",
			Help: "Win/bill/loss notices by outcome (forged: bad signature, expired: token too old)."},
			[]string{"kind", "outcome"}),
		winVec: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "callbid_bidder_notice_numbers_total",
			Help: "What applied win/bill notices did to the tracking number (late/collision: the hold had expired; raise numbers.pools[].hold)."},
			[]string{"result"}),
		reloads: prometheus.NewCounter(prometheus.CounterOpts{Name: "callbid_bidder_reloads_total",
			Help: "Config snapshots swapped in by Apply."}),
		reloadErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "callbid_bidder_reload_errors_total",
			Help: "Reloads refused because the new config did not compile; the running config stayed."}),
		replayedSpend: prometheus.NewCounter(prometheus.CounterOpts{Name: "callbid_bidder_replayed_bills_total",
			Help: "Billing notices of earlier processes replayed into today's budgets at start."}),
		publishDropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "callbid_bidder_impressions_dropped_total",
			Help: "Impression events the publisher refused (queue full)."}),
	}
	for c := range m.noBids {
		m.noBids[c] = m.noBidVec.WithLabelValues(causeNames[c])
	}
	for r := range m.bad {
		m.bad[r] = m.badVec.WithLabelValues(badReasonNames[r])
	}
	for r := range m.winResults {
		m.winResults[r] = m.winVec.WithLabelValues(winResultNames[r])
	}
	for k := range m.notices {
		for o := range m.notices[k] {
			m.notices[k][o] = m.noticeVec.WithLabelValues(noticeKindNames[k], noticeOutcomeNames[o])
		}
	}
	return m
}

// RegisterMetrics registers the bidder's collectors with reg.
func (b *Bidder) RegisterMetrics(reg prometheus.Registerer) error {
	m := b.m
	var errs []error
	for _, c := range []prometheus.Collector{m.requests, m.bids, m.noBidVec, m.badVec, m.latency, m.noticeVec,
		m.winVec, m.reloads, m.reloadErrors, m.publishDropped, m.replayedSpend} {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	for _, c := range m.srv.collectors() {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
