package feedback

import (
	"hash/maphash"
	"slices"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/reports"
)

// repeatCallers remembers, per campaign × caller (ANI), when the caller's
// last counted call started, so a caller who calls the same campaign again
// within the repeat window counts once in hit rates and is shown apart in
// reports (issue 17: a caller who calls twice is one prospect, not two).
// Guarded by Feedback.mu; bounded by max_repeat_callers.
type repeatCallers struct {
	last map[uint64]int64 // hash(campaign, ANI) → start of the caller's last unique call, unix ns
}

// repeatLocked reports whether a's call is a repeat: its caller called the
// same campaign within the window (either side of this call's start: replay
// and out-of-order attributions count the pair once either way). A unique
// call restarts the caller's window. Calls without an ANI, or not
// attributed to a campaign, are never repeats.
func (f *Feedback) repeatLocked(a *events.Attribution) bool {
	if a.ANI == "" || a.CampaignID == "" || !a.Accepted || !attributed(a.Match) {
		return false
	}
	window := f.cfg.RepeatWindow
	if c, ok := f.campaigns[a.CampaignID]; ok && c.RepeatWindow > 0 {
		window = c.RepeatWindow
	}
	if window <= 0 {
		return false
	}
	var h maphash.Hash
	h.SetSeed(f.seed)
	h.WriteString(a.CampaignID)
	h.WriteByte(0)
	h.WriteString(a.ANI)
	k := h.Sum64()
	r := &f.repeats
	if r.last == nil {
		r.last = make(map[uint64]int64)
	}
	t := a.StartedAt.UnixNano()
	if prev, ok := r.last[k]; ok {
		if d := t - prev; d <= int64(window) && d >= -int64(window) {
			f.st.repeatCalls.Add(1)
			return true
		}
	} else if len(r.last) >= f.cfg.MaxRepeatCallers {
		f.evictRepeatsLocked(t - int64(f.maxRepeatWindowLocked()))
	}
	r.last[k] = t
	return false
}

// evictRepeatsLocked makes room: it drops the callers whose last call is
// older than cut (their window is over), and if that frees less than an
// eighth, the eighth called longest ago (counted: a caller among them who
// calls again within the window counts twice).
func (f *Feedback) evictRepeatsLocked(cut int64) {
	r := &f.repeats
	for k, t := range r.last {
		if t < cut {
			delete(r.last, k)
		}
	}
	if len(r.last) < f.cfg.MaxRepeatCallers-f.cfg.MaxRepeatCallers/8 {
		return
	}
	ts := make([]int64, 0, len(r.last))
	for _, t := range r.last {
		ts = append(ts, t)
	}
	slices.Sort(ts)
	oldest := ts[len(ts)/8]
	for k, t := range r.last {
		if t <= oldest {
			delete(r.last, k)
			f.st.repeatEvicted.Add(1)
		}
	}
}

// maxRepeatWindowLocked is the longest repeat window of any campaign.
func (f *Feedback) maxRepeatWindowLocked() time.Duration {
	w := f.cfg.RepeatWindow
	for _, c := range f.campaigns {
		w = max(w, c.RepeatWindow)
	}
	return w
}

// reportCall is what a call adds to its report row: every call counts in
// calls, a repeat caller's also in repeat_calls, and only a unique call's
// qualification in qualified_calls (the caller was counted on their first
// call); a sale counts whichever call made it.
func reportCall(c contrib) reports.Call {
	rc := reports.Call{Calls: int64(c.hit.Calls), Qualified: int64(c.hit.Qualified), Sales: c.saleN, Revenue: c.revenue}
	if c.hit.Repeat {
		rc.Repeat, rc.Qualified = rc.Calls, 0
	}
	return rc
}
