package capacity

import (
	"cmp"
	"slices"
	"time"
)

// SkillStats is one skill's state in the current snapshot, for admin pages
// and logs (not the bid path: Stats allocates).
type SkillStats struct {
	Skill                     string              `json:"skill"`
	Staffed                   int                 `json:"staffed"`
	Available                 int                 `json:"available"`
	Reserved                  int                 `json:"reserved"`
	Busy                      int                 `json:"busy"`
	ACW                       int                 `json:"acw"`
	StaffedProficiencySum     float64             `json:"staffed_proficiency_sum"`
	AvailableProficiencySum   float64             `json:"available_proficiency_sum"`
	Waiting                   int                 `json:"waiting"`
	OldestWait                time.Duration       `json:"oldest_wait_ns"`
	WaitingTooLong            bool                `json:"waiting_too_long"`
	HandleTimeSeconds         float64             `json:"handle_time_seconds"`
	ArrivalPerMinute          float64             `json:"arrival_per_minute"`
	LoadArrivalPerMinute      float64             `json:"load_arrival_per_minute"` // over one handle time: the gate's (doc.go)
	CommittedPerMinute        float64             `json:"committed_per_minute"`
	LambdaMaxPerMinute        float64             `json:"lambda_max_per_minute"`     // all staffed agents
	HeadroomPerMinute         float64             `json:"headroom_per_minute"`       // all staffed agents
	FactorByMinProficiency    [numBuckets]float64 `json:"factor_by_min_proficiency"` // index i: proficiency ≥ i/2
	StaffedByMinProficiency   [numBuckets]int32   `json:"staffed_by_min_proficiency"`
	AvailableByMinProficiency [numBuckets]int32   `json:"available_by_min_proficiency"`
}

// Stats lists every skill in the current snapshot, sorted by name, and
// whether the feed is stale.
func (m *Model) Stats() (skills []SkillStats, stale bool) {
	s := m.snap.Load()
	out := make([]SkillStats, 0, len(s.skills))
	for name, v := range s.skills {
		out = append(out, SkillStats{
			Skill: name, Staffed: int(v.staffed), Available: int(v.available), Reserved: int(v.reserved),
			Busy: int(v.busy), ACW: int(v.acw),
			StaffedProficiencySum: v.staffedWeighted, AvailableProficiencySum: v.availableWeighted,
			Waiting: int(v.waiting), OldestWait: v.oldestWait, WaitingTooLong: v.waitingTooLong,
			HandleTimeSeconds: v.ahtSec, ArrivalPerMinute: v.arrivalPerMin, LoadArrivalPerMinute: v.loadPerMin, CommittedPerMinute: v.committedPerMin,
			LambdaMaxPerMinute: v.lambdaMax[0], HeadroomPerMinute: v.headroom[0],
			FactorByMinProficiency: v.factor, StaffedByMinProficiency: v.staffedAtLeast,
			AvailableByMinProficiency: v.availAtLeast,
		})
	}
	slices.SortFunc(out, func(a, b SkillStats) int { return cmp.Compare(a.Skill, b.Skill) })
	return out, s.stale
}
