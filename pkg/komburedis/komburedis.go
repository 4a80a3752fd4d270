// Package komburedis speaks kombu's Redis transport (the broker of a Celery
// app whose broker_url is redis://), so Go and Python workers can share one
// Redis broker. It follows kombu/transport/redis.py key for key:
//
//   - a queue is a Redis list: producers LPUSH a JSON envelope, consumers
//     BRPOP every queue (and every priority sub-list) in one command, so the
//     tail is the oldest message;
//   - priority N > 0 lives in the sibling list queue+"\x06\x16"+step (steps
//     0, 3, 6, 9; priority 0 is the queue itself and is polled first);
//   - exchange X routes through the set "_kombu.binding.X" whose members are
//     routing_key SEP pattern SEP queue;
//   - ack emulation: a delivered message is recorded in the hash "unacked"
//     (delivery_tag → JSON [envelope, exchange, routing_key]) and the sorted
//     set "unacked_index" (delivery_tag scored by delivery time); an ack
//     removes both; entries older than the visibility timeout are pushed back
//     to their queue by whichever consumer (Go or Python) holds the
//     "unacked_mutex" lock when it looks.
//
// As with kombu, a consumer that dies between BRPOP and recording the
// delivery in "unacked" (one round trip) loses that message; everything held
// after that comes back after the visibility timeout.
//
// Every key gets Options.KeyPrefix (kombu's global_keyprefix) in front.
package komburedis

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// Options are kombu's broker_transport_options that change key names or
// timing. Zero values get kombu's defaults.
type Options struct {
	// KeyPrefix is global_keyprefix, prepended to every key.
	KeyPrefix string
	// VisibilityTimeout is how long a delivered, unacked message stays
	// invisible before it is restored to its queue (default 1h).
	VisibilityTimeout time.Duration
	// PrioritySteps (default 0, 3, 6, 9) and Sep (default "\x06\x16") name
	// the priority sub-lists.
	PrioritySteps []int
	Sep           string
	// Unacked, UnackedIndex and UnackedMutex are the ack-emulation keys
	// (defaults unacked, unacked_index, unacked_mutex).
	Unacked      string
	UnackedIndex string
	UnackedMutex string
	// MutexExpire bounds how long a crashed restorer holds the mutex (300s).
	MutexExpire time.Duration
	// RestoreLimit is unacked_restore_limit: at most this many messages
	// restored per pass (0: all).
	RestoreLimit int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (o *Options) setDefaults() {
	if o.VisibilityTimeout == 0 {
		o.VisibilityTimeout = time.Hour
	}
	if len(o.PrioritySteps) == 0 {
		o.PrioritySteps = []int{0, 3, 6, 9}
	}
	if o.Sep == "" {
		o.Sep = "\x06\x16"
	}
	if o.Unacked == "" {
		o.Unacked = "unacked"
	}
	if o.UnackedIndex == "" {
		o.UnackedIndex = "unacked_index"
	}
	if o.UnackedMutex == "" {
		o.UnackedMutex = "unacked_mutex"
	}
	if o.MutexExpire == 0 {
		o.MutexExpire = 300 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Transport is a kombu Redis channel: safe for concurrent use.
type Transport struct {
	rdb  *redis.Client
	opt  Options
	turn atomic.Uint64 // rotates the queue order between BRPOPs (kombu's fair cycle)
}

// New returns a Transport on rdb (whose database is the broker's).
func New(rdb *redis.Client, opt Options) (*Transport, error) {
	opt.setDefaults()
	if rdb == nil {
		return nil, errors.New("komburedis: redis client is required")
	}
	if opt.VisibilityTimeout < 0 || opt.MutexExpire < 0 || opt.RestoreLimit < 0 {
		return nil, errors.New("komburedis: visibility timeout, mutex expiry and restore limit must not be negative")
	}
	if !slices.IsSorted(opt.PrioritySteps) || opt.PrioritySteps[0] != 0 {
		return nil, errors.New("komburedis: priority steps must be ascending and start at 0")
	}
	return &Transport{rdb: rdb, opt: opt}, nil
}

// Options returns the options in effect (defaults filled in).
func (t *Transport) Options() Options { return t.opt }

// Client is the Redis client the transport uses.
func (t *Transport) Client() *redis.Client { return t.rdb }

func (t *Transport) key(name string) string { return t.opt.KeyPrefix + name }

// QueueKeys are the Redis keys of queue, one per priority step, in the order
// BRPOP polls them (the queue itself first).
func (t *Transport) QueueKeys(queue string) []string {
	keys := make([]string, 0, len(t.opt.PrioritySteps))
	for _, p := range t.opt.PrioritySteps {
		keys = append(keys, t.key(t.queueForPriority(queue, p)))
	}
	return keys
}

// queueForPriority is kombu's _q_for_pri: the step at or below pri.
func (t *Transport) queueForPriority(queue string, pri int) string {
	step := 0
	for _, s := range t.opt.PrioritySteps {
		if s <= pri {
			step = s
		}
	}
	if step == 0 {
		return queue
	}
	return queue + t.opt.Sep + strconv.Itoa(step)
}

// Envelope is the JSON object kombu stores in a queue list.
type Envelope struct {
	Body            string         `json:"body"`
	ContentEncoding string         `json:"content-encoding"`
	ContentType     string         `json:"content-type"`
	Headers         map[string]any `json:"headers"`
	Properties      Properties     `json:"properties"`
}

// Properties are the envelope's properties; kombu adds body_encoding,
// delivery_tag and delivery_info when it publishes.
type Properties struct {
	CorrelationID string       `json:"correlation_id,omitempty"`
	ReplyTo       string       `json:"reply_to,omitempty"`
	DeliveryMode  int          `json:"delivery_mode,omitempty"`
	DeliveryInfo  DeliveryInfo `json:"delivery_info"`
	Priority      int          `json:"priority"`
	BodyEncoding  string       `json:"body_encoding"`
	DeliveryTag   string       `json:"delivery_tag"`
}

// DeliveryInfo says where the message was published.
type DeliveryInfo struct {
	Exchange    string `json:"exchange"`
	RoutingKey  string `json:"routing_key"`
	Redelivered bool   `json:"redelivered,omitempty"`
}

// NewEnvelope builds an envelope as kombu's producer does: the body base64
// encoded, delivery mode persistent, a fresh delivery tag.
func NewEnvelope(body []byte, contentType, contentEncoding string, headers map[string]any, props Properties) Envelope {
	if headers == nil {
		headers = map[string]any{}
	}
	props.BodyEncoding = "base64"
	if props.DeliveryTag == "" {
		props.DeliveryTag = uuid.NewString()
	}
	if props.DeliveryMode == 0 {
		props.DeliveryMode = 2
	}
	return Envelope{Body: base64.StdEncoding.EncodeToString(body), ContentEncoding: contentEncoding,
		ContentType: contentType, Headers: headers, Properties: props}
}

// DecodedBody is the body after body_encoding.
func (e Envelope) DecodedBody() ([]byte, error) {
	if e.Properties.BodyEncoding == "base64" {
		b, err := base64.StdEncoding.DecodeString(e.Body)
		if err != nil {
			return nil, fmt.Errorf("body: bad base64: %w", err)
		}
		return b, nil
	}
	return []byte(e.Body), nil
}

// Redelivered reports whether kombu (or this package) restored the message
// after a delivery.
func (e Envelope) Redelivered() bool {
	if e.Properties.DeliveryInfo.Redelivered {
		return true
	}
	r, _ := e.Headers["redelivered"].(bool)
	return r
}

// Bind adds queue to exchange's routing table with routingKey, as kombu's
// queue_bind does (Celery declares Queue(name) bound to Exchange(name) with
// routing key name).
func (t *Transport) Bind(ctx context.Context, exchange, routingKey, queue string) error {
	member := strings.Join([]string{routingKey, "", queue}, t.opt.Sep)
	if err := t.rdb.SAdd(ctx, t.key("_kombu.binding."+exchange), member).Err(); err != nil {
		return fmt.Errorf("bind %s to %s: %w", queue, exchange, err)
	}
	return nil
}

// lookup is kombu's _lookup for a direct exchange: the anonymous exchange
// routes to the queue named by the routing key; another one through its
// binding set. An exchange with no matching binding routes to the queue
// named by the routing key (kombu would use its undeliverable queue).
func (t *Transport) lookup(ctx context.Context, exchange, routingKey string) ([]string, error) {
	if exchange == "" {
		return []string{routingKey}, nil
	}
	queues, err := t.bound(ctx, exchange, routingKey)
	if err == nil && len(queues) == 0 {
		queues = []string{routingKey}
	}
	return queues, err
}

// bound lists the queues bound to direct exchange with routingKey.
func (t *Transport) bound(ctx context.Context, exchange, routingKey string) ([]string, error) {
	members, err := t.rdb.SMembers(ctx, t.key("_kombu.binding."+exchange)).Result()
	if err != nil {
		return nil, fmt.Errorf("read bindings of %s: %w", exchange, err)
	}
	var queues []string
	for _, m := range members {
		parts := strings.Split(m, t.opt.Sep)
		if len(parts) == 3 && parts[0] == routingKey && !slices.Contains(queues, parts[2]) {
			queues = append(queues, parts[2])
		}
	}
	return queues, nil
}

// Publish routes env through exchange with routingKey (the anonymous
// exchange "" sends to the queue named routingKey) and LPUSHes it to each
// queue's list for its priority. It fills delivery_info.
func (t *Transport) Publish(ctx context.Context, exchange, routingKey string, env Envelope) error {
	env.Properties.DeliveryInfo = DeliveryInfo{Exchange: exchange, RoutingKey: routingKey}
	raw, err := json.Marshal(env)
	if err != nil {
		return fmt.Errorf("encode kombu envelope: %w", err)
	}
	queues, err := t.lookup(ctx, exchange, routingKey)
	if err != nil {
		return err
	}
	return t.push(ctx, queues, env.Properties.Priority, raw)
}

// PublishBound routes env through direct exchange's binding table only and
// LPUSHes it to each bound queue, reporting how many. Unlike Publish, a
// routing key no queue is bound to delivers nothing (0, nil): that is a
// remote-control reply whose requester has already gone (kombu's pidbox
// client removes its reply queue's binding when it stops collecting), and
// it must not leave a list behind.
func (t *Transport) PublishBound(ctx context.Context, exchange, routingKey string, env Envelope) (int, error) {
	env.Properties.DeliveryInfo = DeliveryInfo{Exchange: exchange, RoutingKey: routingKey}
	raw, err := json.Marshal(env)
	if err != nil {
		return 0, fmt.Errorf("encode kombu envelope: %w", err)
	}
	queues, err := t.bound(ctx, exchange, routingKey)
	if err != nil || len(queues) == 0 {
		return 0, err
	}
	if err := t.push(ctx, queues, env.Properties.Priority, raw); err != nil {
		return 0, err
	}
	return len(queues), nil
}

// push LPUSHes raw to each queue's list for priority, atomically.
func (t *Transport) push(ctx context.Context, queues []string, priority int, raw []byte) error {
	pri := min(max(priority, 0), 9)
	if len(queues) == 1 {
		return t.rdb.LPush(ctx, t.key(t.queueForPriority(queues[0], pri)), raw).Err()
	}
	_, err := t.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, q := range queues {
			p.LPush(ctx, t.key(t.queueForPriority(q, pri)), raw)
		}
		return nil
	})
	return err
}

// Delivery is one message taken from a queue. Unless Err is set it is
// recorded in the unacked hash and index under Tag until Ack or Restore.
type Delivery struct {
	Queue    string // the queue (priority suffix stripped)
	Tag      string
	Envelope Envelope
	Raw      []byte // the envelope as it was in the list
	// Err is set when the list held something that is not a kombu envelope:
	// Raw is all there is and it is NOT recorded as unacked, so the caller
	// must keep it somewhere (a dead-letter list) itself.
	Err error
}

// Receive BRPOPs queues (every priority step of every queue, the order
// rotated between calls), waiting up to timeout; nil, nil when nothing
// came. A received envelope is recorded as unacked before Receive returns.
// Cancelling ctx does not interrupt the wait (a popped message must not be
// dropped by a cancelled read); keep timeout short.
func (t *Transport) Receive(ctx context.Context, queues []string, timeout time.Duration) (*Delivery, error) {
	if len(queues) == 0 {
		return nil, errors.New("komburedis: no queues to receive from")
	}
	n := int(t.turn.Add(1) % uint64(len(queues)))
	order := append(slices.Clone(queues[n:]), queues[:n]...)
	keys := make([]string, 0, len(order)*len(t.opt.PrioritySteps))
	for _, p := range t.opt.PrioritySteps {
		for _, q := range order {
			keys = append(keys, t.key(t.queueForPriority(q, p)))
		}
	}
	ctx = context.WithoutCancel(ctx)
	res, err := t.rdb.BRPop(ctx, timeout, keys...).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	name := strings.TrimPrefix(res[0], t.opt.KeyPrefix)
	if i := strings.LastIndex(name, t.opt.Sep); i >= 0 {
		name = name[:i]
	}
	d := &Delivery{Queue: name, Raw: []byte(res[1])}
	if err := json.Unmarshal(d.Raw, &d.Envelope); err != nil {
		d.Err = fmt.Errorf("not a kombu envelope: %w", err)
		return d, nil
	}
	d.Tag = d.Envelope.Properties.DeliveryTag
	if d.Tag == "" {
		d.Tag = uuid.NewString()
	}
	info := d.Envelope.Properties.DeliveryInfo
	entry, err := json.Marshal([]any{json.RawMessage(d.Raw), info.Exchange, info.RoutingKey})
	if err != nil {
		return nil, err
	}
	now := float64(t.opt.Now().UnixNano()) / 1e9
	// MULTI/EXEC as kombu's QoS.append (a redis-py transaction pipeline):
	// the index and the hash change together, in the same round trip.
	_, err = t.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZAdd(ctx, t.key(t.opt.UnackedIndex), redis.Z{Score: now, Member: d.Tag})
		p.HSet(ctx, t.key(t.opt.Unacked), d.Tag, entry)
		return nil
	})
	if err != nil {
		// Not recorded: push it back where it came from rather than lose it.
		if perr := t.rdb.RPush(ctx, res[0], res[1]).Err(); perr != nil {
			return nil, fmt.Errorf("record delivery %s: %w (and push back: %w)", d.Tag, err, perr)
		}
		return nil, fmt.Errorf("record delivery %s (pushed back): %w", d.Tag, err)
	}
	return d, nil
}

// Ack forgets a delivery: it will not be restored. The index and the hash
// entry go together (MULTI/EXEC, as kombu's _remove_from_indices).
func (t *Transport) Ack(ctx context.Context, tag string) error {
	_, err := t.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZRem(ctx, t.key(t.opt.UnackedIndex), tag)
		p.HDel(ctx, t.key(t.opt.Unacked), tag)
		return nil
	})
	return err
}

// Restore puts an unacked delivery back in its queue, marked redelivered,
// and forgets it, in one WATCH/MULTI transaction as kombu's restore_by_tag:
// leftmost LPUSHes it (the back of the queue: kombu's reject with requeue),
// otherwise RPUSH (the front: kombu's visibility restore). A tag no longer
// unacked (acked or restored by another consumer) is not an error.
// Every delivery and ack writes the watched hash, so a transaction aborted
// by one of them is retried, as redis-py's client.transaction does.
func (t *Transport) Restore(ctx context.Context, tag string, leftmost bool) error {
	for {
		err := t.restoreOnce(ctx, tag, leftmost)
		if !errors.Is(err, redis.TxFailedErr) {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("restore %s: %w", tag, ctx.Err())
		}
	}
}

func (t *Transport) restoreOnce(ctx context.Context, tag string, leftmost bool) error {
	unacked := t.key(t.opt.Unacked)
	return t.rdb.Watch(ctx, func(tx *redis.Tx) error {
		entry, err := tx.HGet(ctx, unacked, tag).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		var queues []string
		var payload []byte
		if entry != "" {
			if payload, queues, err = t.restorable(ctx, entry); err != nil {
				return fmt.Errorf("restore %s: %w", tag, err)
			}
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.ZRem(ctx, t.key(t.opt.UnackedIndex), tag)
			p.HDel(ctx, unacked, tag)
			for _, q := range queues {
				if leftmost {
					p.LPush(ctx, t.key(q), payload)
				} else {
					p.RPush(ctx, t.key(q), payload)
				}
			}
			return nil
		})
		return err
	}, unacked)
}

// restorable decodes an unacked entry [envelope, exchange, routing_key] and
// returns the envelope marked redelivered (as kombu's _do_restore_message:
// headers.redelivered and delivery_info.redelivered) and its queues.
func (t *Transport) restorable(ctx context.Context, entry string) ([]byte, []string, error) {
	var parts []json.RawMessage
	if err := json.Unmarshal([]byte(entry), &parts); err != nil || len(parts) != 3 {
		return nil, nil, errors.New("unacked entry is not [message, exchange, routing_key]")
	}
	var exchange, routingKey string
	if err := json.Unmarshal(parts[1], &exchange); err != nil {
		return nil, nil, errors.New("unacked entry: exchange is not a string")
	}
	if err := json.Unmarshal(parts[2], &routingKey); err != nil {
		return nil, nil, errors.New("unacked entry: routing key is not a string")
	}
	dec := json.NewDecoder(strings.NewReader(string(parts[0])))
	dec.UseNumber() // keep integers exact
	var msg map[string]any
	if err := dec.Decode(&msg); err != nil {
		return nil, nil, errors.New("unacked entry: message is not a JSON object")
	}
	if h, ok := msg["headers"].(map[string]any); ok {
		h["redelivered"] = true
	}
	if p, ok := msg["properties"].(map[string]any); ok {
		if di, ok := p["delivery_info"].(map[string]any); ok {
			di["redelivered"] = true
		}
	}
	payload, err := json.Marshal(msg)
	if err != nil {
		return nil, nil, err
	}
	queues, err := t.lookup(ctx, exchange, routingKey)
	return payload, queues, err
}

// ErrMutexHeld: another consumer is restoring right now.
var ErrMutexHeld = errors.New("komburedis: unacked mutex held by another consumer")

var releaseMutex = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`)

// RestoreVisible restores every unacked delivery older than the visibility
// timeout (at most RestoreLimit), under the unacked_mutex lock that Python
// consumers take too, and returns how many it restored. ErrMutexHeld means
// another consumer is doing it.
func (t *Transport) RestoreVisible(ctx context.Context) (int, error) {
	mutex := t.key(t.opt.UnackedMutex)
	id := uuid.NewString()
	ok, err := t.rdb.SetNX(ctx, mutex, id, t.opt.MutexExpire).Result()
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, ErrMutexHeld
	}
	defer func() {
		_ = releaseMutex.Run(context.WithoutCancel(ctx), t.rdb, []string{mutex}, id).Err()
	}()
	ceil := float64(t.opt.Now().Add(-t.opt.VisibilityTimeout).UnixNano()) / 1e9
	// kombu's ZREVRANGEBYSCORE unacked_index ceil 0: newest first.
	args := redis.ZRangeArgs{Key: t.key(t.opt.UnackedIndex), Start: strconv.FormatFloat(ceil, 'f', -1, 64), Stop: "0",
		ByScore: true, Rev: true}
	if t.opt.RestoreLimit > 0 {
		args.Count = int64(t.opt.RestoreLimit)
	}
	tags, err := t.rdb.ZRangeArgs(ctx, args).Result()
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, tag := range tags {
		if err := t.Restore(ctx, tag, false); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// Len is the number of messages waiting in queue over all priority steps.
func (t *Transport) Len(ctx context.Context, queue string) (int64, error) {
	var total int64
	for _, k := range t.QueueKeys(queue) {
		n, err := t.rdb.LLen(ctx, k).Result()
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// Peek returns up to limit raw envelopes of queue, oldest first (priority 0
// first), without removing them, with the key each is in.
func (t *Transport) Peek(ctx context.Context, queue string, limit int) (keys []string, raws []string, err error) {
	for _, k := range t.QueueKeys(queue) {
		if len(raws) >= limit {
			break
		}
		// The oldest are at the tail: read only the ones still wanted.
		items, err := t.rdb.LRange(ctx, k, -int64(limit-len(raws)), -1).Result()
		if err != nil {
			return nil, nil, err
		}
		for i := len(items) - 1; i >= 0; i-- {
			keys = append(keys, k)
			raws = append(raws, items[i])
		}
	}
	return keys, raws, nil
}

var moveOne = redis.NewScript(`if redis.call("LREM", KEYS[1], -1, ARGV[1]) == 1 then redis.call("LPUSH", KEYS[2], ARGV[2]) return 1 end return 0`)

// Move atomically removes raw (the oldest copy) from key (as returned by
// Peek) and LPUSHes replacement to queue's list for priority. It reports
// false when raw was no longer there (someone else moved it).
func (t *Transport) Move(ctx context.Context, key, raw, queue string, priority int, replacement []byte) (bool, error) {
	n, err := moveOne.Run(ctx, t.rdb, []string{key, t.key(t.queueForPriority(queue, priority))}, raw, replacement).Int()
	if err != nil {
		return false, err
	}
	return n == 1, nil
}

// FanoutChannel is the pub/sub channel kombu publishes a fanout exchange's
// message on (fanout_prefix and fanout_patterns on, kombu's defaults since
// 4.x): KeyPrefix + "/{db}." + exchange + "/" + routingKey.
func (t *Transport) FanoutChannel(exchange, routingKey string) string {
	ch := t.key("/" + strconv.Itoa(t.rdb.Options().DB) + "." + exchange)
	if routingKey != "" {
		ch += "/" + routingKey
	}
	return ch
}

// PublishFanout PUBLISHes env on a fanout exchange (Celery's celeryev
// events, the pidbox), as kombu's _put_fanout does: subscribers that are
// not listening miss it.
func (t *Transport) PublishFanout(ctx context.Context, exchange, routingKey string, env Envelope) error {
	env.Properties.DeliveryInfo = DeliveryInfo{Exchange: exchange, RoutingKey: routingKey}
	raw, err := json.Marshal(env)
	if err != nil {
		return fmt.Errorf("encode kombu envelope: %w", err)
	}
	return t.rdb.Publish(ctx, t.FanoutChannel(exchange, routingKey), raw).Err()
}

// SubscribeFanout subscribes to the channel of a queue bound to fanout
// exchange with routingKey, the channel kombu's consumer of such a queue
// listens on (Celery's pidbox node queue is bound with no routing key), and
// returns once Redis has confirmed the subscription. The caller closes it.
// Messages published while nobody is subscribed are lost, as with kombu.
func (t *Transport) SubscribeFanout(ctx context.Context, exchange, routingKey string) (*redis.PubSub, error) {
	sub := t.rdb.Subscribe(ctx, t.FanoutChannel(exchange, routingKey))
	if _, err := sub.Receive(ctx); err != nil {
		_ = sub.Close()
		return nil, fmt.Errorf("subscribe to fanout %s: %w", exchange, err)
	}
	return sub, nil
}
