package callrecords

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func newStore(t testing.TB, cfg Config) *Store {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const hour = int64(time.Hour)

func TestPartsShareOneRecord(t *testing.T) {
	s := newStore(t, Config{})
	s.Put("c1", Feedback, "fb", 0) // an outcome before the attribution
	s.Put("c1", Numbers, "nb", 5*hour)
	if s.Get("c1", Numbers) != "nb" || s.Get("c1", Feedback) != "fb" || s.Get("c2", Numbers) != nil {
		t.Fatal("parts not kept")
	}
	st := s.Stats()
	if st.Records != 1 || st.Parts != [numSlots]int{1, 1} {
		t.Fatalf("stats %+v", st)
	}
	s.Release("c1", Feedback)
	if s.Get("c1", Numbers) != "nb" || s.Stats().Records != 1 {
		t.Fatal("releasing one part dropped the other")
	}
	s.Release("c1", Numbers)
	if st := s.Stats(); st.Records != 0 || st.Parts != [numSlots]int{} {
		t.Fatalf("a record without parts is kept: %+v", st)
	}
}

func TestOldestEvictedFirst(t *testing.T) {
	s := newStore(t, Config{MaxRecords: 3})
	for i := range 5 {
		s.Put(fmt.Sprint(i), Numbers, i, int64(i+1))
	}
	s.Put("4", Feedback, "f", 0) // an update is not an insert
	st := s.Stats()
	if st.Records != 3 || st.Evicted != 2 || s.Get("1", Numbers) != nil || s.Get("2", Numbers) != 2 || s.Get("4", Feedback) != "f" {
		t.Fatalf("stats %+v", st)
	}
	if st.Parts != [numSlots]int{3, 1} {
		t.Fatalf("parts %v", st.Parts)
	}
}

func TestRetentionInEventTime(t *testing.T) {
	s := newStore(t, Config{Retention: 24 * time.Hour})
	s.Put("old", Numbers, 1, 1*hour)
	s.Put("orphan", Feedback, 2, 0) // not dated: its user releases it
	s.Put("new", Numbers, 3, 20*hour)
	s.Observe(20*hour, 100*hour)
	if s.Expire() != 0 {
		t.Fatal("expired within the retention")
	}
	// A clock far ahead of the events does not expire anything: only
	// event time does (a replay after a restart keeps its records).
	s.Observe(100*hour, 26*hour)
	if s.Expire() != 1 || s.Get("old", Numbers) != nil || s.Get("new", Numbers) != 3 || s.Get("orphan", Feedback) != 2 {
		t.Fatalf("after the mark moved: %+v", s.Stats())
	}
	if s.Stats().Expired != 1 {
		t.Fatal("expiry not counted")
	}
}

func TestScanReleases(t *testing.T) {
	s := newStore(t, Config{})
	for i := range 10 {
		s.Put(fmt.Sprint(i), Feedback, i, 0)
	}
	s.Put("3", Numbers, "n", hour)
	var seen []int
	s.Scan(Feedback, func(p any) bool {
		seen = append(seen, p.(int))
		return p.(int)%2 == 0
	})
	if len(seen) != 10 || seen[0] != 0 || seen[9] != 9 {
		t.Fatalf("scan order %v", seen)
	}
	st := s.Stats()
	if st.Records != 6 || st.Parts != [numSlots]int{1, 5} || s.Get("3", Numbers) != "n" {
		t.Fatalf("stats %+v", st)
	}
}

func TestConfig(t *testing.T) {
	c := Config{Retention: -time.Second, MaxRecords: -1}
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "retention:") || !strings.Contains(err.Error(), "max_records:") {
		t.Fatalf("%v", err)
	}
	c = Config{}
	c.SetDefaults()
	if c.Retention != DefaultRetention || c.MaxRecords != DefaultMaxRecords || c.Validate() != nil {
		t.Fatalf("%+v", c)
	}
	if _, err := New(Config{MaxRecords: -1}); err == nil {
		t.Fatal("New accepted a bad config")
	}
}

// TestConcurrentUsers runs two users as numbers and feedback do, each under
// its own lock, against one store (go test -race).
func TestConcurrentUsers(t *testing.T) {
	s := newStore(t, Config{MaxRecords: 500})
	var wg sync.WaitGroup
	for u := range numSlots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mu sync.Mutex // the user's lock
			for i := range 5_000 {
				id := fmt.Sprint(i % 700)
				mu.Lock()
				if p, _ := s.Get(id, u).(*int); p != nil {
					*p++
				} else {
					s.Put(id, u, new(int), int64(i+1))
				}
				s.Observe(int64(i), int64(i))
				if i%100 == 0 {
					s.Expire()
					s.Scan(u, func(p any) bool { return *p.(*int) < 3 })
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if st := s.Stats(); st.Records > 500 {
		t.Fatalf("%d records, max 500", st.Records)
	}
}

// TestRecordOverhead reports the heap the store itself takes per record
// (map entry, id, list links, slots), without the users' parts:
// go test ./callrecords -run RecordOverhead -v
func TestRecordOverhead(t *testing.T) {
	const n = 100_000
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("CA%032x", i) // a Twilio CallSid's length
	}
	s := newStore(t, Config{MaxRecords: n})
	part := new(int)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i, id := range ids {
		s.Put(id, Numbers, part, int64(i+1))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if s.Stats().Records != n {
		t.Fatal("records lost")
	}
	per := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / n
	t.Logf("%d records: %.0f B per record of store overhead (ids not counted)", n, per)
	runtime.KeepAlive(ids)
}
