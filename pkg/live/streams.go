package live

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Streams is the Redis side of live updates: one capped stream per owner
// and the fan-out channel. Safe for concurrent use.
type Streams struct {
	rdb    redis.UniversalClient
	prefix string
	cfg    Config
}

// NewStreams returns the streams under key prefix (FUNDIGO_REDIS_KEY_PREFIX).
func NewStreams(rdb redis.UniversalClient, prefix string, cfg Config) (*Streams, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("live config: %w", err)
	}
	if rdb == nil {
		return nil, errors.New("live streams: redis client is nil")
	}
	return &Streams{rdb: rdb, prefix: prefix, cfg: cfg}, nil
}

// streamKey is the owner's stream; the braces keep an owner's keys in one
// Redis Cluster slot (the append script touches two of them).
func (s *Streams) streamKey(owner string) string { return s.prefix + "live:{" + owner + "}" }

func (s *Streams) seenKey(owner, messageID string) string {
	return s.prefix + "live:{" + owner + "}:seen:" + messageID
}

// Channel is the fan-out channel every Hub subscribes to.
func (s *Streams) Channel() string { return s.prefix + "live:fanout" }

// appendScript adds one event to an owner's stream, refreshes the stream's
// expiry and publishes it, atomically. KEYS: stream, seen-marker. ARGV:
// maxlen, retention ms, channel, owner, type, at (unix µs), data, dedupe
// ("1"/"0"). Returns the new stream id, or false for a duplicate.
var appendScript = redis.NewScript(`
if ARGV[8] == '1' then
  if not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[2]) then return false end
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 't', ARGV[5], 'a', ARGV[6], 'd', ARGV[7])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4] .. '\n' .. id .. '\n' .. ARGV[5] .. '\n' .. ARGV[6] .. '\n' .. ARGV[7])
return id
`)

// ErrInvalidEvent: an event Append refuses (bad owner or type, data not a
// JSON object); retrying cannot fix it.
var ErrInvalidEvent = errors.New("invalid live event")

// Append adds ev to its owner's stream and publishes it to every Hub. It is
// idempotent per (ev.MessageID, ev.Owner) within the retention window: a
// redelivered event returns duplicate true and is not sent again.
func (s *Streams) Append(ctx context.Context, ev Event) (id string, duplicate bool, err error) {
	r := s.AppendBatch(ctx, []Event{ev})[0]
	return r.ID, r.Duplicate, r.Err
}

// Appended is the outcome of one event of AppendBatch: Append's results.
type Appended struct {
	ID        string
	Duplicate bool
	Err       error
}

// AppendBatch is Append for many events in one round trip: the append
// script runs once per event (same script, so the same dedupe, trim,
// expiry and publish, each atomic), all of them in one pipeline. It returns
// one result per event, in order; an invalid event (ErrInvalidEvent) fails
// alone and is not sent. Events of one owner are appended in their order.
func (s *Streams) AppendBatch(ctx context.Context, evs []Event) []Appended {
	out := make([]Appended, len(evs))
	type call struct {
		i          int
		keys       []string
		args       []any
		cmd        *redis.Cmd
		unscripted bool
	}
	calls := make([]call, 0, len(evs))
	var c compacted
	for i, ev := range evs {
		keys, args, err := s.appendArgs(ev, &c)
		if err != nil {
			out[i].Err = err
			continue
		}
		calls = append(calls, call{i: i, keys: keys, args: args})
	}
	if len(calls) == 0 {
		return out
	}
	// EvalSha first (the script is normally cached); a server that lost it
	// (restart, SCRIPT FLUSH) answers NOSCRIPT without running it, and
	// those events go again with the script's text.
	pipe := s.rdb.Pipeline()
	for j := range calls {
		calls[j].cmd = appendScript.EvalSha(ctx, pipe, calls[j].keys, calls[j].args...)
	}
	_, _ = pipe.Exec(ctx) // errors are read per command below
	missing := 0
	for j := range calls {
		if err := calls[j].cmd.Err(); err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			calls[j].unscripted = true
			missing++
		}
	}
	if missing > 0 {
		pipe = s.rdb.Pipeline()
		for j := range calls {
			if calls[j].unscripted {
				calls[j].cmd = appendScript.Eval(ctx, pipe, calls[j].keys, calls[j].args...)
			}
		}
		_, _ = pipe.Exec(ctx)
	}
	for _, c := range calls {
		out[c.i].ID, out[c.i].Duplicate, out[c.i].Err = appendResult(evs[c.i], c.cmd)
	}
	return out
}

// appendArgs validates ev and returns the append script's keys and
// arguments for it.
// c remembers the last data compacted: the events of one message to many
// owners share their data, which is compacted once.
func (s *Streams) appendArgs(ev Event, c *compacted) ([]string, []any, error) {
	if !ValidOwner(ev.Owner) || ev.Type == "" || len(ev.Type) > 128 || strings.ContainsAny(ev.Type, "\n ") ||
		len(ev.MessageID) > 256 {
		return nil, nil, fmt.Errorf("%w: owner, type or message id", ErrInvalidEvent)
	}
	data, err := c.of(ev.Data)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s data: %w", ErrInvalidEvent, ev.Type, err)
	}
	dedupe := "0"
	if ev.MessageID != "" {
		dedupe = "1"
	}
	at := ev.At
	if at.IsZero() {
		at = time.Now()
	}
	return []string{s.streamKey(ev.Owner), s.seenKey(ev.Owner, ev.MessageID)},
		[]any{s.cfg.MaxLen, s.cfg.Retention.Milliseconds(), s.Channel(), ev.Owner, ev.Type,
			strconv.FormatInt(at.UnixMicro(), 10), data, dedupe}, nil
}

// appendResult reads the append script's answer: the new id, or a
// duplicate (the script returned false).
func appendResult(ev Event, cmd *redis.Cmd) (id string, duplicate bool, err error) {
	res, err := cmd.Text()
	if errors.Is(err, redis.Nil) {
		return "", true, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("append live %s event: %w", ev.Type, err)
	}
	return res, false, nil
}

// compacted is compactObject of the last raw data it was asked for.
type compacted struct {
	raw  json.RawMessage
	data string
	err  error
	set  bool
}

// of is compactObject(raw), reusing the last result when raw is the same
// slice (same start and length) as last time.
func (c *compacted) of(raw json.RawMessage) (string, error) {
	if c.set && len(raw) == len(c.raw) && (len(raw) == 0 || &raw[0] == &c.raw[0]) {
		return c.data, c.err
	}
	c.raw, c.set = raw, true
	c.data, c.err = compactObject(raw)
	return c.data, c.err
}

// compactObject checks raw is one JSON object and strips its insignificant
// whitespace (no raw newlines: the fan-out frame is newline-separated).
func compactObject(raw json.RawMessage) (string, error) {
	if len(raw) == 0 {
		return "{}", nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return "", err
	}
	if b.Len() == 0 || b.Bytes()[0] != '{' {
		return "", errors.New("not a JSON object")
	}
	return b.String(), nil
}

// position is an owner's stream state: where it ends and what was trimmed.
type position struct {
	exists     bool
	last       StreamID // last generated id (exists)
	maxDeleted StreamID // highest trimmed id (exists; 0-0 when none)
	now        time.Time
}

func (s *Streams) position(ctx context.Context, owner string) (position, error) {
	pipe := s.rdb.Pipeline()
	tcmd := pipe.Time(ctx)
	icmd := pipe.XInfoStream(ctx, s.streamKey(owner))
	_, _ = pipe.Exec(ctx) // errors are read per command below
	now, err := tcmd.Result()
	if err != nil {
		return position{}, fmt.Errorf("read redis time: %w", err)
	}
	info, err := icmd.Result()
	if err != nil {
		if strings.Contains(err.Error(), "no such key") {
			return position{now: now}, nil
		}
		return position{}, fmt.Errorf("read live stream state: %w", err)
	}
	p := position{exists: true, now: now}
	if p.last, err = ParseStreamID(info.LastGeneratedID); err != nil {
		return position{}, err
	}
	if info.MaxDeletedEntryID != "" {
		if p.maxDeleted, err = ParseStreamID(info.MaxDeletedEntryID); err != nil {
			return position{}, err
		}
	}
	return p, nil
}

// head is the id a Ready message carries: the stream's last id, or (no
// stream) an id just before any the stream can ever get.
func (p position) head() StreamID {
	if p.exists {
		return p.last
	}
	return StreamID{MS: uint64(max(p.now.UnixMilli()-1, 0))} //nolint:gosec // positive
}

// Replay is what a resuming subscription gets from the stream.
type Replay struct {
	// Head is the stream's position when it was read.
	Head StreamID
	// Messages are the events after the resume id, oldest first.
	Messages []Message
	// Refetch is set (with Reason) when the events after the resume id can
	// no longer be replayed; Messages is then empty.
	Refetch bool
	Reason  string
}

// Since reads owner's events after id. With ok false (no resume id), it only
// reports the Head.
func (s *Streams) Since(ctx context.Context, owner string, after StreamID, ok bool) (Replay, error) {
	p, err := s.position(ctx, owner)
	if err != nil {
		return Replay{}, err
	}
	r := Replay{Head: p.head()}
	if !ok {
		return r, nil
	}
	switch {
	case after.Time().Add(s.cfg.Retention).Before(p.now):
		r.Refetch, r.Reason = true, "resume id is older than the retention window"
		return r, nil
	case !p.exists:
		return r, nil // nothing since (an expiry is older than the window)
	case p.last.Less(after):
		r.Refetch, r.Reason = true, "resume id is not from this stream"
		return r, nil
	case after.Less(p.maxDeleted):
		r.Refetch, r.Reason = true, "events after the resume id were trimmed"
		return r, nil
	}
	limit := 2*s.cfg.MaxLen + 100
	xs, err := s.rdb.XRangeN(ctx, s.streamKey(owner), "("+after.String(), "+", limit).Result()
	if err != nil {
		return Replay{}, fmt.Errorf("read live stream: %w", err)
	}
	if int64(len(xs)) >= limit {
		r.Refetch, r.Reason = true, "too many events since the resume id"
		return r, nil
	}
	r.Messages = make([]Message, 0, len(xs))
	for _, x := range xs {
		r.Messages = append(r.Messages, fromFields(x.ID, x.Values))
	}
	return r, nil
}

func fromFields(id string, v map[string]any) Message {
	str := func(k string) string { s, _ := v[k].(string); return s }
	return newMessage(id, str("t"), str("a"), str("d"))
}

func newMessage(id, typ, atMicros, data string) Message {
	m := Message{ID: id, Type: typ}
	if us, err := strconv.ParseInt(atMicros, 10, 64); err == nil {
		at := time.UnixMicro(us).UTC()
		m.At = &at
	}
	if data != "" {
		m.Data = json.RawMessage(data)
	}
	return m
}

// parseFanout decodes a fan-out frame: owner, id, type, at, data separated
// by newlines (data is compact JSON, so it has none).
func parseFanout(payload string) (owner string, m Message, ok bool) {
	parts := strings.SplitN(payload, "\n", 5)
	if len(parts) != 5 {
		return "", Message{}, false
	}
	return parts[0], newMessage(parts[1], parts[2], parts[3], parts[4]), true
}
