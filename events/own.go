package events

import (
	"math"
	"time"
)

// callbid's own records: what the notice handler, the numbers pools and
// feedback write, and read back on replay after a restart. Their JSON is
// written by the Append functions of encode.go (no reflection, nothing
// allocated beyond growing the buffer) and read back by the decoders of
// decode.go; docs/schemas/ has the schema of each.

// Lease states (the "st" field of a Lease).
const (
	LeaseHeld     = "held"
	LeaseLeased   = "leased"
	LeaseCooldown = "cooldown"
	LeaseFree     = "free"
)

// Reasons of the own records' Check rules (see the Reason constants of
// decode.go).
const (
	ReasonMissingOwner = "missing_owner"
	ReasonMissingPool  = "missing_pool"
)

// Lease is one callbid.leases.v1 record (compacted, keyed by the number,
// or number;ext=N): the whole state of one tracking-number entry, so the
// latest record per key rebuilds it. Short JSON keys keep the log small.
// Holds are recorded too (off the bid path, a few ms after the bid). A
// "free" record carries only Owner, Pool, Gen, State, ReservedAt and Flags.
//
// The []byte fields are the entry's own bytes when encoding; a Decoder's
// value points them into its buffer, valid until the next Decode
// (DecodeLease gives them their own copy).
type Lease struct {
	Owner      string // "o": instance id of the process that wrote it; must be first (see AppendLease)
	Pool       string // "pool"
	Gen        uint32 // "gen": the entry's generation, rising with each reservation
	State      string // "st": LeaseHeld, LeaseLeased, LeaseCooldown or LeaseFree
	ReservedAt int64  // "res": unix ns
	Flags      uint8  // "fl": entry flags (owned by package numbers)

	// Not written for a free record.
	WonAt          int64  // "won": unix ns
	LeaseEnd       int64  // "end": unix ns
	Campaign       string // "c"
	Publisher      string // "p"
	Exchange       string // "x"
	Skill          string // "k"
	RequestID      []byte // "r"
	ImpID          []byte // "i"
	BidID          []byte // "b"
	SiteOrApp      []byte // "sa"
	PriceMicros    int64  // "pr": bid price, CPM micro-units
	IPHash         uint64 // "ip": xxhash64 of device.ip
	IFAHash        uint64 // "ifa": xxhash64 of device.ifa
	Creative       string // "crid"
	Currency       string // "cur"
	Country        string // "cc"
	Region         string // "rg"
	DeviceType     uint8  // "dt"
	ClearingMicros int64  // "cp": clearing price from the notice, CPM micro-units
	ANI            string // "ani": first caller, once called; omitted when empty
}

// Check reports why l is not a usable lease record, as a *BadEvent.
func (l *Lease) Check(Limits) error {
	switch {
	case l.Owner == "":
		return bad(ReasonMissingOwner, "o (the writing instance) is empty")
	case l.Pool == "":
		return bad(ReasonMissingPool, "pool is empty")
	case l.State != LeaseHeld && l.State != LeaseLeased && l.State != LeaseCooldown && l.State != LeaseFree:
		return bad(ReasonUnknownState, "st %q is not held, leased, cooldown or free", clip(l.State))
	case l.PriceMicros < 0 || l.PriceMicros > MaxMoneyMicros || l.ClearingMicros < 0 || l.ClearingMicros > MaxMoneyMicros:
		return bad(ReasonNegativeValue, "pr %d or cp %d is out of range", l.PriceMicros, l.ClearingMicros)
	case len(l.Owner) > MaxIDBytes || len(l.Pool) > MaxIDBytes:
		return bad(ReasonTooLong, "o or pool is longer than %d bytes", MaxIDBytes)
	}
	return nil
}

// Tally is one callbid.bids.v1 record: the bid-path counters one callbid
// instance counted since its previous tally (deltas), keyed by the
// instance. A restarted process replays them to get its counters back.
type Tally struct {
	Instance string        `json:"o"`
	At       time.Time     `json:"at"`
	Seen     int64         `json:"seen"` // bid requests seen
	Bids     int64         `json:"bids"`
	Rows     []TallyRow    `json:"rows,omitempty"`
	Demand   []TallyDemand `json:"demand,omitempty"`
}

// TallyRow is the bids of one report row (hour, campaign, publisher,
// exchange) in a Tally.
type TallyRow struct {
	Hour      int64  `json:"h"` // unix hours
	Campaign  string `json:"c"`
	Publisher string `json:"p"`
	Exchange  string `json:"x"`
	Bids      int64  `json:"b"`
	// Channel is the row's contact channel (chat, sms, callback); absent
	// for calls and in records written before it.
	Channel string `json:"ch,omitempty"`
}

// TallyDemand is the requests seen and bids of one skill and demand
// interval in a Tally.
type TallyDemand struct {
	Skill string `json:"s"`
	Start int64  `json:"start"` // demand interval start, unix seconds
	Seen  int64  `json:"seen"`
	Bids  int64  `json:"bids"`
}

// Check reports why t is not a usable tally, as a *BadEvent. Rows and
// demand entries with a negative count or no skill are skipped by the
// reader, not the whole record.
func (t *Tally) Check(Limits) error {
	switch {
	case t.Instance == "":
		return bad(ReasonMissingOwner, "o (the writing instance) is empty")
	case t.Seen < 0 || t.Bids < 0:
		return bad(ReasonNegativeValue, "seen %d or bids %d is negative", t.Seen, t.Bids)
	}
	return nil
}

// Demand is one callbid.demand.v1 record: one skill's bid-side demand over
// one interval, keyed by skill, for the contact center's workforce planning.
type Demand struct {
	Skill         string    `json:"skill"`
	IntervalStart time.Time `json:"interval_start"`
	IntervalEnd   time.Time `json:"interval_end"`
	RequestsSeen  int64     `json:"requests_seen"` // bid requests that matched a campaign of the skill
	Bids          int64     `json:"bids"`
	Wins          int64     `json:"wins"` // won impressions, by impression time
	Spend         Money     `json:"spend"`
	// ProjectedCalls are the calls expected from this interval's wins (any
	// attributed call); ProjectedQualifiedCalls the qualified share.
	ProjectedCalls          float64 `json:"projected_calls"`
	ProjectedQualifiedCalls float64 `json:"projected_qualified_calls"`
	// CommittedCallsPerMin is the arrival rate still to come from all
	// impressions won so far, at interval end.
	CommittedCallsPerMin float64 `json:"committed_calls_per_min"`
	PacingMultiplier     float64 `json:"pacing_multiplier"`
	RecordsDropped       int64   `json:"records_dropped"` // seen/bid counts lost in this interval
	// Projection is the contacts expected in each of the coming intervals
	// (from interval_end on), from the wins still in flight, the pace of
	// winning now and the learned delay from win to contact (package
	// forecast). Optional: records written before it have none.
	Projection []Projected `json:"projection,omitempty"`
}

// MaxProjected bounds a Demand's projection entries.
const MaxProjected = 96

// Projected is the contacts expected over one coming interval. Channel is
// voice, chat, sms or callback, or empty for the contacts of every channel
// of the skill (their sum; records written before channels have only
// these).
type Projected struct {
	Channel       string    `json:"channel,omitempty"`
	IntervalStart time.Time `json:"interval_start"`
	IntervalEnd   time.Time `json:"interval_end"`
	Calls         float64   `json:"calls"`
}

// Check reports why d is not a usable demand record, as a *BadEvent.
func (d *Demand) Check(l Limits) error {
	switch {
	case d.Skill == "":
		return bad(ReasonMissingSkillName, "skill is empty")
	case d.RequestsSeen < 0 || d.Bids < 0 || d.Wins < 0 || d.RecordsDropped < 0:
		return bad(ReasonNegativeValue, "a count is negative")
	case d.Spend.AmountMicros < 0 || d.Spend.AmountMicros > MaxMoneyMicros:
		return bad(ReasonNegativeValue, "spend %d is out of range", d.Spend.AmountMicros)
	case !finite(d.ProjectedCalls, d.ProjectedQualifiedCalls, d.CommittedCallsPerMin, d.PacingMultiplier):
		return bad(ReasonNegativeValue, "a projection or the pacing multiplier is negative or not finite")
	case d.IntervalEnd.Before(d.IntervalStart):
		return bad(ReasonTimeOutOfRange, "interval_end is before interval_start")
	case len(d.Projection) > MaxProjected:
		return bad(ReasonTooLong, "%d projection entries is more than %d", len(d.Projection), MaxProjected)
	}
	for i := range d.Projection {
		p := &d.Projection[i]
		switch {
		case !finite(p.Calls):
			return bad(ReasonNegativeValue, "projection[%d].calls is negative or not finite", i)
		case p.IntervalEnd.Before(p.IntervalStart):
			return bad(ReasonTimeOutOfRange, "projection[%d].interval_end is before its interval_start", i)
		}
		switch p.Channel {
		case "", "voice", "chat", "sms", "callback":
		default:
			return bad(ReasonUnknownKind, "projection[%d].channel %q is not voice, chat, sms or callback", i, clip(p.Channel))
		}
	}
	if err := l.checkTime("interval_start", d.IntervalStart); err != nil {
		return err
	}
	return l.checkTime("interval_end", d.IntervalEnd)
}

// finite reports whether every v is a finite number ≥ 0.
func finite(vs ...float64) bool {
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return false
		}
	}
	return true
}
