package numbers

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// The model: plain per-entry records and O(n) scans, written from the
// lifecycle rules, not from the implementation's lists.
type mEntry struct {
	st                     state
	ref                    Ref // current reservation
	claim                  int // claim number of the current reservation
	reservedAt, wonAt, end int64
	leased, called         bool
	order                  int64 // LRU: smallest is handed out first
	seq                    int64 // tie-break of equal lease ends
}

type modelSticky struct {
	ref           Ref
	claim         int
	from, expires int64
}

type model struct {
	es                []mEntry
	hold, lease, cool int64
	head, tail, seq   int64
	sticky            map[string]modelSticky // idx/ani
}

func (m *model) expireHolds(t int64) {
	var due []int
	for i := range m.es {
		if m.es[i].st == stHeld && m.es[i].reservedAt+m.hold <= t {
			due = append(due, i)
		}
	}
	slices.SortFunc(due, func(a, b int) int { return int(m.es[a].reservedAt - m.es[b].reservedAt) })
	for _, i := range due {
		m.es[i].st = stFree
		m.head--
		m.es[i].order = m.head // back to the front: never shown
	}
}

func (m *model) sweep(t int64) {
	m.expireHolds(t)
	byEnd := func(st state, due func(*mEntry) bool) []int {
		var out []int
		for i := range m.es {
			if m.es[i].st == st && due(&m.es[i]) {
				out = append(out, i)
			}
		}
		slices.SortFunc(out, func(a, b int) int {
			if m.es[a].end != m.es[b].end {
				return int(m.es[a].end - m.es[b].end)
			}
			return int(m.es[a].seq - m.es[b].seq)
		})
		return out
	}
	for _, i := range byEnd(stLeased, func(e *mEntry) bool { return e.end <= t }) {
		m.es[i].st = stCooldown
		m.seq++
		m.es[i].seq = m.seq
	}
	for _, i := range byEnd(stCooldown, func(e *mEntry) bool { return e.end+m.cool <= t }) {
		m.es[i].st = stFree
		m.tail++
		m.es[i].order = m.tail
	}
}

func (m *model) reserve(t int64) int {
	m.expireHolds(t)
	best := -1
	for i := range m.es {
		if m.es[i].st == stFree && (best < 0 || m.es[i].order < m.es[best].order) {
			best = i
		}
	}
	return best
}

func (m *model) leaseIt(i int, t int64) {
	e := &m.es[i]
	e.st, e.wonAt, e.end, e.leased = stLeased, t, t+m.lease, true
	m.seq++
	e.seq = m.seq
}

func (m *model) win(i int, ref Ref, t int64) WinResult {
	e := &m.es[i]
	switch {
	case e.ref != ref:
		return WinCollision
	case e.st == stHeld && e.reservedAt+m.hold > t:
		m.leaseIt(i, t)
		return WinLeased
	case e.st == stHeld || (e.st == stFree && !e.leased):
		m.leaseIt(i, t)
		return WinLate
	}
	return WinDuplicate
}

// call returns the expected match and claim number (-1 for none).
func (m *model) call(i int, ani string, t int64) (string, int) {
	e := &m.es[i]
	key := fmt.Sprint(i, "/", ani)
	st, hasSticky := m.sticky[key]
	if hasSticky && (t < st.from || t >= st.expires) {
		hasSticky = false
	}
	if hasSticky && st.ref != e.ref {
		return MatchSticky, st.claim
	}
	if e.ref != 0 {
		end := int64(0)
		switch {
		case e.st == stHeld:
			end = e.reservedAt + m.hold
		case e.leased:
			end = e.end
		}
		inLease := t >= e.reservedAt-callClockSkew && t < end // as lookup: whole-second started_at
		inCool := e.leased && t >= end && t < end+m.cool
		if inLease || inCool {
			match := MatchCooldown
			if inLease {
				match = MatchExact
			}
			if !e.called {
				e.called, e.leased = true, true
				if inLease && (e.st == stHeld || e.st == stLeased) {
					e.st, e.end = stCooldown, t
					m.seq++
					e.seq = m.seq
				}
				from := e.wonAt
				if from == 0 {
					from = e.reservedAt
				}
				m.sticky[key] = modelSticky{e.ref, e.claim, from, e.end + m.lease + m.cool}
			}
			return match, e.claim
		}
	}
	if hasSticky {
		return MatchSticky, st.claim
	}
	return MatchNone, -1
}

func TestModel(t *testing.T) {
	for seed := uint64(1); seed <= 40; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { runModel(t, seed) })
	}
}

func runModel(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	n := 1 + rng.IntN(12)
	cfg := onePool(n)
	cfg.Pools[0].Hold, cfg.Pools[0].Lease, cfg.Pools[0].Cooldown = 10*time.Second, 60*time.Second, 45*time.Second
	p := mustNew(t, cfg, nil)
	if len(p.pools[0].shards) != 1 {
		t.Fatal("model test needs a one-shard pool for exact LRU")
	}
	m := &model{es: make([]mEntry, n), hold: int64(10 * time.Second), lease: int64(60 * time.Second),
		cool: int64(45 * time.Second), sticky: map[string]modelSticky{}}
	for i := range m.es {
		m.tail++
		m.es[i].order = m.tail
	}
	var refs []Ref
	now := t0.UnixNano()
	anis := []string{"+14155550001", "+14155550002", "+14155550003"}
	for step := 0; step < 600; step++ {
		now += 1 + rng.Int64N(int64(8*time.Second))
		if rng.IntN(20) == 0 {
			now += rng.Int64N(int64(2 * time.Minute))
		}
		tm := time.Unix(0, now)
		op := rng.IntN(10)
		var what string
		switch {
		case op < 3:
			k := step
			r, ok := p.Reserve(0, testClaim(k), tm)
			want := m.reserve(now)
			what = fmt.Sprintf("reserve → %v %v (model %d)", refIndex(r.Ref), ok, want)
			if ok != (want >= 0) || (ok && int(refIndex(r.Ref)) != want) {
				t.Fatalf("step %d: %s", step, what)
			}
			if ok {
				e := &m.es[want]
				*e = mEntry{st: stHeld, ref: r.Ref, claim: k, reservedAt: now, order: e.order}
				refs = append(refs, r.Ref)
			}
		case op < 6 && len(refs) > 0:
			ref := refs[rng.IntN(len(refs))]
			got := p.Win(ref, rng.IntN(2) == 0, tm)
			want := m.win(int(refIndex(ref)), ref, now)
			what = fmt.Sprintf("win %x → %s (model %s)", ref, got, want)
			if got != want {
				t.Fatalf("step %d: %s", step, what)
			}
		case op < 7 && len(refs) > 0:
			ref := refs[rng.IntN(len(refs))]
			p.Loss(ref, tm)
			i := refIndex(ref)
			if e := &m.es[i]; e.ref == ref && e.st == stHeld {
				e.st = stFree
				m.head--
				e.order = m.head
			}
			what = fmt.Sprintf("loss %x", ref)
		case op < 9:
			i := rng.IntN(n)
			ani := anis[rng.IntN(len(anis))]
			started := now - rng.Int64N(int64(5*time.Second))
			if started <= 0 {
				started = now
			}
			p.calls.mu.Lock()
			e164, _ := p.numberOf(int32(i))
			mt, a, _, _ := p.lookup(&attribution{}, []byte(e164), nil, ani, started, now)
			p.calls.mu.Unlock()
			wantMatch, wantClaim := m.call(i, ani, started)
			gotBid := ""
			if a != nil {
				gotBid = a.bidID
			}
			wantBid := ""
			if wantClaim >= 0 {
				wantBid = testClaim(wantClaim).BidID
			}
			what = fmt.Sprintf("call %d %s → %s %q (model %s %q)", i, ani, matchNames[mt], gotBid, wantMatch, wantBid)
			if matchNames[mt] != wantMatch || gotBid != wantBid {
				t.Fatalf("step %d: %s", step, what)
			}
		default:
			p.Sweep(tm)
			m.sweep(now)
			what = "sweep"
		}
		for i := range m.es {
			if got := p.stateOf(int32(i)); got != m.es[i].st {
				t.Fatalf("step %d after %s: entry %d is %s, model %s", step, what, i, stateNames[got], stateNames[m.es[i].st])
			}
		}
	}
}
