package ccsim

import (
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Config is the simulator section of the config file (yaml key
// "simulator"). Zero values mean the documented default (SetDefaults).
type Config struct {
	// Enabled starts the simulated contact center inside callbid (the demo
	// default); the production config turns it off.
	Enabled bool `yaml:"enabled"`
	// Tenant prefixes agent and call ids ("sim:mortgage-0001"); default "sim".
	Tenant string `yaml:"tenant"`
	// Seed makes a run reproducible; default 1.
	Seed uint64 `yaml:"seed"`
	// Skills are the agent groups; default DemoSkills (mortgage,
	// auto_insurance, legal).
	Skills []SkillConfig `yaml:"skills"`
	// HeartbeatInterval is how often a logged-in agent with no other event
	// sends HEARTBEAT; default 10s.
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	// TTL is the ttl_seconds agents carry; default 3 heartbeats (30s), so a
	// stopped simulator's agents expire quickly.
	TTL time.Duration `yaml:"ttl"`
	// Speed is simulated seconds per real second; default 1. Timestamps
	// (occurred_at) follow simulated time.
	Speed float64 `yaml:"speed"`
	// Tick is the simulation step in simulated time; default 100ms.
	Tick time.Duration `yaml:"tick"`
	// LogEvery is how often Run logs a one-line summary of every skill (real
	// time); default 5m; negative turns it off.
	LogEvery time.Duration `yaml:"log_every"`
	Shift    ShiftConfig   `yaml:"shift"`
	// Audience calls a share of the tracking numbers callbid wins
	// (audience.go); none by default.
	Audience AudienceConfig `yaml:"audience"`
}

// SkillConfig is one group of agents sharing a skill, and the calls that
// need it.
type SkillConfig struct {
	Name   string `yaml:"name"`
	Agents int    `yaml:"agents"`
	// Proficiency of each agent is drawn uniformly from
	// [ProficiencyMin, ProficiencyMax] (default 2-5), or from Proficiencies
	// when that list is given.
	ProficiencyMin float64   `yaml:"proficiency_min"`
	ProficiencyMax float64   `yaml:"proficiency_max"`
	Proficiencies  []float64 `yaml:"proficiencies"`
	// HandleTime is the mean talk time (exponential, at least 10s);
	// default 3m.
	HandleTime time.Duration `yaml:"handle_time"`
	// ACWTime is after-call work per call; default 20s.
	ACWTime time.Duration `yaml:"acw_time"`
	// ArrivalPerMin is the mean call arrival rate (Poisson), modulated by
	// shift.wave_*; 0 means no calls.
	ArrivalPerMin float64 `yaml:"arrival_per_min"`
	// Patience is the mean time a queued caller waits before abandoning;
	// default 90s.
	Patience time.Duration `yaml:"patience"`
	// DNIS is the number simulated callers dial; default +1800555010N.
	DNIS string `yaml:"dnis"`
	// Chat is the skill's chat agents (none by default): agents on the
	// chat channel only, each handling several sessions at once.
	Chat ChatConfig `yaml:"chat"`
}

// ChatConfig is one skill's chat team and the chats that need it.
type ChatConfig struct {
	// Agents on chat only (channels ["chat"]); 0: no chat.
	Agents int `yaml:"agents"`
	// Sessions is how many chats an agent handles at once; default 3
	// (capacity.channels.chat.sessions_per_agent should match).
	Sessions int `yaml:"sessions"`
	// HandleTime is the mean chat length (exponential, at least 30s);
	// default 8m.
	HandleTime time.Duration `yaml:"handle_time"`
	// ArrivalPerMin is the organic chats per minute (Poisson, no tracking
	// key); chats started from a creative's key come through Sim.Offer.
	ArrivalPerMin float64 `yaml:"arrival_per_min"`
	// Patience is the mean time a chat waits for an agent before the
	// visitor leaves; default 2m.
	Patience time.Duration `yaml:"patience"`
}

// ShiftConfig shapes the agents' day.
type ShiftConfig struct {
	// LoginSpread: agents log in at uniform times over this window after
	// start; default 1m.
	LoginSpread time.Duration `yaml:"login_spread"`
	// BreakEvery is the mean time between an agent's breaks (exponential);
	// default 8m; negative disables breaks.
	BreakEvery time.Duration `yaml:"break_every"`
	// BreakLength is the mean break (NOT_ROUTABLE) length; default 90s.
	BreakLength time.Duration `yaml:"break_length"`
	// LogoutEvery is the mean time between an agent logging out and back
	// in; default 20m; negative disables.
	LogoutEvery time.Duration `yaml:"logout_every"`
	// OfflineFor is the mean time logged out; default 2m.
	OfflineFor time.Duration `yaml:"offline_for"`
	// WavePeriod and WaveAmplitude modulate arrivals:
	// rate·(1 + amplitude·sin(2πt/period)); defaults 5m and 0.5.
	WavePeriod    time.Duration `yaml:"wave_period"`
	WaveAmplitude float64       `yaml:"wave_amplitude"`
	// Meetings take a share of a skill's agents off the queue together at
	// scheduled times (meeting.go); none by default.
	Meetings []MeetingConfig `yaml:"meetings"`
}

// DemoSkills is the built-in demo contact center: a roomy, a busy and a
// tight skill, so capacity differs between them and moves within a minute.
func DemoSkills() []SkillConfig {
	return []SkillConfig{
		// Sized so organic load stays under the 0.85 occupancy cap of the
		// agents left after breaks and logouts (~80% staffed), except at
		// wave peaks: mortgage 3/min × 210 s = 10.5 Erlangs on ~32 agents.
		{Name: "mortgage", Agents: 40, ProficiencyMin: 2, ProficiencyMax: 5, HandleTime: 3 * time.Minute, ACWTime: 30 * time.Second, ArrivalPerMin: 3},
		{Name: "auto_insurance", Agents: 60, ProficiencyMin: 1, ProficiencyMax: 4, HandleTime: 2 * time.Minute, ACWTime: 15 * time.Second, ArrivalPerMin: 12},
		{Name: "legal", Agents: 16, Proficiencies: []float64{3, 4, 4, 5}, HandleTime: 5 * time.Minute, ACWTime: 45 * time.Second, ArrivalPerMin: 1},
	}
}

// DemoConfig is an enabled simulator with the demo skills and defaults.
func DemoConfig() Config {
	c := Config{Enabled: true, Skills: DemoSkills()}
	c.SetDefaults()
	return c
}

// SetDefaults fills every zero value with its default.
func (c *Config) SetDefaults() {
	def(&c.Tenant, "sim")
	def(&c.Seed, 1)
	if len(c.Skills) == 0 {
		c.Skills = DemoSkills()
	}
	def(&c.HeartbeatInterval, 10*time.Second)
	def(&c.TTL, 3*c.HeartbeatInterval)
	def(&c.Speed, 1)
	def(&c.Tick, 100*time.Millisecond)
	def(&c.LogEvery, 5*time.Minute)
	c.Audience.setDefaults()
	s := &c.Shift
	def(&s.LoginSpread, time.Minute)
	def(&s.BreakEvery, 8*time.Minute)
	def(&s.BreakLength, 90*time.Second)
	def(&s.LogoutEvery, 20*time.Minute)
	def(&s.OfflineFor, 2*time.Minute)
	def(&s.WavePeriod, 5*time.Minute)
	def(&s.WaveAmplitude, 0.3)
	for i := range c.Skills {
		k := &c.Skills[i]
		if len(k.Proficiencies) == 0 {
			def(&k.ProficiencyMin, 2)
			def(&k.ProficiencyMax, 5)
		}
		def(&k.HandleTime, 3*time.Minute)
		def(&k.ACWTime, 20*time.Second)
		def(&k.Patience, 90*time.Second)
		def(&k.DNIS, fmt.Sprintf("+1800555%04d", 100+i))
		if k.Chat.Agents > 0 {
			def(&k.Chat.Sessions, 3)
			def(&k.Chat.HandleTime, 8*time.Minute)
			def(&k.Chat.Patience, 2*time.Minute)
		}
	}
}

func def[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

var (
	tenantRe = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	e164Re   = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
)

// Validate reports every problem with its field path relative to
// "simulator". Zero values are valid (they mean the default).
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	dur := func(path string, v, lo, hi time.Duration) {
		if v != 0 && (v < lo || v > hi) {
			add("%s: %s is outside %s-%s", path, v, lo, hi)
		}
	}
	if c.Tenant != "" && !tenantRe.MatchString(c.Tenant) {
		add("tenant: %q must be 1-64 letters, digits, '.', '_' or '-'", c.Tenant)
	}
	dur("heartbeat_interval", c.HeartbeatInterval, 100*time.Millisecond, time.Hour)
	dur("ttl", c.TTL, time.Second, 24*time.Hour)
	if c.TTL != 0 && c.HeartbeatInterval != 0 && c.TTL <= c.HeartbeatInterval {
		add("ttl: %s must be longer than heartbeat_interval %s, or live agents expire between heartbeats", c.TTL, c.HeartbeatInterval)
	}
	if c.Speed < 0 || c.Speed > 1000 {
		add("speed: %g is outside 0-1000 (0 means 1)", c.Speed)
	}
	dur("tick", c.Tick, 10*time.Millisecond, 10*time.Second)
	s := c.Shift
	dur("shift.login_spread", s.LoginSpread, 0, 24*time.Hour)
	if s.BreakEvery > 0 {
		dur("shift.break_every", s.BreakEvery, time.Second, 24*time.Hour)
	}
	dur("shift.break_length", s.BreakLength, time.Second, 24*time.Hour)
	if s.LogoutEvery > 0 {
		dur("shift.logout_every", s.LogoutEvery, time.Second, 24*time.Hour)
	}
	dur("shift.offline_for", s.OfflineFor, time.Second, 24*time.Hour)
	dur("shift.wave_period", s.WavePeriod, time.Second, 7*24*time.Hour)
	if s.WaveAmplitude < 0 || s.WaveAmplitude > 1 {
		add("shift.wave_amplitude: %g is outside 0-1", s.WaveAmplitude)
	}
	c.validateMeetings(add)
	c.Audience.validate(add)
	seen := map[string]int{}
	total := 0
	for i, k := range c.Skills {
		p := fmt.Sprintf("skills[%d]", i)
		if k.Name == "" {
			add("%s.name: is empty", p)
		} else if j, dup := seen[k.Name]; dup {
			add("%s.name: %q repeats skills[%d]", p, k.Name, j)
		} else {
			seen[k.Name] = i
		}
		if k.Agents < 1 || k.Agents > 100_000 {
			add("%s.agents: %d is outside 1-100000", p, k.Agents)
		}
		total += k.Agents
		if k.ProficiencyMin < 0 || k.ProficiencyMin > 5 {
			add("%s.proficiency_min: %g is outside 0-5", p, k.ProficiencyMin)
		}
		if k.ProficiencyMax < 0 || k.ProficiencyMax > 5 {
			add("%s.proficiency_max: %g is outside 0-5", p, k.ProficiencyMax)
		}
		if k.ProficiencyMax != 0 && k.ProficiencyMin > k.ProficiencyMax {
			add("%s.proficiency_min: %g is above proficiency_max %g", p, k.ProficiencyMin, k.ProficiencyMax)
		}
		for j, v := range k.Proficiencies {
			if !(v >= 0 && v <= 5) {
				add("%s.proficiencies[%d]: %g is outside 0-5", p, j, v)
			}
		}
		dur(p+".handle_time", k.HandleTime, time.Second, 4*time.Hour)
		dur(p+".acw_time", k.ACWTime, 0, time.Hour)
		dur(p+".patience", k.Patience, time.Second, time.Hour)
		if !(k.ArrivalPerMin >= 0 && k.ArrivalPerMin <= 100_000) {
			add("%s.arrival_per_min: %g is outside 0-100000", p, k.ArrivalPerMin)
		}
		if k.DNIS != "" && !e164Re.MatchString(k.DNIS) {
			add("%s.dnis: %q is not E.164", p, k.DNIS)
		}
		ch := k.Chat
		if ch.Agents < 0 || ch.Agents > 100_000 {
			add("%s.chat.agents: %d is outside 0-100000", p, ch.Agents)
		}
		total += max(ch.Agents, 0)
		if ch.Sessions < 0 || ch.Sessions > 100 {
			add("%s.chat.sessions: %d is outside 1-100 (0 means 3)", p, ch.Sessions)
		}
		dur(p+".chat.handle_time", ch.HandleTime, time.Second, 4*time.Hour)
		dur(p+".chat.patience", ch.Patience, time.Second, time.Hour)
		if !(ch.ArrivalPerMin >= 0 && ch.ArrivalPerMin <= 100_000) {
			add("%s.chat.arrival_per_min: %g is outside 0-100000", p, ch.ArrivalPerMin)
		}
		if ch.Agents == 0 && ch.ArrivalPerMin > 0 {
			add("%s.chat.arrival_per_min: chats need chat.agents", p)
		}
	}
	if total > 200_000 {
		add("skills: %d agents in all; at most 200000", total)
	}
	return errors.Join(errs...)
}
