package capacity

import (
	"errors"

	"github.com/callbid/callbid/events"
)

// order decides whether ev (event time at, unix ns, clamped to now) is
// newer than what agent a holds. Caller holds mu.
//
//   - Both with seq: seq decides. A seq more than max_seq_jump above the
//     last applied one is rejected as a bad record (seq_jump): otherwise one
//     corrupt or hostile seq would outrank every later event of the agent,
//     and on every replay. The rejected seq is remembered; when the next
//     event continues from it (above it, within max_seq_jump) the producer's
//     counter really moved and that event is applied.
//   - The first event seen of an agent (after a start, or once its entry
//     expired) sets its seq alone, unchecked: until an event with a higher
//     seq confirms the order, an event with a lower seq but a strictly later
//     time replaces it. So a record with a far-future seq that happens to be
//     the first of its agent on a replay (compaction kept it as the latest)
//     pins nothing: the agent's next real event applies.
//   - Either without seq (platforms with no per-agent counter: Connect,
//     Genesys, Twilio): event time decides. An event older than the last
//     applied one is ignored (old_time); one at the same time or later is
//     applied, so state changes within one second are never dropped as
//     duplicates.
//
// A heartbeat repeating the last seq without a state is proof of life only.
func (m *Model) order(a *agent, ev *agentEvent, at int64) (reason, error) {
	if ev.Seq == 0 || a.seq == 0 {
		if at < a.at {
			return ignOldTime, nil
		}
		a.pendingSeq = 0
		return okEvent, nil
	}
	switch {
	case ev.Seq == a.seq:
		if ev.kind == evHeartbeat && ev.state == stateUnknown {
			// A producer that does not bump seq for heartbeats: still proof
			// of life for the TTL, nothing else.
			a.heard = max(a.heard, at)
			return okEvent, errHeartbeatOnly
		}
		return ignDuplicateSeq, nil
	case ev.Seq < a.seq:
		if !a.seqChecked && at > a.at {
			a.pendingSeq = 0
			return okEvent, nil // the unconfirmed first seq yields to time
		}
		return ignOldSeq, nil
	case ev.Seq-a.seq > m.cfg.MaxSeqJump:
		p := a.pendingSeq
		if p != 0 && ev.Seq > p && ev.Seq-p <= m.cfg.MaxSeqJump {
			a.pendingSeq, a.seqChecked = 0, true
			return okEvent, nil // the counter really jumped: confirmed
		}
		a.pendingSeq = ev.Seq
		return okEvent, events.Bad(events.ReasonSeqJump, "agent %q: seq %d is more than %d above the last applied %d",
			ev.AgentID, ev.Seq, m.cfg.MaxSeqJump, a.seq)
	}
	a.pendingSeq, a.seqChecked = 0, true
	return okEvent, nil
}

// errHeartbeatOnly tells applyAgent that order consumed a same-seq
// heartbeat as proof of life: applied, nothing else to do. It never leaves
// the package.
var errHeartbeatOnly = errors.New("heartbeat repeating the last seq: liveness only")

// admitAgent makes room for a new agent in the table. An agent whose event
// names no tracked skill is not tracked at all (it cannot add capacity; a
// flood of junk ids takes no memory). When the table is full it evicts, at
// most once a second, agents past their TTL and then unstaffed ones (logged
// out, offline, not routable) — up to an eighth of the table, so the scan is
// amortised; staffed agents are never evicted for a newcomer, so a flood of
// new ids cannot push real capacity out. Caller holds mu.
func (m *Model) admitAgent(ev *agentEvent, now int64) reason {
	tracked := false
	for _, s := range ev.Skills {
		if _, ok := m.skillIdx[s.Name]; ok {
			tracked = true
			break
		}
	}
	if !tracked {
		return ignUntrackedSkill
	}
	if len(m.agents) < m.cfg.MaxAgents {
		return okEvent
	}
	if now-m.lastEvict < 1e9 {
		return ignAgentTableFull
	}
	m.lastEvict = now
	budget := max(1, m.cfg.MaxAgents/8)
	for pass := 0; pass < 2 && budget > 0; pass++ {
		for id, a := range m.agents {
			expired := a.heard+a.ttl < now
			if expired || (pass == 1 && !a.state.staffed()) {
				if expired && a.state.staffed() {
					m.expired.Add(1)
				}
				m.contribute(a, -1)
				delete(m.agents, id)
				m.evicted.Add(1)
				if budget--; budget == 0 {
					break
				}
			}
		}
	}
	m.nAgents.Store(int64(len(m.agents)))
	if len(m.agents) >= m.cfg.MaxAgents {
		return ignAgentTableFull
	}
	return okEvent
}

// roomForCall reports whether one more call id fits in the call table (a
// sweep every refresh forgets finished ones). Caller holds mu.
func (m *Model) roomForCall() bool { return len(m.calls) < m.cfg.MaxCalls }
