package callrecords

import (
	"fmt"
	"sync"

	"github.com/callbid/callbid/events"
	"github.com/prometheus/client_golang/prometheus"
)

// Slot names a user's part of a record.
type Slot uint8

// The users of call records.
const (
	// Numbers: /v1/calls's answer, the caller, the lease the call ended,
	// the SPAM flag.
	Numbers Slot = iota
	// Feedback: the join of attribution, call and outcome events and the
	// call's contribution to the counters.
	Feedback
	numSlots
)

// record is one call. Records form a list in insertion order (oldest
// first), which is the eviction order.
type record struct {
	id         string
	at         int64 // the call's start, unix ns; 0 unknown yet (retention does not apply)
	prev, next *record
	attr       *events.Attribution // the call's attribution, held once for every user; immutable
	parts      [numSlots]any
}

// Store holds the call records. The zero value is not usable; see New.
type Store struct {
	mu        sync.Mutex
	retention int64
	max       int
	byID      map[string]*record
	head      *record // oldest
	tail      *record
	mark      int64 // latest call start seen, never past the clock
	perSlot   [numSlots]int
	evicted   uint64
	expired   uint64
}

// New builds a store; cfg gets its defaults and must pass Validate.
func New(cfg Config) (*Store, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Store{retention: int64(cfg.Retention), max: cfg.MaxRecords, byID: map[string]*record{}}, nil
}

// Get returns slot's part of call id's record (nil when there is none).
func (s *Store) Get(id string, slot Slot) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.byID[id]; r != nil {
		return r.parts[slot]
	}
	return nil
}

// Put sets slot's part of call id's record, creating the record (and
// evicting the oldest one when the store is full) if there is none. at is
// the call's start (unix ns, 0 if not known): the first non-zero at of a
// record dates it for retention. The store keeps id.
func (s *Store) Put(id string, slot Slot, part any, at int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.byID[id]
	if r == nil {
		for len(s.byID) >= s.max && s.head != nil {
			s.evicted++
			s.removeLocked(s.head)
		}
		r = &record{id: id}
		s.byID[id] = r
		if s.tail == nil {
			s.head, s.tail = r, r
		} else {
			r.prev, s.tail.next, s.tail = s.tail, r, r
		}
	}
	if r.parts[slot] == nil {
		s.perSlot[slot]++
	}
	r.parts[slot] = part
	if r.at == 0 {
		r.at = at
	}
}

// SetAttribution makes a the attribution of call id's record (if it has
// one), which every user may read: the record holds it once. a must not
// change afterwards. numbers sets it when it attributes a call.
func (s *Store) SetAttribution(id string, a *events.Attribution) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.byID[id]; r != nil {
		r.attr = a
	}
}

// Attribution returns the attribution of call id's record (nil: none).
// The caller must not change it.
func (s *Store) Attribution(id string) *events.Attribution {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.byID[id]; r != nil {
		return r.attr
	}
	return nil
}

// Release drops slot's part of call id's record; the record goes with its
// last part.
func (s *Store) Release(id string, slot Slot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.byID[id]; r != nil {
		s.releaseLocked(r, slot)
	}
}

func (s *Store) releaseLocked(r *record, slot Slot) {
	if r.parts[slot] == nil {
		return
	}
	r.parts[slot] = nil
	s.perSlot[slot]--
	if r.parts == [numSlots]any{} {
		s.removeLocked(r)
	}
}

func (s *Store) removeLocked(r *record) {
	delete(s.byID, r.id)
	for i, p := range r.parts {
		if p != nil {
			s.perSlot[i]--
		}
	}
	if r.prev != nil {
		r.prev.next = r.next
	} else {
		s.head = r.next
	}
	if r.next != nil {
		r.next.prev = r.prev
	} else {
		s.tail = r.prev
	}
	*r = record{} // a user may still hold a part; the record itself is garbage
}

// Observe advances the event-time mark retention is measured from to t
// (unix ns), never past now: a clock ahead of ours cannot expire every
// record at once.
func (s *Store) Observe(t, now int64) {
	t = min(t, now)
	s.mu.Lock()
	if t > s.mark {
		s.mark = t
	}
	s.mu.Unlock()
}

// Expire forgets the records that started more than the retention before
// the mark, and returns how many. O(records).
func (s *Store) Expire() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	cut, n := s.mark-s.retention, 0
	for r := s.head; r != nil; {
		next := r.next
		if r.at != 0 && r.at < cut {
			s.removeLocked(r)
			n++
		}
		r = next
	}
	s.expired += uint64(n)
	return n
}

// Scan calls keep for every part in slot, oldest record first, and
// releases those it returns false for. keep runs under the store's lock and
// must not call the store.
func (s *Store) Scan(slot Slot, keep func(part any) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for r := s.head; r != nil; {
		next := r.next
		if p := r.parts[slot]; p != nil && !keep(p) {
			s.releaseLocked(r, slot)
		}
		r = next
	}
}

// Stats is a snapshot of the store's counters.
type Stats struct {
	Records int           // records held
	Parts   [numSlots]int // records holding each slot's part
	Evicted uint64        // records dropped before their retention at max_records
	Expired uint64        // records dropped at their retention
}

// Stats reports the counters.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Records: len(s.byID), Parts: s.perSlot, Evicted: s.evicted, Expired: s.expired}
}

var (
	descRecords = prometheus.NewDesc("callbid_call_records", "Call records held (call_records.max_records bounds them).", nil, nil)
	descEvicted = prometheus.NewDesc("callbid_call_records_evicted_total", "Call records dropped before call_records.retention because call_records.max_records was reached.", nil, nil)
	descExpired = prometheus.NewDesc("callbid_call_records_expired_total", "Call records dropped at call_records.retention.", nil, nil)
)

// Describe implements prometheus.Collector.
func (s *Store) Describe(ch chan<- *prometheus.Desc) {
	ch <- descRecords
	ch <- descEvicted
	ch <- descExpired
}

// Collect implements prometheus.Collector.
func (s *Store) Collect(ch chan<- prometheus.Metric) {
	st := s.Stats()
	ch <- prometheus.MustNewConstMetric(descRecords, prometheus.GaugeValue, float64(st.Records))
	ch <- prometheus.MustNewConstMetric(descEvicted, prometheus.CounterValue, float64(st.Evicted))
	ch <- prometheus.MustNewConstMetric(descExpired, prometheus.CounterValue, float64(st.Expired))
}

// RegisterMetrics registers the store's metrics with reg.
func (s *Store) RegisterMetrics(reg prometheus.Registerer) error {
	if err := reg.Register(s); err != nil {
		return fmt.Errorf("cannot register call record metrics: %w", err)
	}
	return nil
}
