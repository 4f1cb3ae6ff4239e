package ccbridge

import (
	"encoding/json"
	"time"

	"github.com/callbid/callbid/events"
)

// call is what the bridge remembers of a call to fill the fields a later
// transition needs (queue, skill, wait and talk times) and to send each
// transition once. Guarded by Bridge.mu.
type call struct {
	dnis, ani, queue, skill, agentID string
	offered, queued, answered, ended bool
	queuedAt, answeredAt, endedAt    time.Time
	heard                            time.Time
}

func (b *Bridge) callFor(id string) *call {
	c := b.calls[id]
	if c == nil {
		c = &call{}
		b.calls[id] = c
	}
	c.heard = b.now()
	return c
}

// emitCall writes one cc.call.v1 transition, filling what the call table
// knows; a transition already sent for the call is not sent again
// (platforms retry and repeat).
func (b *Bridge) emitCall(id string, c *call, kind string, at time.Time, endReason string) {
	switch kind {
	case events.CallOffered:
		if c.offered {
			return
		}
		c.offered = true
	case events.CallQueued:
		if c.queued {
			return
		}
		c.queued = true
		if c.queuedAt.IsZero() {
			c.queuedAt = at
		}
	case events.CallAnswered:
		if c.answered {
			return
		}
		c.answered = true
		c.answeredAt = at
	case events.CallEnded:
		if c.ended {
			return
		}
		c.ended = true
		c.endedAt = at
	}
	if at.IsZero() {
		at = b.now()
	}
	rec := events.Call{
		CallID: id, EventType: kind, DNIS: c.dnis, ANI: c.ani, OccurredAt: at.UTC(),
		Queue: c.queue, Skill: c.skill, AgentID: c.agentID,
	}
	if (kind == events.CallAnswered || kind == events.CallEnded) && !c.queuedAt.IsZero() {
		end := c.answeredAt
		if !c.answered {
			end = at // abandoned: waited until the end
		}
		if w := end.Sub(c.queuedAt).Milliseconds(); w > 0 {
			rec.QueueWaitMS = w
		}
	}
	if kind == events.CallEnded {
		rec.EndReason = endReason
		if c.answered {
			if t := at.Sub(c.answeredAt).Milliseconds(); t > 0 {
				rec.TalkMS = t
			}
		}
	}
	v, _ := json.Marshal(rec)
	b.publish(b.topics.call, id, v)
	b.stats.callRecords.Add(1)
}

// emitOutcome maps a platform disposition through the dispositions table
// and writes a final cc.outcome.v1; an unmapped code is counted, not sent.
func (b *Bridge) emitOutcome(callID, code string, at time.Time) {
	if code == "" {
		return
	}
	d, ok := b.cfg.Dispositions[code]
	if !ok {
		b.stats.unmappedDisposition.Add(1)
		if n, ok := b.warn.allow(b.now()); ok {
			b.log.Warn().Str("code", code).Int("suppressed", n).Msg("disposition not in the dispositions table; no outcome sent")
		}
		return
	}
	if at.IsZero() {
		at = b.now()
	}
	rec := events.Outcome{CallID: callID, Disposition: d, IsFinal: true, OccurredAt: at.UTC()}
	v, _ := json.Marshal(rec)
	b.publish(b.topics.outcome, callID, v)
	b.stats.outcomeRecords.Add(1)
}
