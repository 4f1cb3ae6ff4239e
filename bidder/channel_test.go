package bidder

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callbid/callbid/callrecords"
	"github.com/callbid/callbid/capacity"
	"github.com/callbid/callbid/channel"
	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/numbers"
	"github.com/rs/zerolog"
)

// channelLoop is a closed loop on a simulated clock: the real capacity
// Model and Channels, the real numbers pools (a voice pool and a chat key
// pool) and the bidder, fed agent and call events as a contact center
// would send them. Nothing sleeps: each simulated second sends the events,
// rebuilds the snapshots (as Run does within rebuild_interval) and asks for
// one bid.
type channelLoop struct {
	t     *testing.T
	now   time.Time
	m     *capacity.Model
	ch    *capacity.Channels
	pools *numbers.Pools
	b     *Bidder
	pub   *fakePublisher     // the impression records the notices publish
	recs  *callrecords.Store // the attributions numbers made
	nurl  string             // the win notice URL of the last bid
	seq   int64
	ended map[string]string // slot → call id in progress (channel_schedule_test.go)
}

// newChannelLoop builds the loop; res nil means the real pools.
func newChannelLoop(t *testing.T, chans []ChannelConfig, res Reserver) *channelLoop {
	t.Helper()
	l := &channelLoop{t: t, now: testNow, ended: map[string]string{}}
	var nums []string
	for i := range 100 {
		nums = append(nums, "+1800555"+strconv.Itoa(2000+i))
	}
	var err error
	l.pools, err = numbers.New(numbers.Config{Pools: []numbers.PoolConfig{
		{ID: "pool-mortgage", Numbers: nums},
		{ID: "chat-keys", Channel: "chat", Keys: numbers.KeysConfig{Prefix: "CH", Count: 200}},
	}}, nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if l.recs, err = callrecords.New(callrecords.Config{}); err != nil {
		t.Fatal(err)
	}
	l.pools.UseCallRecords(l.recs)
	l.pub = &fakePublisher{}
	ccfg := capacity.Config{}
	m, err := capacity.New(ccfg, []string{"mortgage"}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	l.m = m
	l.m.SetClock(func() time.Time { return l.now })
	l.ch = capacity.NewChannels(ccfg.Channels, l.m, []string{"mortgage"})
	cfg := baseConfig()
	c := cfg.Campaigns[0]
	c.Skill = SkillConfig{Name: "mortgage"}
	c.Creatives = []CreativeConfig{c.Creatives[0], c.Creatives[2]} // the 300×250 call banner and the native one
	c.Channels = chans
	cfg.Campaigns = []CampaignConfig{c}
	if res == nil {
		res = l.pools
	}
	l.b, err = New(cfg, Deps{Reserver: res, Capacity: l.m, Channels: l.ch, Feedback: &fakeFeedback{}, Publisher: l.pub,
		Now: func() time.Time { return l.now }}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func (l *channelLoop) agent(id, state string, chans ...string) {
	l.seq++
	ev := &events.AgentState{AgentID: id, Seq: l.seq, EventType: events.AgentStateChange, OccurredAt: l.now,
		RoutingState: state, Channels: chans, Skills: []events.AgentSkill{{Name: "mortgage", Proficiency: 3}}}
	for _, h := range []func(*events.AgentState) error{l.m.HandleAgentState, l.ch.HandleAgentState} {
		if err := h(ev); err != nil {
			l.t.Fatal(err)
		}
	}
}

func (l *channelLoop) call(id, typ, ch, dnis string) {
	ev := &events.Call{CallID: id, EventType: typ, OccurredAt: l.now, Skill: "mortgage", Channel: ch, DNIS: dnis}
	for _, h := range []func(*events.Call) error{l.m.HandleCall, l.ch.HandleCall, l.pools.HandleCallEvent} {
		if err := h(ev); err != nil {
			l.t.Fatal(err)
		}
	}
}

// keepalive is an agent of a skill no campaign uses: it keeps the feed
// live (the deadman) without adding capacity.
func (l *channelLoop) keepalive() {
	l.seq++
	ev := &events.AgentState{AgentID: "keepalive", Seq: l.seq, EventType: events.AgentHeartbeat, OccurredAt: l.now,
		RoutingState: events.StateAvailable, Skills: []events.AgentSkill{{Name: "other", Proficiency: 3}}}
	if err := l.m.HandleAgentState(ev); err != nil {
		l.t.Fatal(err)
	}
}

// callEnd ends the call in progress on slot with its talk time.
func (l *channelLoop) callEnd(slot string, talk time.Duration) {
	id := l.ended[slot]
	delete(l.ended, slot)
	ev := &events.Call{CallID: id, EventType: events.CallEnded, OccurredAt: l.now, Skill: "mortgage", TalkMS: talk.Milliseconds()}
	for _, h := range []func(*events.Call) error{l.m.HandleCall, l.ch.HandleCall, l.pools.HandleCallEvent} {
		if err := h(ev); err != nil {
			l.t.Fatal(err)
		}
	}
}

// bid asks for one 300×250 imp and returns the channel bid on ("" for no
// bid), the tracking key or number, and its reservation.
func (l *channelLoop) bid() (string, string, numbers.Ref) {
	l.m.Rebuild()
	l.ch.Rebuild()
	d := &decision{}
	s := l.b.snap.Load()
	l.b.decide(d, s, banner300(), s.exchange([]byte("x")), l.now)
	if len(d.Bids) == 0 {
		return "", "", 0
	}
	adm := string(d.Bids[0].AdM)
	l.nurl = d.Bids[0].NURL
	if i := strings.Index(adm, "chat.example.com/s?k="); i >= 0 {
		key := adm[i+len("chat.example.com/s?k="):]
		return "chat", key[:strings.IndexAny(key, `"\&`)], d.refs[0]
	}
	if i := strings.Index(adm, "tel:"); i >= 0 {
		return "voice", adm[i+4 : i+16], d.refs[0]
	}
	l.t.Fatalf("markup of neither channel: %s", adm)
	return "", "", 0
}

// Voice agents queue up while chat agents are free: bids switch to the
// chat creative within 5 s, each chat win's notice records a chat
// impression, the chat sessions started from its keys are attributed as
// chat (the channel feedback keys hit rates and report rows by), chat
// stops at its session capacity, and bids switch back to voice within 5 s
// of the queue clearing (every bid from then on is voice). The test keeps its own simple
// model — "voice is full while calls wait; chat has 2 agents × 3 sessions
// − open sessions" — and checks each bid against it.
func TestChannelSwitchClosedLoop(t *testing.T) {
	l := newChannelLoop(t, []ChannelConfig{{Channel: "chat", Pool: "chat-keys", ActionURL: "https://chat.example.com/s?k={{key}}"}}, nil)
	voiceAgents := []string{"v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9"}
	waiting := 0 // the test's own queue
	var open []string
	queueSince, clearSince := time.Duration(-1), time.Duration(-1)
	chatBids, attributed, voiceAfter := 0, 0, 0
	for sec := range 90 {
		el := time.Duration(sec) * time.Second
		l.now = testNow.Add(el)
		if sec%10 == 0 { // heartbeats keep the feed live (stale_after 30 s)
			for _, a := range voiceAgents {
				l.agent(a, events.StateBusy)
			}
			l.agent("c0", events.StateAvailable, "chat")
			l.agent("c1", events.StateAvailable, "chat")
		}
		switch sec {
		case 20: // two callers queue for the busy voice agents
			l.call("q1", events.CallOffered, "", "")
			l.call("q2", events.CallOffered, "", "")
			waiting, queueSince = 2, el
		case 60: // they are answered
			l.call("q1", events.CallAnswered, "", "")
			l.call("q2", events.CallAnswered, "", "")
			waiting, clearSince = 0, el
		}
		if sec%7 == 0 && len(open) > 0 { // a chat ends now and then
			l.call(open[0], events.CallEnded, "chat", "")
			open = open[1:]
		}
		got, key, ref := l.bid()
		free := 2*3 - len(open) // the test's chat model
		switch {
		case waiting == 0 && (queueSince < 0 || clearSince >= 0 && el-clearSince > 5*time.Second):
			if got != "voice" {
				t.Fatalf("+%v: no queue, bid %q, want voice", el, got)
			}
			if clearSince >= 0 {
				voiceAfter++
			}
		case waiting > 0 && el-queueSince > 5*time.Second:
			want := "chat"
			if free <= 0 {
				want = ""
			}
			if got != want {
				t.Fatalf("+%v: %d waiting, %d chat sessions free: bid %q, want %q", el, waiting, free, got, want)
			}
		}
		if got != "chat" {
			continue
		}
		chatBids++
		// The exchange's win notice leases the key and records the
		// impression as a chat one.
		if o, _ := l.b.applyNotice(noticeWin, []byte(tokenOf(t, l.nurl)), nil, l.now); o != noticeApplied {
			t.Fatalf("win notice: %s", noticeOutcomeNames[o])
		}
		if st := l.pools.Win(ref, false, l.now); st != numbers.WinDuplicate {
			t.Fatalf("the key is not leased by the win notice: a second Win says %v", st)
		}
		var im events.Impression
		if err := events.DecodeImpression([]byte(l.pub.msgs[len(l.pub.msgs)-1].value), &im); err != nil || im.Channel != "chat" {
			t.Fatalf("impression record %s (%v): want channel chat", l.pub.msgs[len(l.pub.msgs)-1].value, err)
		}
		// The visitor opens the chat from the creative: the platform reports
		// the session with the key as dnis.
		id := "chat-" + strconv.Itoa(sec)
		before := l.pools.Stats().Calls[numbers.MatchExact]
		l.call(id, events.CallOffered, "chat", key)
		if a := l.recs.Attribution(id); l.pools.Stats().Calls[numbers.MatchExact] == before+1 && a != nil && a.Channel == "chat" {
			attributed++ // and counted in the chat hit rates and report rows (feedback)
		}
		open = append(open, id)
	}
	t.Logf("%d chat bids (%d attributed), %d voice bids after the queue cleared", chatBids, attributed, voiceAfter)
	if chatBids < 6 || attributed != chatBids {
		t.Errorf("%d chat bids, %d sessions attributed: want at least 6, all attributed", chatBids, attributed)
	}
	if voiceAfter < 20 {
		t.Errorf("%d voice bids after the queue cleared", voiceAfter)
	}
	if v := l.ch.View("mortgage", channel.Chat); v.Free != float64(6-len(open)) {
		t.Errorf("capacity's chat view %+v, the test's model %d free", v, 6-len(open))
	}
}

func TestChannelConfigValidate(t *testing.T) {
	cfg := baseConfig()
	no := false
	cfg.Campaigns[1].NeedsCapacity = &no
	cfg.Campaigns[0].Channels = []ChannelConfig{
		{Channel: "fax"},
		{Channel: "chat", ActionURL: "http://chat.example.com/{{key}}", ValueMultiplier: -1},
		{Channel: "chat", Pool: "p", ActionURL: "https://c.example.com/{{key}}", Template: "<a>{{tel_uri}}</a>"},
		{Channel: "voice", Pool: "p", ContactDelay: 2 * time.Hour},
	}
	cfg.Campaigns[1].Channels = []ChannelConfig{{Channel: "callback", Pool: "p", ActionURL: "https://c.example.com/{{key}}"}}
	err := cfg.Validate()
	for _, want := range []string{
		`campaigns[0].channels[0].channel: "fax" is not voice, chat, sms or callback`,
		`campaigns[0].channels[1].pool: is required`,
		`campaigns[0].channels[1].action_url: action url: must be an https:// or sms: URL`,
		`campaigns[0].channels[1].value_multiplier: -1 must not be negative`,
		`campaigns[0].channels[2].channel: chat is listed twice`,
		`campaigns[0].channels[2].template: template: no {{key}} or {{action_url}}`,
		`campaigns[0].channels[3]: voice uses the campaign's number_pool`,
		`campaigns[0].channels[3].contact_delay: 2h0m0s must be between 0 and 1h`,
		`campaigns[1].channels[0]: a callback channel bids only when voice has no headroom`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v\nwant …%s…", err, want)
		}
	}
}
