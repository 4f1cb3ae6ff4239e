package capacity

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callbid/callbid/channel"
	"github.com/callbid/callbid/events"
)

// ChannelsConfig is capacity.channels: how agents on channels other than
// voice turn into capacity (see Channels).
type ChannelsConfig struct {
	// Chat: an agent handles sessions_per_agent chats at once (default 3).
	Chat SessionsConfig `yaml:"chat"`
	// SMS: an agent handles sessions_per_agent text conversations at once
	// (default 5).
	SMS SessionsConfig `yaml:"sms"`
	// Callback: requested callbacks are scheduled into the voice agents'
	// free time within window (default 30m).
	Callback CallbackConfig `yaml:"callback"`
	// SessionTimeout forgets a chat or sms session never ended, and a
	// callback never made (default 1h).
	SessionTimeout time.Duration `yaml:"session_timeout"`
	// Schedules reads workforce schedules from cc.schedule.v1 (schedule.go).
	// Off by default: the topic must exist (compacted) before it is on.
	Schedules bool `yaml:"schedules"`
}

// SessionsConfig is the concurrency of one session channel.
type SessionsConfig struct {
	SessionsPerAgent int `yaml:"sessions_per_agent"`
}

// CallbackConfig is the callback channel.
type CallbackConfig struct {
	Window time.Duration `yaml:"window"`
}

// SetDefaults fills zero fields.
func (c *ChannelsConfig) SetDefaults() {
	if c.Chat.SessionsPerAgent == 0 {
		c.Chat.SessionsPerAgent = 3
	}
	if c.SMS.SessionsPerAgent == 0 {
		c.SMS.SessionsPerAgent = 5
	}
	if c.Callback.Window == 0 {
		c.Callback.Window = 30 * time.Minute
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = time.Hour
	}
}

// Validate reports every problem with its path relative to "capacity".
func (c *ChannelsConfig) Validate() error {
	var errs []error
	for _, s := range []struct {
		path string
		n    int
	}{{"channels.chat.sessions_per_agent", c.Chat.SessionsPerAgent}, {"channels.sms.sessions_per_agent", c.SMS.SessionsPerAgent}} {
		if s.n < 1 || s.n > 100 {
			errs = append(errs, fmt.Errorf("%s: %d must be between 1 and 100 sessions", s.path, s.n))
		}
	}
	if c.Callback.Window <= 0 || c.Callback.Window > 24*time.Hour {
		errs = append(errs, fmt.Errorf("channels.callback.window: %v must be positive and at most 24h", c.Callback.Window))
	}
	if c.SessionTimeout <= 0 || c.SessionTimeout > 24*time.Hour {
		errs = append(errs, fmt.Errorf("channels.session_timeout: %v must be positive and at most 24h", c.SessionTimeout))
	}
	return errors.Join(errs...)
}

// servesVoice reports whether an agent event leaves the agent on voice: an
// event without channels does (feeds that never send them are voice
// feeds), one whose channels lack "voice" does not.
func servesVoice(ev *events.AgentState) bool {
	if len(ev.Channels) == 0 {
		return true
	}
	for _, c := range ev.Channels {
		if c == "voice" {
			return true
		}
	}
	return false
}

// voiceSkills is the skills the voice model counts for ev: none for an
// agent that is not on voice (it is Channels' alone).
func voiceSkills(ev *events.AgentState) []events.AgentSkill {
	if servesVoice(ev) {
		return ev.Skills
	}
	return nil
}

// voiceCall reports whether a cc.call.v1 event is a phone call (channel
// empty or "voice"). The voice model ignores chat, sms and callback
// sessions: Channels counts them.
func voiceCall(ev *events.Call) bool { return ev.Channel == "" || ev.Channel == "voice" }

// ChannelView is what the bid path learns about one skill on one channel.
//
// Free is in the channel's own unit: for voice the headroom in calls per
// minute (Model.Headroom, all proficiencies); for chat and sms the sessions
// agents can open now; for callback the callbacks that fit in the voice
// agents' spare time within channels.callback.window. Factor is Free
// clamped to [0,1] for chat, sms and callback (one free session or slot
// is full capacity: they do not queue) and the voice ramp for voice.
type ChannelView struct {
	Free   float64
	Factor float64
	State  State
}

// Channels turns agents' channels (cc.agent-state.v1 "channels") and
// sessions (cc.call.v1 with "channel") into headroom per skill × channel.
//
//   - chat, sms: an agent whose channels list chat (and not voice) counts
//     sessions_per_agent × 1/k sessions to each of its k skills while it is
//     staffed and not leaving; on chat and sms both, half of that to each.
//     An agent on voice and chat counts only while AVAILABLE (when busy it
//     may be on a call), and only for the time voice does not need: the
//     blended agents lend chat at most the voice agents' spare time,
//     N·max_occupancy − A (Erlangs, A the voice demand below), and that
//     time is no callback's (lendBlended). Free = that − the sessions open
//     (OFFERED/QUEUED/ANSWERED, not yet ENDED).
//   - callback: callbacks need no answer within seconds, only agent time.
//     The voice agents' spare throughput is N·max_occupancy/AHT − λ_now −
//     committed − waiting/horizon − abandoning (calls/min, the Erlang
//     headroom's demand against the occupancy cap rather than the service
//     level); Free = that × window − callbacks requested and not yet made.
//     A shift planned to start within the window (SetSchedule) adds its
//     agents' throughput for the part of the window they are there.
//   - voice: the voice Model's headroom, unchanged.
//
// Proficiency is not tracked per channel. The feed's deadman is the voice
// Model's: when it is stale every channel is.
//
// Goroutines: the agent-state and call consumers call HandleAgentState and
// HandleCall (under mu); Run rebuilds the snapshot; View is lock-free and
// allocation-free (one atomic load, one map lookup).
type Channels struct {
	cfg    ChannelsConfig
	voice  *Model
	snap   atomic.Pointer[chanSnapshot]
	notify chan struct{}

	mu         sync.Mutex
	skills     map[string]string // tracked skill names (value: the stable key)
	agents     map[string]*chAgent
	sessions   map[string]chSession
	plans      map[string][]plan // schedule plans by record key (schedule.go)
	schedDirty bool              // plans changed since sched was built
	schedAt    int64             // when sched was built (rebuilt each minute to forget past plans)
	sched      *scheduleTable    // nil: no schedule; immutable, built by Rebuild
}

type chAgent struct {
	seq, at     int64
	heard, ttl  int64
	chans       uint8 // bit per channel.Channel
	staffed     bool
	available   bool
	leaving     bool
	skillNames  []string // tracked skills only
	channelsSet bool
}

type chSession struct {
	skill string
	ch    channel.Channel
	at    int64 // unix ns of the last transition
}

type chanSnapshot struct {
	stale  bool
	skills map[string]*chanSkill
}

// chanSkill is one skill's views per channel: now, and at every minute
// ahead (schedule.go) when a schedule names the skill × channel (nil:
// the same as now); ahead[ch][0] is now.
type chanSkill struct {
	now   [channel.Count]ChannelView
	ahead [channel.Count]*[aheadSteps]ChannelView
}

// NewChannels builds the channel model beside voice, for the campaigns'
// skills. cfg is used with defaults (Validate it first, or through
// Config.Validate).
func NewChannels(cfg ChannelsConfig, voice *Model, skills []string) *Channels {
	cfg.SetDefaults()
	c := &Channels{cfg: cfg, voice: voice, notify: make(chan struct{}, 1),
		skills: make(map[string]string), agents: make(map[string]*chAgent), sessions: make(map[string]chSession)}
	c.SetSkills(skills)
	c.snap.Store(&chanSnapshot{stale: true})
	return c
}

// SetSkills adds the campaigns' skills (config reload).
func (c *Channels) SetSkills(skills []string) {
	c.mu.Lock()
	for _, s := range skills {
		if s != "" && len(c.skills) < c.voice.cfg.MaxSkills {
			c.skills[s] = s
		}
	}
	c.mu.Unlock()
	c.changed()
}

func (c *Channels) changed() {
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// HandleAgentState applies one checked agent-state record. Ordering is by
// seq when both sides have one, else by time; an older event is ignored.
func (c *Channels) HandleAgentState(in *events.AgentState) error {
	ev, err := agentEventOf(in)
	if err != nil {
		return err
	}
	now := c.voice.now().UnixNano()
	at := eventTime(in.OccurredAt, now)
	c.mu.Lock()
	defer c.mu.Unlock()
	a := c.agents[in.AgentID]
	if a == nil {
		if len(c.agents) >= c.voice.cfg.MaxAgents || !c.tracks(in.Skills) {
			return nil
		}
		a = &chAgent{}
		c.agents[in.AgentID] = a
	} else if (in.Seq > 0 && a.seq > 0 && in.Seq <= a.seq) || ((in.Seq == 0 || a.seq == 0) && at < a.at) {
		return nil
	}
	a.seq, a.at, a.heard = in.Seq, at, at
	a.ttl = c.voice.cfg.DefaultAgentTTL.Nanoseconds()
	if in.TTLSeconds > 0 {
		a.ttl = int64(min(in.TTLSeconds, 86400)) * int64(time.Second)
	}
	if ev.state != stateUnknown {
		a.staffed = ev.state.staffed()
		a.available = ev.state == stateAvailable
	}
	if ev.state != stateUnknown || in.NextRoutingState != "" {
		a.leaving = leavingAfterContact(in)
	}
	if len(in.Skills) > 0 || ev.kind == evLogin {
		a.skillNames = a.skillNames[:0]
		for _, s := range in.Skills {
			if k, ok := c.skills[s.Name]; ok {
				a.skillNames = append(a.skillNames, k)
			}
		}
	}
	if len(in.Channels) > 0 || !a.channelsSet {
		a.chans, a.channelsSet = channelBits(in.Channels), len(in.Channels) > 0
	}
	c.changed()
	return nil
}

func (c *Channels) tracks(skills []events.AgentSkill) bool {
	for _, s := range skills {
		if _, ok := c.skills[s.Name]; ok {
			return true
		}
	}
	return false
}

// channelBits maps event channel names to a bit set; none means voice.
func channelBits(names []string) uint8 {
	if len(names) == 0 {
		return 1 << channel.Voice
	}
	var b uint8
	for _, n := range names {
		if ch, ok := channel.Parse(n); ok {
			b |= 1 << ch
		}
	}
	return b
}

// HandleCall applies one checked call record of a chat, sms or callback
// session; phone calls are the voice Model's, other channels no one's.
func (c *Channels) HandleCall(in *events.Call) error {
	if voiceCall(in) {
		return nil
	}
	ch, ok := channel.Parse(in.Channel)
	if !ok {
		return nil // a channel callbid does not bid on (email): no one's capacity
	}
	ev, err := callEventOf(in)
	if err != nil {
		return err
	}
	now := c.voice.now().UnixNano()
	t := eventTime(in.OccurredAt, now)
	c.mu.Lock()
	defer c.mu.Unlock()
	s, seen := c.sessions[in.CallID]
	open := ev.kind == callOffered || ev.kind == callQueued || (ev.kind == callAnswered && ch != channel.Callback)
	switch {
	case open && !seen:
		k, tracked := c.skills[in.Skill]
		if !tracked || len(c.sessions) >= c.voice.cfg.MaxCalls {
			return nil
		}
		c.sessions[in.CallID] = chSession{skill: k, ch: ch, at: t}
	case open:
		s.at = t
		c.sessions[in.CallID] = s
	case seen:
		delete(c.sessions, in.CallID) // ENDED, or a callback ANSWERED: made
	default:
		return nil
	}
	c.changed()
	return nil
}

// View is the bid-path read for one skill on one channel, now: no lock,
// no allocation.
func (c *Channels) View(skill string, ch channel.Channel) ChannelView {
	return c.ViewAhead(skill, ch, 0)
}

// Rebuild computes a fresh snapshot now (Run calls it; tests too, with
// the voice Model's clock).
func (c *Channels) Rebuild() {
	now := c.voice.now().UnixNano()
	stale, _ := c.voice.stale(now)
	snap := &chanSnapshot{stale: stale, skills: make(map[string]*chanSkill)}
	type agg struct {
		agents  [channel.Count]float64 // chat and sms agents without voice, counted now (shares)
		blended [channel.Count]float64 // chat and sms agents also on voice, AVAILABLE (shares)
		open    [channel.Count]int     // sessions open, callbacks pending
	}
	per := map[string]*agg{}
	get := func(s string) *agg {
		if per[s] == nil {
			per[s] = &agg{}
		}
		return per[s]
	}
	timeout := c.cfg.SessionTimeout.Nanoseconds()
	c.mu.Lock()
	for s := range c.skills {
		get(s)
	}
	for id, a := range c.agents {
		if a.heard+a.ttl < now {
			delete(c.agents, id)
			continue
		}
		if !a.staffed || a.leaving || len(a.skillNames) == 0 {
			continue
		}
		blended := a.chans&(1<<channel.Voice) != 0
		if blended && !a.available {
			continue // blended and busy: maybe on a call
		}
		// One agent's time: 1/k to each of its k skills, and, on chat and
		// sms both, half of it to each (see sessionShares).
		share := sessionShare(a.chans) / float64(len(a.skillNames))
		for _, ch := range [...]channel.Channel{channel.Chat, channel.SMS} {
			if a.chans&(1<<ch) != 0 {
				for _, s := range a.skillNames {
					if blended {
						get(s).blended[ch] += share
					} else {
						get(s).agents[ch] += share
					}
				}
			}
		}
	}
	for id, s := range c.sessions {
		if now-s.at > timeout {
			delete(c.sessions, id)
			continue
		}
		get(s.skill).open[s.ch]++
	}
	if c.schedDirty || (c.sched != nil && now-c.schedAt > int64(time.Minute)) {
		c.sched, c.schedDirty, c.schedAt = c.indexSchedule(now), false, now
	}
	sched := c.sched
	c.mu.Unlock()

	spt := [channel.Count]float64{channel.Chat: float64(c.cfg.Chat.SessionsPerAgent), channel.SMS: float64(c.cfg.SMS.SessionsPerAgent)}
	vs := c.voice.snap.Load()
	vcfg := &c.voice.cfg
	window := c.cfg.Callback.Window
	horizonMin := vcfg.WaitingHorizon.Minutes()
	c.voice.buildMu.Lock() // lambdaMaxFrac's memo
	defer c.voice.buildMu.Unlock()
	for name, g := range per {
		v := &chanSkill{}
		aht := vcfg.DefaultHandleTime.Seconds()
		var voiceLive, demand float64
		sv := vs.skills[name]
		sessAgents := g.agents // chat and sms agents: those without voice, and below the blended ones voice spares
		if sv != nil {
			aht = math.Max(sv.ahtSec, 1)
			voiceLive = sv.capacityAgents
			demand = sv.arrivalPerMin + sv.committedPerMin + float64(max(sv.waiting, 0))/horizonMin + sv.abandonPerMin
			v.now[channel.Voice] = ChannelView{Free: sv.headroom[0], Factor: sv.factor[0]}
			spare := voiceLive*vcfg.MaxOccupancy*60/aht - demand // calls/min
			lent := lendBlended(&sessAgents, &g.blended, spare*aht/60)
			spare -= lent * 60 / aht // the agents lent to chat and sms take no callback
			v.now[channel.Callback].Free = math.Max(spare, 0)*window.Minutes() +
				sched.plannedCallbackSlots(name, now, window, vcfg.MaxOccupancy, aht, voiceLive) - float64(g.open[channel.Callback])
		}
		for _, ch := range [...]channel.Channel{channel.Chat, channel.SMS} {
			v.now[ch].Free = sessAgents[ch]*spt[ch] - float64(g.open[ch])
		}
		for ch := channel.Chat; ch < channel.Count; ch++ {
			v.now[ch].Factor = min(max(v.now[ch].Free, 0), 1)
		}
		for ch := range v.now {
			if v.now[ch].Factor <= 0 {
				v.now[ch].Factor, v.now[ch].State = 0, NoHeadroom
			}
		}
		ahtNs := int64(aht * 1e9)
		for ch := range channel.Count {
			if ch == int(channel.Callback) || !sched.has(name, channel.Channel(ch)) || (ch == int(channel.Voice) && sv == nil) {
				continue
			}
			ahead := new([aheadSteps]ChannelView)
			ahead[0] = v.now[ch]
			pNow := sched.planned(name, channel.Channel(ch), now)
			for k := 1; k < aheadSteps; k++ {
				at := now + int64(k)*aheadStep.Nanoseconds()
				p := sched.minPlanned(name, channel.Channel(ch), at, at+ahtNs)
				a := &ahead[k]
				if ch == int(channel.Voice) {
					a.Free = c.voice.lambdaMaxFrac(expected(voiceLive, pNow, p), aht) - demand
					a.Factor = ramp(a.Free, vcfg.Factor)
				} else {
					a.Free = expected(sessAgents[ch], pNow, p)*spt[ch] - float64(g.open[ch])
					a.Factor = min(max(a.Free, 0), 1)
				}
				if a.Factor <= 0 {
					a.Factor, a.State = 0, NoHeadroom
				}
			}
			v.ahead[ch] = ahead
		}
		snap.skills[name] = v
	}
	c.snap.Store(snap)
}

// Run rebuilds after changes (at most every rebuild_interval) and every
// refresh_interval, until ctx ends.
func (c *Channels) Run(ctx context.Context) {
	c.Rebuild()
	tick := time.NewTicker(c.voice.cfg.RefreshInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.notify:
			t := time.NewTimer(c.voice.cfg.RebuildInterval)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		case <-tick.C:
		}
		c.Rebuild()
	}
}

// sessionShare is the share of an agent's time each of its session
// channels gets: all of it on chat or sms alone, half on both (an agent
// with three chats open is not also free for five texts).
func sessionShare(chans uint8) float64 {
	if chans&(1<<channel.Chat) != 0 && chans&(1<<channel.SMS) != 0 {
		return 0.5
	}
	return 1
}

// lendBlended adds to agents the blended agents' time voice does not need:
// of the AVAILABLE agents on voice and chat (or sms) in blended, at most
// spareAgents agent-equivalents (the voice agents' capacity at
// max_occupancy less the voice demand, in Erlangs), split over chat and sms
// in proportion. It returns the agent-equivalents lent. Voice comes first,
// as in the bidder (a chat bids only while voice has no headroom), so a
// blended agent's time is voice's until voice demand leaves some over;
// counting it in full for both would sell the same agent twice.
func lendBlended(agents, blended *[channel.Count]float64, spareAgents float64) float64 {
	total := blended[channel.Chat] + blended[channel.SMS]
	if total <= 0 || spareAgents <= 0 {
		return 0
	}
	lent := math.Min(total, spareAgents)
	for _, ch := range [...]channel.Channel{channel.Chat, channel.SMS} {
		agents[ch] += blended[ch] * lent / total
	}
	return lent
}
