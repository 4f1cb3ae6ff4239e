package ccbridge

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbid/callbid/events"
)

// Sink is where records go; *kafkaio.Producer is one. Publish must not block
// and reports false when the record was dropped.
type Sink interface {
	Publish(topic string, key, value []byte) bool
}

// Bridge maps native contact-center events to cc.* records. Safe for
// concurrent use: one mutex serialises every input (see the package doc).
type Bridge struct {
	cfg    Config
	sink   Sink
	log    zerolog.Logger
	now    func() time.Time
	skills SkillLookup
	topics struct{ agent, call, outcome string }

	mu     sync.Mutex
	agents map[string]*agent
	calls  map[string]*call

	warn  rateLimited
	stats counters
}

type counters struct {
	in, bad, stale, ignored, restamped, heartbeats atomic.Uint64
	agentRecords, callRecords, outcomeRecords      atomic.Uint64
	dropped, unmappedDisposition, skillLookupErr   atomic.Uint64
}

// Stats is a point-in-time view of the bridge's counters.
type Stats struct {
	In                  uint64 // native events accepted for mapping
	Bad                 uint64 // malformed or unrecognised input, skipped
	Stale               uint64 // older than what was already applied for the same agent and facet
	Ignored             uint64 // well-formed but nothing for callbid (chat contacts, other event types)
	Restamped           uint64 // occurred_at moved forward to keep per-agent order
	Heartbeats          uint64 // synthesized HEARTBEAT records
	AgentRecords        uint64
	CallRecords         uint64
	OutcomeRecords      uint64
	Dropped             uint64 // the sink refused a record (queue full or closed)
	UnmappedDisposition uint64
	SkillLookupErrors   uint64
}

// Stats returns the counters.
func (b *Bridge) Stats() Stats {
	s := &b.stats
	return Stats{
		In: s.in.Load(), Bad: s.bad.Load(), Stale: s.stale.Load(), Ignored: s.ignored.Load(),
		Restamped: s.restamped.Load(), Heartbeats: s.heartbeats.Load(), AgentRecords: s.agentRecords.Load(),
		CallRecords: s.callRecords.Load(), OutcomeRecords: s.outcomeRecords.Load(), Dropped: s.dropped.Load(),
		UnmappedDisposition: s.unmappedDisposition.Load(), SkillLookupErrors: s.skillLookupErr.Load(),
	}
}

// Option configures a Bridge.
type Option func(*Bridge)

// WithClock injects the clock (tests).
func WithClock(now func() time.Time) Option { return func(b *Bridge) { b.now = now } }

// WithSkillLookup replaces the Genesys config-table lookup, e.g. with one
// backed by the Genesys routing-skills API.
func WithSkillLookup(l SkillLookup) Option { return func(b *Bridge) { b.skills = l } }

// New builds a bridge (defaults are applied here); an invalid cfg is an
// error naming the field.
func New(cfg Config, sink Sink, log zerolog.Logger, opts ...Option) (*Bridge, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	b := &Bridge{
		cfg: cfg, sink: sink, log: log.With().Str("component", "ccbridge").Logger(), now: time.Now,
		agents: map[string]*agent{}, calls: map[string]*call{},
		warn: rateLimited{every: 10 * time.Second},
	}
	b.topics.agent, b.topics.call, b.topics.outcome = events.TopicAgentState, events.TopicCall, events.TopicOutcome
	for _, o := range opts {
		o(b)
	}
	if b.skills == nil {
		b.skills = NewCachedSkills(TableSkills(cfg.Genesys.Skills), cfg.Genesys.SkillCacheTTL, b.now)
	}
	return b, nil
}

func (b *Bridge) publish(topic, key string, value []byte) {
	if !b.sink.Publish(topic, []byte(key), value) {
		b.stats.dropped.Add(1)
		if n, ok := b.warn.allow(b.now()); ok {
			b.log.Warn().Str("topic", topic).Int("suppressed", n).Msg("kafka producer refused a record (queue full or closed); dropped")
		}
	}
}

// badInput counts and logs (rate-limited) input the bridge cannot use.
func (b *Bridge) badInput(source string, err error) error {
	b.stats.bad.Add(1)
	if n, ok := b.warn.allow(b.now()); ok {
		b.log.Warn().Err(err).Str("source", source).Int("suppressed", n).Msg("skipped an input the bridge cannot use")
	}
	return err
}

// ErrUnrecognised is returned for well-formed JSON of no known platform shape.
var ErrUnrecognised = errors.New("not an Amazon Connect, Twilio, Genesys or EventBridge event")

// HandleJSON maps one JSON document of any supported shape, recognised by
// its fields: a Connect agent event, an EventBridge event (Connect contact
// events, Genesys via the EventBridge integration), a Genesys notification,
// a Twilio CloudEvent or an array of them, a Kinesis record ({"Data": b64},
// Lambda's {"kinesis":{"data": b64}}) or a Lambda batch ({"Records": […]}).
func (b *Bridge) HandleJSON(doc []byte) error {
	return b.handleJSON(doc, 0)
}

func (b *Bridge) handleJSON(doc []byte, depth int) error {
	doc = bytes.TrimSpace(doc)
	if depth > 3 {
		return b.badInput("json", errors.New("records nested too deep"))
	}
	if len(doc) > 0 && doc[0] == '[' {
		var arr []json.RawMessage
		if err := json.Unmarshal(doc, &arr); err != nil {
			return b.badInput("json", fmt.Errorf("malformed JSON array: %w", err))
		}
		var errs []error
		for _, d := range arr {
			if err := b.handleJSON(d, depth+1); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	var probe struct {
		AgentARN    string          `json:"AgentARN"`
		EventType   string          `json:"EventType"`
		DetailType  string          `json:"detail-type"`
		TopicName   string          `json:"topicName"`
		SpecVersion string          `json:"specversion"`
		Data        json.RawMessage `json:"Data"`
		Kinesis     *struct {
			Data string `json:"data"`
		} `json:"kinesis"`
		Records []json.RawMessage `json:"Records"`
	}
	if err := json.Unmarshal(doc, &probe); err != nil {
		return b.badInput("json", fmt.Errorf("malformed JSON: %w", err))
	}
	switch {
	case probe.AgentARN != "" && probe.EventType != "":
		return b.connectAgentEvent(doc)
	case probe.DetailType != "":
		return b.eventBridge(doc)
	case probe.TopicName != "":
		return b.genesysNotification(doc)
	case probe.SpecVersion != "":
		return b.twilioCloudEvent(doc)
	case probe.Kinesis != nil:
		return b.kinesisData(probe.Kinesis.Data, depth)
	case len(probe.Data) > 0:
		var s string
		if err := json.Unmarshal(probe.Data, &s); err != nil {
			return b.badInput("kinesis", errors.New("the Data field is not a base64 string"))
		}
		return b.kinesisData(s, depth)
	case probe.Records != nil:
		var errs []error
		for _, r := range probe.Records {
			if err := b.handleJSON(r, depth+1); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	return b.badInput("json", ErrUnrecognised)
}

func (b *Bridge) kinesisData(s string, depth int) error {
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return b.badInput("kinesis", fmt.Errorf("record data is not base64: %w", err))
	}
	return b.handleJSON(raw, depth+1)
}

// eventBridge dispatches an EventBridge envelope by source and detail-type.
func (b *Bridge) eventBridge(doc []byte) error {
	var env struct {
		DetailType string          `json:"detail-type"`
		Source     string          `json:"source"`
		Time       time.Time       `json:"time"`
		Detail     json.RawMessage `json:"detail"`
	}
	if err := json.Unmarshal(doc, &env); err != nil {
		return b.badInput("eventbridge", fmt.Errorf("malformed EventBridge event: %w", err))
	}
	switch {
	case env.Source == "aws.connect" && env.DetailType == "Amazon Connect Contact Event":
		return b.connectContactEvent(env.Detail, env.Time)
	case strings.HasPrefix(env.Source, "aws.partner/genesys.com"):
		return b.genesysNotification(env.Detail)
	}
	b.stats.ignored.Add(1)
	return nil
}

// ReadNDJSON maps newline-delimited JSON from r (Kinesis records dumped one
// per line, a file, stdin) until EOF or ctx ends. A bad line — malformed,
// unrecognised, or longer than webhook.max_body_bytes — is counted, logged
// with its line number and skipped; only a read error is returned.
func (b *Bridge) ReadNDJSON(ctx context.Context, r io.Reader, name string) error {
	limit := max(b.cfg.Webhook.MaxBodyBytes, DefaultMaxBodyBytes)
	br := bufio.NewReaderSize(r, 64<<10)
	var line []byte
	for n := 1; ; n++ {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		line = line[:0]
		tooLong := false
		var err error
		for {
			var chunk []byte
			chunk, err = br.ReadSlice('\n')
			if !tooLong {
				line = append(line, chunk...)
				if len(line) > limit {
					tooLong, line = true, line[:0]
				}
			}
			if err != bufio.ErrBufferFull {
				break
			}
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("cannot read %s: %w", name, err)
		}
		if tooLong {
			_ = b.badInput(name, fmt.Errorf("line %d is longer than %d bytes", n, limit))
		} else if l := bytes.TrimSpace(line); len(l) > 0 && l[0] != '#' {
			if herr := b.HandleJSON(l); herr != nil {
				b.log.Debug().Err(herr).Str("input", name).Int("line", n).Msg("skipped line")
			}
		}
		if err == io.EOF {
			return nil
		}
	}
}

// rateLimited lets one log line through per interval and counts the rest.
type rateLimited struct {
	every time.Duration
	mu    sync.Mutex
	last  time.Time
	n     int
}

func (r *rateLimited) allow(now time.Time) (suppressed int, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.last.IsZero() && now.Sub(r.last) < r.every {
		r.n++
		return 0, false
	}
	n := r.n
	r.last, r.n = now, 0
	return n, true
}
