package bench

import (
	"strconv"
	"sync"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Histograms hold microseconds from 1 µs to 60 s.
const (
	histMin   = 1
	histMax   = 60_000_000
	histSig   = 3
	seriesSig = 2 // per-second histograms: cheap to merge every second
)

func newHist(sig int) *hdrhistogram.Histogram { return hdrhistogram.New(histMin, histMax, sig) }

// tally counts one sender's outcomes. Maps only grow on rare outcomes
// (errors, odd statuses, no-bid reasons), not per request.
type tally struct {
	sent, responses, errors, timeouts, expired int64
	bidResponses, bids, noBids, badBodies      int64
	priceSum                                   float64
	code                                       int // addOne: the one answer's status (0: none)
	status                                     [600]int64
	nbr                                        map[int]int64
	errKinds                                   map[string]int64
}

func (t *tally) add(o *tally) {
	t.addCounts(o)
	for i, n := range o.status {
		t.status[i] += n
	}
	for k, n := range o.nbr {
		if t.nbr == nil {
			t.nbr = map[int]int64{}
		}
		t.nbr[k] += n
	}
	for k, n := range o.errKinds {
		if t.errKinds == nil {
			t.errKinds = map[string]int64{}
		}
		t.errKinds[k] += n
	}
}

// addCounts adds o's scalar counters.
func (t *tally) addCounts(o *tally) {
	t.sent += o.sent
	t.responses += o.responses
	t.errors += o.errors
	t.timeouts += o.timeouts
	t.expired += o.expired
	t.bidResponses += o.bidResponses
	t.bids += o.bids
	t.noBids += o.noBids
	t.badBodies += o.badBodies
	t.priceSum += o.priceSum
}

// addOne adds a single request's outcome (o.code instead of o.status),
// cheaply: this runs once per request.
func (t *tally) addOne(o *tally) {
	t.addCounts(o)
	if o.code > 0 && o.code < len(t.status) {
		t.status[o.code]++
	}
	if len(o.nbr) > 0 || len(o.errKinds) > 0 {
		var tmp tally
		tmp.nbr, tmp.errKinds = o.nbr, o.errKinds
		t.add(&tmp)
	}
}

// resetOne clears a per-request tally without touching the status array.
func (t *tally) resetOne() {
	nbr, ek := t.nbr, t.errKinds
	if len(nbr) > 0 {
		clear(nbr)
	}
	if len(ek) > 0 {
		clear(ek)
	}
	t.sent, t.responses, t.errors, t.timeouts, t.expired = 0, 0, 0, 0, 0
	t.bidResponses, t.bids, t.noBids, t.badBodies, t.priceSum, t.code = 0, 0, 0, 0, 0, 0
	t.nbr, t.errKinds = nbr, ek
}

func (t *tally) reset() {
	nbr, ek := t.nbr, t.errKinds
	clear(nbr)
	clear(ek)
	*t = tally{nbr: nbr, errKinds: ek}
}

func (t *tally) countNBR(code int) {
	if t.nbr == nil {
		t.nbr = map[int]int64{}
	}
	t.nbr[code]++
}

func (t *tally) countErr(kind string) {
	if t.errKinds == nil {
		t.errKinds = map[string]int64{}
	}
	t.errKinds[kind]++
}

// window is one sender's current-second figures, swapped out by the
// collector every second (hence the mutex; it is never contended for long).
type window struct {
	mu   sync.Mutex
	hist *hdrhistogram.Histogram // from the scheduled send time
	svc  *hdrhistogram.Histogram // from the actual send (service time)
	t    tally
}

func (t *tally) statusMap() map[string]int64 {
	m := map[string]int64{}
	for code, n := range t.status {
		if n > 0 {
			m[strconv.Itoa(code)] = n
		}
	}
	return m
}
