package events

import "time"

// AgentState is one cc.agent-state.v1 event (CONTRACTS §3).
type AgentState struct {
	AgentID      string    `json:"agent_id"`
	Seq          int64     `json:"seq"`
	EventType    string    `json:"event_type"` // LOGIN|LOGOUT|STATE_CHANGE|HEARTBEAT
	OccurredAt   time.Time `json:"occurred_at"`
	RoutingState string    `json:"routing_state"` // AVAILABLE|RESERVED|BUSY|ACW|NOT_ROUTABLE|OFFLINE
	// NextRoutingState is the state the agent takes when the current contact
	// ends (OFFLINE|NOT_ROUTABLE|AVAILABLE; optional): an agent on a call who
	// logs out after it is no capacity.
	NextRoutingState string       `json:"next_routing_state"`
	Skills           []AgentSkill `json:"skills"`
	Channels         []string     `json:"channels"`
	TTLSeconds       int          `json:"ttl_seconds"`
}

// AgentSkill is one skill of an agent; proficiency is 0–5.
type AgentSkill struct {
	Name        string  `json:"name"`
	Proficiency float64 `json:"proficiency"`
}

// Call is one cc.call.v1 event: one per call transition.
type Call struct {
	CallID      string    `json:"call_id"`
	EventType   string    `json:"event_type"` // OFFERED|QUEUED|ANSWERED|ENDED
	DNIS        string    `json:"dnis"`
	Ext         string    `json:"ext"`
	ANI         string    `json:"ani"`
	OccurredAt  time.Time `json:"occurred_at"`
	Queue       string    `json:"queue"`
	Skill       string    `json:"skill"`
	AgentID     string    `json:"agent_id"`
	QueueWaitMS int64     `json:"queue_wait_ms"`
	TalkMS      int64     `json:"talk_ms"`
	EndReason   string    `json:"end_reason"`
}

// Outcome is one cc.outcome.v1 event; the latest per call_id wins.
type Outcome struct {
	CallID      string    `json:"call_id"`
	Disposition string    `json:"disposition"` // SALE|NO_SALE|CALLBACK_REQUESTED|FOLLOW_UP_EXPECTED|NOT_QUALIFIED|WRONG_NUMBER|SPAM
	IsFinal     bool      `json:"is_final"`
	Revenue     Money     `json:"revenue"`
	OccurredAt  time.Time `json:"occurred_at"`
}

// Money is an amount in integer micro-units of a currency.
type Money struct {
	AmountMicros int64  `json:"amount_micros"`
	Currency     string `json:"currency"`
}

// Attribution is one callbid.attribution.v1 event: the impression joined with
// its call and, once known, the latest outcome.
type Attribution struct {
	CallID      string    `json:"call_id"`
	DNIS        string    `json:"dnis"`
	Ext         string    `json:"ext,omitempty"`
	ANI         string    `json:"ani,omitempty"`
	StartedAt   time.Time `json:"started_at"`
	Match       string    `json:"match"` // exact|cooldown|sticky|bucket|none
	Accepted    bool      `json:"accepted"`
	Reason      string    `json:"reason,omitempty"`
	CampaignID  string    `json:"campaign_id,omitempty"`
	PublisherID string    `json:"publisher_id,omitempty"`
	SiteOrApp   string    `json:"site_or_app,omitempty"`
	Exchange    string    `json:"exchange,omitempty"`
	RequestID   string    `json:"request_id,omitempty"`
	ImpID       string    `json:"imp_id,omitempty"`
	BidID       string    `json:"bid_id,omitempty"`
	PriceCPM    float64   `json:"price_cpm,omitempty"`
	WonAt       time.Time `json:"won_at,omitzero"`
	LeaseID     string    `json:"lease_id,omitempty"`
	Skill       string    `json:"skill,omitempty"`
	IPHash      uint64    `json:"ip_hash,omitempty"`
	IFAHash     uint64    `json:"ifa_hash,omitempty"`
	// Outcome fields, filled by feedback when an outcome arrives.
	Disposition string `json:"disposition,omitempty"`
	IsFinal     bool   `json:"is_final,omitempty"`
	Revenue     *Money `json:"revenue,omitempty"`
	TalkMS      int64  `json:"talk_ms,omitempty"`
}

// Impression is one callbid.impressions.v1 event, published by the notice
// handler on a win or billing notice, keyed by bid_id.
type Impression struct {
	BidID       string    `json:"bid_id"`
	Kind        string    `json:"kind"` // win|bill|loss
	CampaignID  string    `json:"campaign_id"`
	PublisherID string    `json:"publisher_id"`
	Exchange    string    `json:"exchange"`
	Skill       string    `json:"skill"`
	PriceMicros int64     `json:"price_micros"` // clearing price, CPM micro-units, bid currency
	Currency    string    `json:"currency"`
	At          time.Time `json:"at"`
	IPHash      uint64    `json:"ip_hash,omitempty"`
	IFAHash     uint64    `json:"ifa_hash,omitempty"`
}
