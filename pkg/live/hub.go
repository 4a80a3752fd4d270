package live

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
)

// Refusals of Subscribe; transports map them to HTTP statuses.
var (
	// ErrUserCap: the owner already has Config.MaxPerUser subscriptions here.
	ErrUserCap = errors.New("too many live connections for this user")
	// ErrProcessCap: this process already holds Config.MaxConns subscriptions.
	ErrProcessCap = errors.New("too many live connections on this server")
	// ErrUnavailable: the Hub is not running (not yet subscribed, or stopped).
	ErrUnavailable = errors.New("live updates unavailable")
)

// Hub fans the published events out to this process's subscriptions. Run
// it once; Subscribe is safe for concurrent use.
type Hub struct {
	streams *Streams
	log     zerolog.Logger
	metrics *Metrics
	cfg     Config

	ready     chan struct{} // closed once Run subscribed to the channel
	readyOnce sync.Once
	stopped   chan struct{} // closed when Run returns

	mu    sync.RWMutex // guards subs and total
	subs  map[string]map[*Subscription]struct{}
	total int
}

// NewHub returns a Hub over streams; metrics may be nil.
func NewHub(streams *Streams, log zerolog.Logger, metrics *Metrics) *Hub {
	return &Hub{
		streams: streams, log: log.With().Str("component", "live").Logger(), metrics: metrics, cfg: streams.cfg,
		ready: make(chan struct{}), stopped: make(chan struct{}),
		subs: map[string]map[*Subscription]struct{}{},
	}
}

// Config is the Hub's effective configuration (defaults applied).
func (h *Hub) Config() Config { return h.cfg }

// Metrics is the Hub's metrics (nil when none).
func (h *Hub) Metrics() *Metrics { return h.metrics }

// Run subscribes to the fan-out channel and dispatches until ctx ends; then
// it drops every subscription with ErrShutdown (transports tell their
// clients to reconnect) and returns nil. A re-established Redis
// subscription drops every subscription with ErrResync, since messages
// published while it was down were missed.
func (h *Hub) Run(ctx context.Context) error {
	defer close(h.stopped)
	ps := h.streams.rdb.Subscribe(ctx, h.streams.Channel())
	defer func() { _ = ps.Close() }()
	ch := ps.ChannelWithSubscriptions(redis.WithChannelSize(4096))
	subscribed := false
	for {
		select {
		case <-ctx.Done():
			h.dropAll(ErrShutdown, "shutdown")
			return nil
		case msg, ok := <-ch:
			if !ok {
				h.dropAll(ErrShutdown, "shutdown")
				return nil
			}
			switch v := msg.(type) {
			case *redis.Subscription:
				if v.Kind != "subscribe" {
					continue
				}
				if subscribed {
					h.log.Warn().Msg("live fan-out resubscribed; dropping subscriptions so clients resume")
					h.dropAll(ErrResync, "resync")
				}
				subscribed = true
				h.readyOnce.Do(func() { close(h.ready) })
			case *redis.Message:
				h.dispatch(v.Payload)
			}
		}
	}
}

// dispatch hands one fan-out frame to its owner's subscriptions without
// blocking; a subscription whose buffer is full is dropped. Every process
// receives every owner's frames: one whose owner has no subscription here
// is skipped before it is decoded.
func (h *Hub) dispatch(payload string) {
	owner, _, _ := strings.Cut(payload, "\n")
	var slow []*Subscription
	h.mu.RLock()
	if subs := h.subs[owner]; len(subs) > 0 {
		_, m, ok := parseFanout(payload)
		if !ok {
			h.mu.RUnlock()
			h.log.Warn().Int("bytes", len(payload)).Msg("unreadable live fan-out frame; skipped")
			return
		}
		for s := range subs {
			select {
			case s.ch <- m:
			default:
				slow = append(slow, s)
			}
		}
	}
	h.mu.RUnlock()
	for _, s := range slow {
		h.unregister(s)
		s.drop(ErrSlowConsumer)
		h.metrics.dropped("slow_consumer")
	}
}

func (h *Hub) dropAll(reason error, label string) {
	h.mu.Lock()
	var all []*Subscription
	for _, set := range h.subs {
		for s := range set {
			all = append(all, s)
		}
	}
	h.mu.Unlock()
	for _, s := range all {
		h.unregister(s)
		s.drop(reason)
		h.metrics.dropped(label)
	}
}

// SubscribeRequest says whose events a connection wants.
type SubscribeRequest struct {
	// Owner is the user whose events are delivered.
	Owner string
	// Resume is the last id the client received ("" for none): the events
	// after it are replayed first (or a refetch is sent).
	Resume string
	// Transport labels the metrics (TransportWebSocket, TransportSSE).
	Transport string
}

// Subscribe registers a subscription for req.Owner and prepares its opening
// messages: a Refetch when the resume id is out of reach, then Ready, then
// the replayed events. It returns ErrBadID, ErrUserCap, ErrProcessCap or
// ErrUnavailable (errors.Is), or a Redis error. The caller must Close it.
func (h *Hub) Subscribe(ctx context.Context, req SubscribeRequest) (*Subscription, error) {
	if !ValidOwner(req.Owner) {
		return nil, fmt.Errorf("owner: %w", ErrInvalidEvent)
	}
	var after StreamID
	resuming := req.Resume != ""
	if resuming {
		var err error
		if after, err = ParseStreamID(req.Resume); err != nil {
			return nil, err
		}
	}
	select {
	case <-h.ready:
	case <-h.stopped:
		return nil, ErrUnavailable
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for live fan-out: %w", errors.Join(ErrUnavailable, ctx.Err()))
	}
	s := &Subscription{hub: h, owner: req.Owner, transport: req.Transport,
		ch: make(chan Message, h.cfg.SendBuffer), done: make(chan struct{})}
	if err := h.register(s); err != nil {
		return nil, err
	}
	// Registered before reading the stream: an event appended from now on
	// reaches s.ch, and one the replay also returns is filtered by id.
	r, err := h.streams.Since(ctx, req.Owner, after, resuming)
	if err != nil {
		s.Close()
		return nil, err
	}
	switch {
	case r.Refetch:
		s.pending = append(s.pending, Message{Type: TypeRefetch, Reason: r.Reason}, Message{ID: r.Head.String(), Type: TypeReady})
	case resuming:
		s.pending = append(s.pending, Message{ID: after.String(), Type: TypeReady})
		s.pending = append(s.pending, r.Messages...)
		s.filter, s.after = true, after
		if n := len(r.Messages); n > 0 {
			if last, err := ParseStreamID(r.Messages[n-1].ID); err == nil {
				s.after = last
			}
		}
	default:
		s.pending = append(s.pending, Message{ID: r.Head.String(), Type: TypeReady})
	}
	return s, nil
}

func (h *Hub) register(s *Subscription) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.total >= h.cfg.MaxConns {
		h.metrics.refusedBy("process_cap")
		return ErrProcessCap
	}
	set := h.subs[s.owner]
	if len(set) >= h.cfg.MaxPerUser {
		h.metrics.refusedBy("user_cap")
		return ErrUserCap
	}
	if set == nil {
		set = map[*Subscription]struct{}{}
		h.subs[s.owner] = set
	}
	set[s] = struct{}{}
	h.total++
	h.metrics.opened(s.transport, 1)
	return nil
}

// unregister removes s once (later calls are no-ops).
func (h *Hub) unregister(s *Subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	set := h.subs[s.owner]
	if _, ok := set[s]; !ok {
		return
	}
	delete(set, s)
	if len(set) == 0 {
		delete(h.subs, s.owner)
	}
	h.total--
	h.metrics.opened(s.transport, -1)
}

// Len is the number of open subscriptions in this process.
func (h *Hub) Len() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.total
}
