// Package ccbridge owns the contact-center bridge: it turns the native event
// streams of Amazon Connect, Twilio (TaskRouter and Event Streams) and
// Genesys Cloud into callbid's cc.agent-state.v1, cc.call.v1 and
// cc.outcome.v1 records.
//
// None of the three platforms numbers its events per agent, Genesys splits
// an agent's routing status and presence over two topics and leaves skills
// out, Twilio keeps skills in a JSON string of worker attributes and says
// nothing while an agent idles, and Connect names states its own way. So the
// bridge keeps a small state per agent (a Tracker) and
//
//   - orders events per agent and facet by the platform's own timestamp: an
//     event older than the last one applied for the same facet (the Connect
//     snapshot, a Genesys presence, a Twilio reservation …) is dropped and
//     counted, never applied over newer state;
//   - writes occurred_at that never goes backwards per agent (an event that
//     arrives after a newer one of another facet is stamped 1 ms after the
//     last record), so consumers ordering seq-less events by occurred_at
//     see them in the order the bridge applied them; Config.SynthesizeSeq
//     also writes seq = occurred_at in microseconds for consumers that
//     order by seq only;
//   - merges everything it knows of an agent (logged in, the platform
//     status, the contacts or reservations in hand, the status queued for
//     after them) into one routing_state and next_routing_state;
//   - sends a HEARTBEAT for every logged-in agent of a platform without
//     native heartbeats (Twilio, Genesys) every heartbeat_interval, with a
//     ttl_seconds longer than that, so an agent the platform stops telling
//     us about, or a bridge that dies, expires from the capacity model
//     instead of staying available forever; Connect's own HEART_BEAT
//     records are passed on as heartbeats.
//
// Skills come from each platform's own fields: Connect routing-profile
// queues (and predefined-attribute proficiencies) through a queue table,
// Twilio worker attributes (a JSON string) through an attribute path, and
// Genesys through a SkillLookup (a config table here; a deployment plugs in
// the Genesys routing-skills API behind the same interface, cached).
// Dispositions (Genesys wrap-up codes, Twilio task outcomes) map to
// cc.outcome.v1 dispositions through a config table.
//
// The webhook and admin listeners are httpapi/bridge's (routes, signatures,
// API keys, answers); they call HandleJSON and TwilioForm, and WebhookAuth,
// Refused and Oversized.
//
// Goroutines: the webhook listener's handlers, the NDJSON reader and the
// heartbeat ticker all call the Bridge; one mutex serialises them (the
// bridge is off callbid's bid path, and per-agent order matters more than
// parallelism). Output goes to a Sink (kafkaio.Producer), whose Publish
// never blocks.
package ccbridge
