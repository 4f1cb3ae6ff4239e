package numbers

import (
	"strings"
	"sync"
	"sync/atomic"
)

// interner maps strings (campaign, publisher, exchange, skill ids) to small
// integer ids so an entry stores 4 bytes instead of a string. Lookups of known
// strings read an immutable snapshot map (no lock, no allocation); new strings
// go to a mutex-guarded pending map that is folded into a fresh snapshot once
// it reaches a quarter of the snapshot's size (amortised O(1) per insert).
type interner struct {
	snap  atomic.Pointer[internSnap]
	limit uint32 // largest id handed out; further strings get id 0

	mu      sync.Mutex
	names   []string // id → string; guarded by mu (snap.names is a prefix)
	pending map[string]uint32
}

type internSnap struct {
	m     map[string]uint32
	names []string
}

func newInterner(limit uint32) *interner {
	in := &interner{limit: limit, names: []string{""}, pending: map[string]uint32{}}
	in.snap.Store(&internSnap{m: map[string]uint32{"": 0}, names: in.names})
	return in
}

// id returns s's id, adding s when new. The empty string is id 0.
func (in *interner) id(s string) uint32 {
	if id, ok := in.snap.Load().m[s]; ok {
		return id
	}
	return in.slowID(s)
}

func (in *interner) slowID(s string) uint32 {
	in.mu.Lock()
	defer in.mu.Unlock()
	snap := in.snap.Load()
	if id, ok := snap.m[s]; ok {
		return id
	}
	if id, ok := in.pending[s]; ok {
		return id
	}
	id := uint32(len(in.names))
	if id > in.limit {
		return 0
	}
	s = strings.Clone(s) // s may point into a request buffer
	in.names = append(in.names, s)
	in.pending[s] = id
	if len(in.pending)*4 >= len(snap.m) {
		in.foldLocked()
	}
	return id
}

// foldLocked publishes a snapshot holding the pending strings; the caller
// holds in.mu.
func (in *interner) foldLocked() {
	snap := in.snap.Load()
	m := make(map[string]uint32, len(snap.m)+len(in.pending))
	for k, v := range snap.m {
		m[k] = v
	}
	for k, v := range in.pending {
		m[k] = v
	}
	in.snap.Store(&internSnap{m: m, names: in.names[:len(in.names):len(in.names)]})
	in.pending = map[string]uint32{}
}

// flush folds pending strings into the snapshot so their lookups stop
// taking the mutex (Run calls it every few seconds).
func (in *interner) flush() {
	in.mu.Lock()
	if len(in.pending) > 0 {
		in.foldLocked()
	}
	in.mu.Unlock()
}

// name returns the string of id ("" when unknown).
func (in *interner) name(id uint32) string {
	if s := in.snap.Load(); int(id) < len(s.names) {
		return s.names[id]
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if int(id) < len(in.names) {
		return in.names[id]
	}
	return ""
}
