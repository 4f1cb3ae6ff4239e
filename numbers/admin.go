package numbers

import (
	"encoding/json"
	"math"
	"time"

	"github.com/callbid/callbid/callrecords"
	"github.com/prometheus/client_golang/prometheus"
)

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

// PoolStats is one pool's state and pressure.
type PoolStats struct {
	ID                string  `json:"id"`
	Size              int     `json:"size"`
	Shards            int     `json:"shards"`
	Free              int     `json:"free"`
	Held              int     `json:"held"`
	Leased            int     `json:"leased"`
	Cooldown          int     `json:"cooldown"`
	Utilization       float64 `json:"utilization"` // (held+leased+cooldown)/size
	HoldSeconds       float64 `json:"hold_seconds"`
	LeaseSeconds      float64 `json:"lease_seconds"`
	CooldownSeconds   float64 `json:"cooldown_seconds"`
	Exhaustion        string  `json:"exhaustion"`
	Reservations      uint64  `json:"reservations"`
	Leases            uint64  `json:"leases"`
	Losses            uint64  `json:"losses"`
	ExpiredHolds      uint64  `json:"expired_holds"`
	ExhaustionNoBids  uint64  `json:"exhaustion_nobids"` // nbr 502 (or fallback numbers)
	FallbackReserves  uint64  `json:"fallback_reservations"`
	LateWins          uint64  `json:"late_wins"`
	Collisions        uint64  `json:"collisions"`
	Unattributed      uint64  `json:"unattributed_calls"`
	ReservationRate   float64 `json:"reservation_rate"` // per second, ~1 min average
	LeaseRate         float64 `json:"lease_rate"`       // per second, ~1 min average
	TargetUtilization float64 `json:"target_utilization"`
	// NeededSize is Little's law for the worst case that every reservation
	// becomes a lease: reservation_rate × (lease + cooldown) / target.
	NeededSize int `json:"needed_size"`
	// NeededSizeObserved uses the observed win rate: (lease_rate × (lease +
	// cooldown) + reservation_rate × hold) / target.
	NeededSizeObserved int `json:"needed_size_observed"`
}

// Stats is every pool's state plus the call-attribution counters.
type Stats struct {
	Pools              []PoolStats       `json:"pools"`
	Calls              map[string]uint64 `json:"calls"` // by match
	UnknownNumberCalls uint64            `json:"unknown_number_calls"`
	BlockedCalls       uint64            `json:"blocklisted_calls"`
	DuplicateCalls     uint64            `json:"duplicate_calls"`
	SpamReports        uint64            `json:"spam_reports"`
	BadCallBodies      uint64            `json:"bad_call_bodies"`
	Unauthorized       uint64            `json:"unauthorized_calls"`
	// BadTwilioSignatures are Twilio form posts refused with 403.
	BadTwilioSignatures uint64 `json:"bad_twilio_signatures"`
	// ReusedCallIDs are calls whose call_id an earlier call to another
	// number had: each was attributed as a new call.
	ReusedCallIDs uint64 `json:"reused_call_ids"`
	// CallsEvicted are call records (callrecords.Store, shared with
	// feedback in the service) forgotten before their retention because the
	// store was at its max_records.
	CallsEvicted       uint64 `json:"calls_evicted"`
	CallsTracked       int    `json:"calls_tracked"`
	OutcomeUnknownCall uint64 `json:"outcome_unknown_call"`
	AttributionDrops   uint64 `json:"attribution_drops"`
	LeaseEventDrops    uint64 `json:"lease_event_drops"`
	LeaseEventsApplied uint64 `json:"lease_events_applied"`
	LeaseEventsIgnored uint64 `json:"lease_events_ignored"`
	BadLeaseEvents     uint64 `json:"bad_lease_events"`
	// Replaying is true while reservations wait for the lease log;
	// ReplayingNoBids counts the reservations refused meanwhile.
	Replaying       bool   `json:"replaying"`
	ReplayingNoBids uint64 `json:"replaying_nobids"`
	// Ownership: the lease partitions and numbers this instance reserves
	// from (kafka.shared_pools; otherwise all).
	Ownership Ownership `json:"ownership"`
}

// Stats returns a consistent-per-shard view of every pool (it takes each
// shard lock briefly; admin and metrics only).
func (p *Pools) Stats() Stats {
	st := Stats{Pools: make([]PoolStats, len(p.pools)), Calls: map[string]uint64{},
		Replaying: p.Replaying(), ReplayingNoBids: p.pausedNoBids.Load(), Ownership: p.Ownership()}
	p.rateMu.Lock()
	for pi := range p.pools {
		pl := &p.pools[pi]
		ps := &st.Pools[pi]
		ps.ID, ps.Size, ps.Shards = pl.id, int(pl.n), len(pl.shards)
		ps.HoldSeconds = time.Duration(pl.hold).Seconds()
		ps.LeaseSeconds = time.Duration(pl.lease).Seconds()
		ps.CooldownSeconds = time.Duration(pl.cooldown).Seconds()
		ps.Exhaustion = pl.cfg.Exhaustion
		ps.TargetUtilization = pl.cfg.TargetUtilization
		ps.ReservationRate, ps.LeaseRate = pl.resRate, pl.leaseRate
		p.poolTotals(pl, ps)
		ps.ExhaustionNoBids = pl.nobids.Load()
		ps.FallbackReserves = pl.fallbackRes.Load()
		if ps.Size > 0 {
			ps.Utilization = float64(ps.Held+ps.Leased+ps.Cooldown) / float64(ps.Size)
		}
		lc := ps.LeaseSeconds + ps.CooldownSeconds
		ps.NeededSize = int(math.Ceil(ps.ReservationRate * lc / ps.TargetUtilization))
		ps.NeededSizeObserved = int(math.Ceil((ps.LeaseRate*lc + ps.ReservationRate*ps.HoldSeconds) / ps.TargetUtilization))
	}
	p.rateMu.Unlock()
	c := &p.calls
	c.mu.Lock()
	for m, n := range c.byMatch {
		st.Calls[matchNames[m]] = n
	}
	for pi, n := range c.unattributed {
		if pi < 0 {
			st.UnknownNumberCalls = n
		} else {
			st.Pools[pi].Unattributed = n
		}
	}
	st.BlockedCalls, st.DuplicateCalls, st.SpamReports = c.blockedCalls, c.duplicates, c.spamReports
	st.OutcomeUnknownCall = c.outcomeNoCall
	rs := c.recs.Stats()
	st.ReusedCallIDs, st.CallsEvicted, st.CallsTracked = c.reused, rs.Evicted, rs.Parts[callrecords.Numbers]
	c.mu.Unlock()
	st.BadCallBodies, st.Unauthorized = c.badBodies.Load(), c.unauthorized.Load()
	st.BadTwilioSignatures = c.badSignatures.Load()
	st.AttributionDrops, st.LeaseEventDrops = p.attrDrops.Load(), p.leaseDrops.Load()
	st.LeaseEventsApplied, st.LeaseEventsIgnored = p.leaseApplied.Load(), p.leaseIgnored.Load()
	st.BadLeaseEvents = p.badLeaseEvent.Load()
	return st
}

// poolTotals sums a pool's shard counts into ps and returns the cumulative
// reservation and lease counts.
func (p *Pools) poolTotals(pl *pool, ps *PoolStats) (res, leases uint64) {
	for k := range pl.shards {
		s := &pl.shards[k]
		s.mu.Lock()
		ps.Free += int(s.count[stFree]) + int(s.count[stParked]) // parked: free, another instance's
		ps.Held += int(s.count[stHeld])
		ps.Leased += int(s.count[stLeased])
		ps.Cooldown += int(s.count[stCooldown])
		ps.Reservations += s.reservations
		ps.Leases += s.leases
		ps.Losses += s.losses
		ps.ExpiredHolds += s.expiredHolds
		ps.LateWins += s.late
		ps.Collisions += s.collisions
		s.mu.Unlock()
	}
	return ps.Reservations, ps.Leases
}

// updateRates refreshes each pool's observed reservation and lease rates: an
// exponentially weighted average with a one-minute time constant.
func (p *Pools) updateRates(now time.Time) {
	t := now.UnixNano()
	p.rateMu.Lock()
	defer p.rateMu.Unlock()
	dt := float64(t-p.rateAt) / 1e9
	first := p.rateAt == 0
	p.rateAt = t
	for pi := range p.pools {
		pl := &p.pools[pi]
		var ps PoolStats
		res, leases := p.poolTotals(pl, &ps)
		if !first && dt > 0 {
			alpha := 1 - math.Exp(-dt/60)
			pl.resRate += alpha * (float64(res-pl.lastRes)/dt - pl.resRate)
			pl.leaseRate += alpha * (float64(leases-pl.lastLeases)/dt - pl.leaseRate)
		}
		pl.lastRes, pl.lastLeases = res, leases
	}
}

// RegisterMetrics registers the pool gauges and call counters (names
// callbid_numbers_…, label pool). Each scrape takes one Stats snapshot.
func (p *Pools) RegisterMetrics(reg prometheus.Registerer) error {
	return reg.Register(&collector{p: p})
}

type collector struct{ p *Pools }

var (
	descEntries      = prometheus.NewDesc("callbid_numbers_entries", "Pool entries by state.", []string{"pool", "state"}, nil)
	descUtil         = prometheus.NewDesc("callbid_numbers_utilization", "Share of entries not free.", []string{"pool"}, nil)
	descNeeded       = prometheus.NewDesc("callbid_numbers_needed_size", "Pool size Little's law asks for at the target utilization, every reservation counted as a lease.", []string{"pool"}, nil)
	descNeededObs    = prometheus.NewDesc("callbid_numbers_needed_size_observed", "Pool size Little's law asks for from the observed lease rate.", []string{"pool"}, nil)
	descReservations = prometheus.NewDesc("callbid_numbers_reservations_total", "Numbers held at bid time.", []string{"pool"}, nil)
	descLeases       = prometheus.NewDesc("callbid_numbers_leases_total", "Numbers leased by win notices.", []string{"pool"}, nil)
	descNoBids       = prometheus.NewDesc("callbid_numbers_exhausted_total", "Reservations that found the pool exhausted (nbr 502 or fallback).", []string{"pool"}, nil)
	descLate         = prometheus.NewDesc("callbid_numbers_late_wins_total", "Wins after the hold expired, number re-leased.", []string{"pool"}, nil)
	descCollisions   = prometheus.NewDesc("callbid_numbers_collisions_total", "Wins after the hold expired and the number was taken.", []string{"pool"}, nil)
	descUnattributed = prometheus.NewDesc("callbid_numbers_unattributed_calls_total", "Calls matched to no lease (pool \"\" = unknown number).", []string{"pool"}, nil)
	descCalls        = prometheus.NewDesc("callbid_numbers_calls_total", "Attributed calls by match.", []string{"match"}, nil)
	descDrops        = prometheus.NewDesc("callbid_numbers_event_drops_total", "Events the publisher dropped.", []string{"topic"}, nil)
	descBad          = prometheus.NewDesc("callbid_numbers_bad_input_total", "Rejected inputs by kind.", []string{"kind"}, nil)
	descReplaying    = prometheus.NewDesc("callbid_numbers_replaying", "1 while reservations wait for the lease log to be replayed.", nil, nil)
	descReplayNoBids = prometheus.NewDesc("callbid_numbers_replaying_nobids_total", "Reservations refused while the lease log was not replayed yet.", nil, nil)
	descOwned        = prometheus.NewDesc("callbid_numbers_owned", "Numbers this instance reserves from (its lease partitions; all unless kafka.shared_pools).", nil, nil)
	descOwnedParts   = prometheus.NewDesc("callbid_numbers_owned_partitions", "Lease partitions the consumer group assigned this instance (0 unless kafka.shared_pools).", nil, nil)
	descUnreadParts  = prometheus.NewDesc("callbid_numbers_unread_partitions", "Lease partitions gained in a rebalance and not read up to their end offset yet: their numbers are not reserved.", nil, nil)
	descUnreadRefuse = prometheus.NewDesc("callbid_numbers_unread_refused_total", "Wins and restores refused (collision) because the number's lease partition was gained and not read yet.", nil, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descEntries, descUtil, descNeeded, descNeededObs, descReservations, descLeases,
		descNoBids, descLate, descCollisions, descUnattributed, descCalls, descDrops, descBad, descReplaying, descReplayNoBids, descOwned, descOwnedParts,
		descUnreadParts, descUnreadRefuse} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	st := c.p.Stats()
	g, ctr := prometheus.GaugeValue, prometheus.CounterValue
	ch <- prometheus.MustNewConstMetric(descOwned, g, float64(st.Ownership.NumbersOwned))
	ch <- prometheus.MustNewConstMetric(descOwnedParts, g, float64(len(st.Ownership.Owned)))
	ch <- prometheus.MustNewConstMetric(descUnreadParts, g, float64(len(st.Ownership.Unread)))
	ch <- prometheus.MustNewConstMetric(descUnreadRefuse, ctr, float64(st.Ownership.RefusedUnread))
	for _, ps := range st.Pools {
		for i, n := range []int{ps.Free, ps.Held, ps.Leased, ps.Cooldown} {
			ch <- prometheus.MustNewConstMetric(descEntries, g, float64(n), ps.ID, stateNames[i])
		}
		ch <- prometheus.MustNewConstMetric(descUtil, g, ps.Utilization, ps.ID)
		ch <- prometheus.MustNewConstMetric(descNeeded, g, float64(ps.NeededSize), ps.ID)
		ch <- prometheus.MustNewConstMetric(descNeededObs, g, float64(ps.NeededSizeObserved), ps.ID)
		ch <- prometheus.MustNewConstMetric(descReservations, ctr, float64(ps.Reservations), ps.ID)
		ch <- prometheus.MustNewConstMetric(descLeases, ctr, float64(ps.Leases), ps.ID)
		ch <- prometheus.MustNewConstMetric(descNoBids, ctr, float64(ps.ExhaustionNoBids), ps.ID)
		ch <- prometheus.MustNewConstMetric(descLate, ctr, float64(ps.LateWins), ps.ID)
		ch <- prometheus.MustNewConstMetric(descCollisions, ctr, float64(ps.Collisions), ps.ID)
		ch <- prometheus.MustNewConstMetric(descUnattributed, ctr, float64(ps.Unattributed), ps.ID)
	}
	ch <- prometheus.MustNewConstMetric(descUnattributed, ctr, float64(st.UnknownNumberCalls), "")
	replaying := 0.0
	if st.Replaying {
		replaying = 1
	}
	ch <- prometheus.MustNewConstMetric(descReplaying, g, replaying)
	ch <- prometheus.MustNewConstMetric(descReplayNoBids, ctr, float64(st.ReplayingNoBids))
	for m, n := range st.Calls {
		ch <- prometheus.MustNewConstMetric(descCalls, ctr, float64(n), m)
	}
	ch <- prometheus.MustNewConstMetric(descDrops, ctr, float64(st.AttributionDrops), "callbid.attribution.v1")
	ch <- prometheus.MustNewConstMetric(descDrops, ctr, float64(st.LeaseEventDrops), "callbid.leases.v1")
	for kind, n := range map[string]uint64{
		"call_body": st.BadCallBodies, "unauthorized": st.Unauthorized, "lease_event": st.BadLeaseEvents,
		"twilio_signature": st.BadTwilioSignatures,
	} {
		ch <- prometheus.MustNewConstMetric(descBad, ctr, float64(n), kind)
	}
}
