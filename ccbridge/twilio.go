package ccbridge

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/callbid/callbid/events"
)

// twilioEvent is one TaskRouter event, from either delivery: Event Streams
// (a CloudEvent whose data.payload has snake_case fields) or the workspace
// EventCallbackUrl (a form post with CamelCase parameters).
type twilioEvent struct {
	Type             string // worker.activity.update, reservation.accepted, …
	At               time.Time
	WorkerSid        string
	WorkerAttributes string
	ActivityName     string
	TaskSid          string
	TaskAttributes   string
	TaskQueueName    string
	TaskQueueSid     string
	TaskChannel      string
	ReservationSid   string
	TaskAge          int64 // seconds
	Reason           string
}

// cloudEvent is the Event Streams envelope; TaskRouter events carry the
// event in data.payload (schema TaskRouter.WDSEvent).
type cloudEvent struct {
	SpecVersion string `json:"specversion"`
	Type        string `json:"type"`
	Time        string `json:"time"`
	Data        struct {
		Payload *struct {
			EventType             string   `json:"eventtype"`
			Timestamp             flexTime `json:"timestamp"`
			WorkerSid             string   `json:"worker_sid"`
			WorkerAttributes      string   `json:"worker_attributes"`
			WorkerActivityName    string   `json:"worker_activity_name"`
			TaskSid               string   `json:"task_sid"`
			TaskAttributes        string   `json:"task_attributes"`
			TaskQueueName         string   `json:"task_queue_name"`
			TaskQueueSid          string   `json:"task_queue_sid"`
			TaskChannelUniqueName string   `json:"task_channel_unique_name"`
			ReservationSid        string   `json:"reservation_sid"`
			TaskAge               int64    `json:"task_age"`
			TaskCanceledReason    string   `json:"task_canceled_reason"`
			Reason                string   `json:"reason"`
		} `json:"payload"`
	} `json:"data"`
}

// flexTime reads an RFC 3339 string or epoch milliseconds (schema versions
// differ).
type flexTime struct{ time.Time }

func (t *flexTime) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if s == "" {
			return nil
		}
		if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
			t.Time = time.UnixMilli(ms)
			return nil
		}
		v, err := time.Parse(time.RFC3339Nano, s)
		t.Time = v
		return err
	}
	if string(b) == "null" {
		return nil
	}
	ms, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("timestamp %s is neither RFC 3339 nor epoch milliseconds", b)
	}
	t.Time = time.UnixMilli(ms)
	return nil
}

func (b *Bridge) twilioCloudEvent(doc []byte) error {
	var ce cloudEvent
	if err := json.Unmarshal(doc, &ce); err != nil {
		return b.badInput("twilio", fmt.Errorf("malformed CloudEvent: %w", err))
	}
	const prefix = "com.twilio.taskrouter."
	if !strings.HasPrefix(ce.Type, prefix) {
		b.stats.ignored.Add(1)
		return nil
	}
	p := ce.Data.Payload
	if p == nil {
		return b.badInput("twilio", fmt.Errorf("TaskRouter CloudEvent %s without data.payload", ce.Type))
	}
	ev := twilioEvent{
		Type: strings.TrimPrefix(ce.Type, prefix), At: p.Timestamp.Time,
		WorkerSid: p.WorkerSid, WorkerAttributes: p.WorkerAttributes, ActivityName: p.WorkerActivityName,
		TaskSid: p.TaskSid, TaskAttributes: p.TaskAttributes, TaskQueueName: p.TaskQueueName,
		TaskQueueSid: p.TaskQueueSid, TaskChannel: p.TaskChannelUniqueName, ReservationSid: p.ReservationSid,
		TaskAge: p.TaskAge, Reason: first2(p.TaskCanceledReason, p.Reason),
	}
	if p.EventType != "" {
		ev.Type = p.EventType
	}
	if ev.At.IsZero() && ce.Time != "" {
		ev.At, _ = time.Parse(time.RFC3339Nano, ce.Time)
	}
	return b.twilio(ev)
}

// TwilioForm maps one TaskRouter EventCallbackUrl post (its form values).
func (b *Bridge) TwilioForm(get func(string) string) error {
	ev := twilioEvent{
		Type: get("EventType"), WorkerSid: get("WorkerSid"), WorkerAttributes: get("WorkerAttributes"),
		ActivityName: get("WorkerActivityName"), TaskSid: get("TaskSid"), TaskAttributes: get("TaskAttributes"),
		TaskQueueName: get("TaskQueueName"), TaskQueueSid: get("TaskQueueSid"),
		TaskChannel: get("TaskChannelUniqueName"), ReservationSid: get("ReservationSid"),
		Reason: first2(get("TaskCanceledReason"), get("Reason")),
	}
	if ms, err := strconv.ParseInt(get("TimestampMs"), 10, 64); err == nil {
		ev.At = time.UnixMilli(ms)
	} else if s, err := strconv.ParseInt(get("Timestamp"), 10, 64); err == nil {
		ev.At = time.Unix(s, 0)
	}
	ev.TaskAge, _ = strconv.ParseInt(get("TaskAge"), 10, 64)
	if ev.Type == "" {
		return b.badInput("twilio", errors.New("TaskRouter callback without EventType"))
	}
	return b.twilio(ev)
}

func first2(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// twilioActivity maps an Activity name to availability.
func (b *Bridge) twilioActivity(name string) availability {
	if s, ok := b.cfg.Twilio.Activities[name]; ok {
		return availOf(s)
	}
	switch name {
	case "Available", "Idle":
		return availRoutable
	case "Offline":
		return availOffline
	}
	return availNotRoutable
}

func (b *Bridge) twilio(ev twilioEvent) error {
	voice := ev.TaskChannel == "" || ev.TaskChannel == "voice"
	b.stats.in.Add(1)
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev.Type {
	case "worker.activity.update", "worker.created":
		a, err := b.twilioWorker(ev)
		if err != nil {
			return err
		}
		if !a.fresh("activity", ev.At) {
			b.stats.stale.Add(1)
			return nil
		}
		b.twilioSkills(a, ev.WorkerAttributes)
		a.avail = b.twilioActivity(ev.ActivityName)
		a.loggedIn = a.avail != availOffline
		b.emitAgent(a, "", ev.At)
	case "worker.attributes.update":
		a, err := b.twilioWorker(ev)
		if err != nil {
			return err
		}
		if !a.fresh("attributes", ev.At) {
			b.stats.stale.Add(1)
			return nil
		}
		b.twilioSkills(a, ev.WorkerAttributes)
		if a.lastState != "" {
			b.emitAgent(a, events.AgentStateChange, ev.At)
		}
	case "worker.deleted":
		a, err := b.twilioWorker(ev)
		if err != nil {
			return err
		}
		a.loggedIn, a.avail = false, availOffline
		clear(a.work)
		b.emitAgent(a, events.AgentLogout, ev.At)
	case "reservation.created", "reservation.accepted", "reservation.wrapup", "reservation.completed",
		"reservation.rejected", "reservation.timeout", "reservation.canceled", "reservation.rescinded":
		if !voice {
			b.stats.ignored.Add(1)
			return nil
		}
		a, err := b.twilioWorker(ev)
		if err != nil {
			return err
		}
		if ev.ReservationSid == "" {
			return b.badInput("twilio", fmt.Errorf("%s without a reservation sid", ev.Type))
		}
		if !a.fresh("reservation:"+ev.ReservationSid, ev.At) {
			b.stats.stale.Add(1)
			return nil
		}
		switch ev.Type {
		case "reservation.created":
			a.work[ev.ReservationSid] = phaseReserved
		case "reservation.accepted":
			a.work[ev.ReservationSid] = phaseBusy
		case "reservation.wrapup":
			a.work[ev.ReservationSid] = phaseACW
		default:
			delete(a.work, ev.ReservationSid)
		}
		if ev.ActivityName != "" && a.fresh("activity", ev.At) {
			// Reservation events carry the worker's activity too.
			a.avail = b.twilioActivity(ev.ActivityName)
			a.loggedIn = a.avail != availOffline
		}
		b.emitAgent(a, "", ev.At)
		if ev.Type == "reservation.accepted" {
			b.twilioCall(ev, events.CallAnswered, a.id)
		}
	case "task.created", "task-queue.entered", "task.canceled", "task.wrapup", "task.completed":
		if !voice {
			b.stats.ignored.Add(1)
			return nil
		}
		switch ev.Type {
		case "task.created":
			b.twilioCall(ev, events.CallOffered, "")
		case "task-queue.entered":
			b.twilioCall(ev, events.CallQueued, "")
		case "task.canceled", "task.wrapup":
			b.twilioCall(ev, events.CallEnded, "")
		case "task.completed":
			b.twilioCall(ev, events.CallEnded, "")
			id, _ := twilioCallID(ev)
			var attrs map[string]any
			if json.Unmarshal([]byte(ev.TaskAttributes), &attrs) == nil {
				if code, ok := lookupPath(attrs, b.cfg.Twilio.OutcomeAttribute).(string); ok && id != "" {
					b.emitOutcome(id, code, ev.At)
				}
			}
		}
	default:
		b.stats.ignored.Add(1)
	}
	return nil
}

func (b *Bridge) twilioWorker(ev twilioEvent) (*agent, error) {
	if ev.WorkerSid == "" {
		return nil, b.badInput("twilio", fmt.Errorf("%s without a worker sid", ev.Type))
	}
	a := b.agentFor(platTwilio, ev.WorkerSid)
	return a, nil
}

// twilioSkills reads skills and levels from the worker attributes JSON
// string (Flex: {"routing":{"skills":["mortgage"],"levels":{"mortgage":8}}}).
func (b *Bridge) twilioSkills(a *agent, attrJSON string) {
	if attrJSON == "" {
		return
	}
	var attrs map[string]any
	if err := json.Unmarshal([]byte(attrJSON), &attrs); err != nil {
		_ = b.badInput("twilio", fmt.Errorf("worker %s attributes are not a JSON object: %w", a.id, err))
		return
	}
	names, _ := lookupPath(attrs, b.cfg.Twilio.SkillsAttribute).([]any)
	levels, _ := lookupPath(attrs, b.cfg.Twilio.LevelsAttribute).(map[string]any)
	a.skills = a.skills[:0]
	for _, n := range names {
		name, ok := n.(string)
		if !ok || name == "" {
			continue
		}
		p := b.cfg.Twilio.DefaultProficiency
		if l, ok := levels[name].(float64); ok {
			p = min(max(l*b.cfg.Twilio.LevelScale, 0), 5)
		}
		a.skills = append(a.skills, events.AgentSkill{Name: name, Proficiency: p})
	}
	a.skills = sortSkills(a.skills)
}

// lookupPath walks a dotted path through decoded JSON objects.
func lookupPath(v any, path string) any {
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// twilioCallID is the voice call behind a task: the call_sid task attribute
// Twilio's <Enqueue> sets, else the task sid.
func twilioCallID(ev twilioEvent) (string, map[string]any) {
	var attrs map[string]any
	_ = json.Unmarshal([]byte(ev.TaskAttributes), &attrs)
	if s, ok := attrs["call_sid"].(string); ok && s != "" {
		return s, attrs
	}
	return ev.TaskSid, attrs
}

func (b *Bridge) twilioCall(ev twilioEvent, kind, agentID string) {
	id, attrs := twilioCallID(ev)
	if id == "" {
		_ = b.badInput("twilio", fmt.Errorf("%s without a task sid", ev.Type))
		return
	}
	c := b.callFor(id)
	if s, ok := attrs["from"].(string); ok && c.ani == "" {
		c.ani = s
	}
	if s, ok := attrs["to"].(string); ok && c.dnis == "" {
		c.dnis = s
	}
	if ev.TaskQueueName != "" {
		c.queue = ev.TaskQueueName
		if s, ok := b.cfg.Twilio.TaskQueues[ev.TaskQueueName]; ok {
			c.skill = s
		} else if s, ok := b.cfg.Twilio.TaskQueues[ev.TaskQueueSid]; ok {
			c.skill = s
		}
	}
	if agentID != "" {
		c.agentID = agentID
	}
	at := ev.At
	if kind == events.CallAnswered && ev.TaskAge > 0 && c.queuedAt.IsZero() {
		c.queuedAt = at.Add(-time.Duration(ev.TaskAge) * time.Second)
	}
	reason := events.EndCustomerHangup
	if kind == events.CallEnded && !c.answered {
		reason = events.EndAbandonedInQueue
	}
	if kind == events.CallEnded && ev.Type == "task.canceled" && c.answered {
		reason = events.EndFailed
	}
	b.emitCall(id, c, kind, at, reason)
}
