package bidder

import (
	"errors"

	"github.com/callbid/callbid/numbers"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics holds the bidder's collectors, resolved per label value up front so
// the hot path never calls WithLabelValues.
type metrics struct {
	bids           prometheus.Counter
	noBidVec       *prometheus.CounterVec
	noBids         [numCauses]prometheus.Counter
	noticeVec      *prometheus.CounterVec
	notices        [numNoticeKinds][numNoticeOutcomes]prometheus.Counter
	winVec         *prometheus.CounterVec
	winResults     [numWinResults]prometheus.Counter
	reloads        prometheus.Counter
	reloadErrors   prometheus.Counter
	publishDropped prometheus.Counter
	replayedSpend  prometheus.Counter
	clearingVec    *prometheus.CounterVec
	clearing       [numNoticeKinds][numClearingResults]prometheus.Counter
	holdsReserved  *prometheus.CounterVec
	holdsRefused   *prometheus.CounterVec
	impsCapped     prometheus.Counter
}

// numWinResults covers numbers.WinResult values 0 (unexpected) to the
// last, WinRestored (a shared pool's wins for numbers another instance
// reserved are mostly restored: counted as "other" they were hidden).
const numWinResults = int(numbers.WinRestored) + 1

var winResultNames = func() (n [numWinResults]string) {
	n[0] = "other"
	for r := 1; r < numWinResults; r++ {
		n[r] = numbers.WinResult(r).String()
	}
	return n
}()

func newMetrics() *metrics {
	m := &metrics{
		bids: prometheus.NewCounter(prometheus.CounterOpts{Name: "callbid_bidder_bids_total",
			Help: "Bids sent (one per imp bid on)."}),
		noBidVec: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "callbid_bidder_nobids_total",
			Help: "Bid requests answered without a bid, by reason."}, []string{"reason"}),
		noticeVec: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "callbid_bidder_notices_total",
			Help: "Win/bill/loss notices by outcome (forged: bad signature, expired: token too old, " +
				"wrong_kind: another notice's token, conflict: win or bill after the loss or the reverse, probe: HEAD)."},
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
	m.clearingVec = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "callbid_bidder_clearing_prices_total",
		Help: "Clearing prices read from notices by kind and result (capped: above the bid price, booked at the bid price; " +
			"malformed: not a plain decimal, booked at the bid price; missing: macro not substituted)."},
		[]string{"kind", "result"})
	m.holdsReserved = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "callbid_bidder_source_reservations_total",
		Help: "Tracking numbers reserved (held) for bids, by exchange."}, []string{"exchange"})
	m.holdsRefused = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "callbid_bidder_source_refusals_total",
		Help: "Reservations refused because the client address (by=client) or the exchange (by=exchange) " +
			"holds its share of the pool (server.hold_budget), by exchange."}, []string{"exchange", "by"})
	m.impsCapped = prometheus.NewCounter(prometheus.CounterOpts{Name: "callbid_bidder_imps_capped_total",
		Help: "Imps not bid on because the request had server.max_bids_per_request bids already."})
	for k := range m.clearing {
		for r := range m.clearing[k] {
			m.clearing[k][r] = m.clearingVec.WithLabelValues(noticeKindNames[k], clearingResultNames[r])
		}
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
	holds := holdsCollector{b: b, desc: prometheus.NewDesc("callbid_bidder_source_holds",
		"Numbers held per exchange and pool: reservations in the last hold period (an upper bound; wins and losses end holds sooner). "+
			"Top client addresses: GET /admin/holds.", []string{"exchange", "pool"}, nil)}
	for _, c := range []prometheus.Collector{m.bids, m.noBidVec, m.noticeVec,
		m.winVec, m.reloads, m.reloadErrors, m.publishDropped, m.replayedSpend, m.clearingVec,
		m.holdsReserved, m.holdsRefused, m.impsCapped, holds} {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
