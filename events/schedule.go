package events

import "time"

// TopicSchedule carries workforce schedules: planned staffing per skill ×
// channel for the coming intervals. Keyed by agent id or by skill; the
// latest record per key replaces the earlier ones (compact it).
const TopicSchedule = "cc.schedule.v1"

// Bounds of a schedule record.
const (
	MaxScheduleIntervals = 672 // a week of 15-minute intervals
	MaxStaffingPerInt    = 64
	MaxScheduleAgents    = 1e6
)

// Schedule is one cc.schedule.v1 record: the plan of one agent (AgentID
// set: each staffing line is usually 1 agent) or of one skill (Skill set:
// staffing lines may omit their skill). A record replaces the previous
// one of its key; a record with no intervals withdraws the key's plan.
type Schedule struct {
	AgentID   string             `json:"agent_id,omitempty"`
	Skill     string             `json:"skill,omitempty"`
	UpdatedAt time.Time          `json:"updated_at,omitzero"`
	Intervals []ScheduleInterval `json:"intervals"`
}

// ScheduleInterval is [Start, End) with its planned staffing.
type ScheduleInterval struct {
	Start    time.Time      `json:"start"`
	End      time.Time      `json:"end"`
	Staffing []PlannedStaff `json:"staffing"`
}

// PlannedStaff is the agents planned on one skill and channel. Skill
// defaults to the record's skill, Channel to voice. Agents may be
// fractional (an agent split over skills).
type PlannedStaff struct {
	Skill   string  `json:"skill,omitempty"`
	Channel string  `json:"channel,omitempty"` // voice|chat|sms|callback
	Agents  float64 `json:"agents"`
}

// Key is the record's key: "agent:<id>" or "skill:<name>".
func (ev *Schedule) Key() string {
	if ev.AgentID != "" {
		return "agent:" + ev.AgentID
	}
	return "skill:" + ev.Skill
}

// Check reports why ev is not a usable schedule, as a *BadEvent. Interval
// times are in the future by nature: only updated_at is held to the clock.
func (ev *Schedule) Check(l Limits) error {
	switch {
	case ev.AgentID == "" && ev.Skill == "":
		return bad(ReasonMissingAgentID, "neither agent_id nor skill is set")
	case len(ev.AgentID) > MaxIDBytes || len(ev.Skill) > MaxNameBytes:
		return bad(ReasonTooLong, "agent_id or skill is too long")
	case len(ev.Intervals) > MaxScheduleIntervals:
		return bad(ReasonTooLong, "%d intervals is more than %d", len(ev.Intervals), MaxScheduleIntervals)
	}
	for i := range ev.Intervals {
		iv := &ev.Intervals[i]
		switch {
		case iv.Start.IsZero() || iv.End.IsZero():
			return bad(ReasonMissingTime, "intervals[%d]: start and end are required", i)
		case !iv.End.After(iv.Start):
			return bad(ReasonTimeOutOfRange, "intervals[%d]: end %s is not after start %s", i, iv.End.Format(time.RFC3339), iv.Start.Format(time.RFC3339))
		case len(iv.Staffing) > MaxStaffingPerInt:
			return bad(ReasonTooLong, "intervals[%d]: %d staffing lines is more than %d", i, len(iv.Staffing), MaxStaffingPerInt)
		}
		for j, s := range iv.Staffing {
			switch {
			case s.Skill == "" && ev.Skill == "":
				return bad(ReasonMissingSkillName, "intervals[%d].staffing[%d]: no skill, and the record has none", i, j)
			case len(s.Skill) > MaxNameBytes || len(s.Channel) > MaxNameBytes:
				return bad(ReasonTooLong, "intervals[%d].staffing[%d]: skill or channel is too long", i, j)
			case !(s.Agents >= 0):
				return bad(ReasonNegativeValue, "intervals[%d].staffing[%d]: agents %v is negative", i, j, s.Agents)
			case s.Agents > MaxScheduleAgents:
				return bad(ReasonTooLong, "intervals[%d].staffing[%d]: agents %v is more than %v", i, j, s.Agents, float64(MaxScheduleAgents))
			}
			switch s.Channel {
			case "", "voice", "chat", "sms", "callback":
			default:
				return bad(ReasonUnknownKind, "intervals[%d].staffing[%d]: channel %q is not voice, chat, sms or callback", i, j, clip(s.Channel))
			}
		}
	}
	return l.checkTime("updated_at", ev.UpdatedAt)
}

// Schedules are a few records per agent per day: encoding/json is enough.
func (ev *Schedule) decode(_ *decoder, b []byte, l Limits) error {
	*ev = Schedule{}
	return jsonRecord(b, ev, l)
}

func (*Schedule) topic() string { return TopicSchedule }

// DecodeSchedule parses and checks one cc.schedule.v1 value.
func DecodeSchedule(b []byte, ev *Schedule) error { return ev.decode(nil, b, Limits{}) }
