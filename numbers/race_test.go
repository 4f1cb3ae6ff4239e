package numbers

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestConcurrentNoDoubleLease runs reserve/win/loss/call/sweep/stats from
// many goroutines (run it with -race). Every goroutine records in holder
// which reservation owns an entry; a hand-out of an entry someone still owns
// fails the test. Time stands still within a phase, so only the owner's Loss
// frees an entry; between phases the clock jumps past every cooldown, the
// pool sweeps, and every entry is free again. Stale notices from earlier
// phases race with the new phase.
func TestConcurrentNoDoubleLease(t *testing.T) {
	const (
		workers = 8
		phases  = 4
	)
	ops := 1500
	if testing.Short() {
		ops = 300
	}
	cfg := extPool(3000)
	p := mustNew(t, cfg, &fakeDiscard{})
	holder := make([]atomic.Uint64, len(p.entries))
	var (
		mu    sync.Mutex
		stale []Ref // every reservation of earlier phases
	)
	var failures atomic.Int64
	fail := func(format string, args ...any) {
		if failures.Add(1) < 10 {
			t.Errorf(format, args...)
		}
	}
	now := t0
	for phase := range phases {
		old := append([]Ref(nil), stale...)
		var wg sync.WaitGroup
		var issued [workers][]Ref
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(phase), uint64(w)))
				var held, leased []Ref
				for k := range ops {
					switch op := rng.IntN(12); {
					case op < 4:
						c := testClaim(phase*1_000_000 + w*10_000 + k)
						r, ok := p.Reserve(0, c, now)
						if !ok {
							continue
						}
						i := refIndex(r.Ref)
						if prev := holder[i].Load(); !holder[i].CompareAndSwap(0, uint64(r.Ref)) {
							fail("entry %d handed to %x while %x owns it", i, r.Ref, prev)
						}
						held = append(held, r.Ref)
						issued[w] = append(issued[w], r.Ref)
					case op < 6 && len(held) > 0:
						j := rng.IntN(len(held))
						r := held[j]
						held = append(held[:j], held[j+1:]...)
						if res := p.Win(r, rng.IntN(2) == 0, now); res != WinLeased {
							fail("Win of own hold %x = %s", r, res)
						}
						if res := p.Win(r, true, now); res != WinDuplicate {
							fail("second Win of %x = %s", r, res)
						}
						leased = append(leased, r)
					case op < 8 && len(held) > 0:
						j := rng.IntN(len(held))
						r := held[j]
						held = append(held[:j], held[j+1:]...)
						holder[refIndex(r)].Store(0) // before Loss: after it, others may take it
						p.Loss(r, now)
					case op < 9 && len(old) > 0:
						r := old[rng.IntN(len(old))]
						switch res := p.Win(r, false, now); res {
						case WinLate:
							if !holder[refIndex(r)].CompareAndSwap(0, uint64(r)) {
								fail("late Win of %x re-leased an entry someone owns", r)
							}
						case WinCollision, WinDuplicate:
						default:
							fail("stale Win of %x = %s", r, res)
						}
						p.Loss(r, now) // stale loss: must change nothing
					case op < 11 && len(leased) > 0:
						r := leased[rng.IntN(len(leased))]
						e164, ext := p.numberOf(refIndex(r))
						id := fmt.Appendf(nil, "c-%d-%d-%d", phase, w, k)
						p.calls.mu.Lock()
						m, a, _, _ := p.lookup(&attribution{}, []byte(e164), []byte(ext), "+14155550100", now.UnixNano(), now.UnixNano())
						p.calls.mu.Unlock()
						_ = id
						if (m != mExact && m != mCooldown && m != mSticky) || a == nil || a.idx != refIndex(r) || a.gen != uint32(r) {
							fail("call on own lease %x: %s %+v", r, matchNames[m], a)
						}
					default:
						p.Sweep(now)
						_ = p.Stats()
					}
				}
				for _, r := range held { // release what is still held
					holder[refIndex(r)].Store(0)
					p.Loss(r, now)
				}
			}()
		}
		wg.Wait()
		if failures.Load() > 0 {
			t.FailNow()
		}
		st := p.Stats().Pools[0]
		if st.Held != 0 || st.Free+st.Leased+st.Cooldown != st.Size {
			t.Fatalf("phase %d: counts %+v", phase, st)
		}
		owned := 0
		for i := range holder {
			if holder[i].Load() != 0 {
				owned++
			}
		}
		if owned != st.Leased+st.Cooldown {
			t.Fatalf("phase %d: %d entries owned by the test, pool has %d leased+cooldown", phase, owned, st.Leased+st.Cooldown)
		}
		// next phase: every lease and cooldown has ended
		now = now.Add(3 * time.Hour)
		p.Sweep(now)
		if st := p.Stats().Pools[0]; st.Free != st.Size {
			t.Fatalf("phase %d: after the jump %d of %d free", phase, st.Free, st.Size)
		}
		for i := range holder {
			holder[i].Store(0)
		}
		mu.Lock()
		for w := range issued {
			stale = append(stale, issued[w]...)
		}
		mu.Unlock()
	}
}

// checkLists walks every shard's lists: links agree both ways, each entry
// sits on the list of its state in its own shard, exactly once, and the
// counts match.
func checkLists(t *testing.T, p *Pools) {
	t.Helper()
	seen := make([]bool, len(p.entries))
	for pi := range p.pools {
		pl := &p.pools[pi]
		for k := range pl.shards {
			s := &pl.shards[k]
			s.mu.Lock()
			for st := range nStates {
				n, prev := int32(0), int32(-1)
				for i := s.lists[st].head; i >= 0; i = p.entries[i].next {
					e := &p.entries[i]
					if seen[i] || e.state != st || e.prev != prev || p.shardOf(pl, i) != s {
						s.mu.Unlock()
						t.Fatalf("pool %d shard %d list %s: entry %d broken (seen %v state %s prev %d want %d)",
							pi, k, stateNames[st], i, seen[i], stateNames[e.state], e.prev, prev)
					}
					seen[i] = true
					prev = i
					n++
				}
				if prev != s.lists[st].tail || n != s.count[st] {
					s.mu.Unlock()
					t.Fatalf("pool %d shard %d list %s: tail %d want %d, count %d want %d", pi, k, stateNames[st], s.lists[st].tail, prev, s.count[st], n)
				}
			}
			s.mu.Unlock()
		}
	}
	for i, ok := range seen {
		if !ok {
			t.Fatalf("entry %d is on no list", i)
		}
	}
}

// TestConcurrentMovingClock: the same operations while a clock goroutine
// moves time and sweeps, so holds, leases and cooldowns expire under the
// workers; afterwards every list is intact and the counts add up.
func TestConcurrentMovingClock(t *testing.T) {
	cfg := extPool(500)
	cfg.Pools[0].Hold, cfg.Pools[0].Lease, cfg.Pools[0].Cooldown = 50*time.Millisecond, 200*time.Millisecond, 100*time.Millisecond
	p := mustNew(t, cfg, &fakeDiscard{})
	var clock atomic.Int64
	clock.Store(t0.UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			p.Sweep(now())
			time.Sleep(100 * time.Microsecond)
		}
	}()
	var results [8][WinFallback + 1]atomic.Int64
	var work sync.WaitGroup
	for w := range 8 {
		work.Add(1)
		go func() {
			defer work.Done()
			rng := rand.New(rand.NewPCG(9, uint64(w)))
			var refs []Ref
			for k := range 3000 {
				clock.Add(int64(100 * time.Microsecond)) // time moves with the work
				switch op := rng.IntN(10); {
				case op < 4:
					if r, ok := p.Reserve(0, testClaim(k), now()); ok {
						refs = append(refs, r.Ref)
					}
				case op < 7 && len(refs) > 0:
					results[w][p.Win(refs[rng.IntN(len(refs))], false, now())].Add(1)
				case op < 8 && len(refs) > 0:
					p.Loss(refs[rng.IntN(len(refs))], now())
				default:
					if len(refs) > 0 {
						r := refs[rng.IntN(len(refs))]
						e164, ext := p.numberOf(refIndex(r))
						body := p.attribute(nil, fmt.Appendf(nil, "m-%d-%d", w, k), []byte(e164), []byte(ext), []byte("+14155550100"), now().UnixNano(), now().UnixNano())
						if len(body) == 0 {
							t.Error("empty answer")
						}
					}
				}
			}
		}()
	}
	work.Wait()
	close(stop)
	wg.Wait()
	checkLists(t, p)
	var late, coll int64
	for w := range results {
		late += results[w][WinLate].Load()
		coll += results[w][WinCollision].Load()
	}
	st := p.Stats().Pools[0]
	if st.Free+st.Held+st.Leased+st.Cooldown != st.Size {
		t.Fatalf("counts %+v", st)
	}
	if uint64(late) != st.LateWins || uint64(coll) != st.Collisions {
		t.Fatalf("late %d/%d collisions %d/%d", late, st.LateWins, coll, st.Collisions)
	}
	t.Logf("late wins %d, collisions %d, stats %+v", late, coll, st)
}
