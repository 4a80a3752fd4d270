package amqpx

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"sync"
	"sync/atomic"

	amqp "github.com/rabbitmq/amqp091-go"
)

// publishIDHeader correlates a basic.return with the Publish call that sent the
// message. It is only added when the publisher is mandatory.
const publishIDHeader = "x-amqpx-publish-id"

// PublisherConfig configures a Publisher.
type PublisherConfig struct {
	// Mandatory makes a message that matches no queue an error (ErrUnroutable)
	// instead of a silent drop. Leave it off for event fan-out where having no
	// subscriber yet is normal.
	Mandatory bool
}

// Message is one publish of a batch.
type Message struct {
	Exchange   string
	RoutingKey string
	Publishing amqp.Publishing
}

// Publisher publishes with publisher confirms on one channel of a Conn. Each
// call waits only for its own confirm, so any number of publishes pipeline on
// the channel. When the channel or connection dies, in-flight calls fail with
// ErrUnconfirmed and the next call opens a new channel (waiting, bounded by its
// ctx, while the Conn reconnects). Safe for concurrent use.
type Publisher struct {
	conn   *Conn
	cfg    PublisherConfig
	nextID atomic.Uint64

	// mu guards the fields below.
	mu       sync.Mutex
	cur      *pubChannel   // nil or closed: open a new one
	opening  chan struct{} // non-nil while one caller opens a channel; closed when done
	closed   bool
	inflight sync.WaitGroup // publishes between send and confirm, drained by Close
}

// NewPublisher returns a Publisher on conn. It opens its channel lazily.
func NewPublisher(conn *Conn, cfg PublisherConfig) (*Publisher, error) {
	if conn == nil {
		return nil, errors.New("new publisher: nil conn")
	}
	return &Publisher{conn: conn, cfg: cfg}, nil
}

// Publish sends msg to exchange with routingKey and returns nil only once the
// broker confirmed it. Errors: ErrNacked, ErrUnconfirmed, ErrUnroutable (when
// mandatory), ErrClosed, or ctx's error. After any error the message may still
// have been enqueued (except ErrNacked/ErrUnroutable/ErrClosed), so retry and
// let consumers dedupe by MessageId. DeliveryMode defaults to persistent.
func (p *Publisher) Publish(ctx context.Context, exchange, routingKey string, msg amqp.Publishing) error {
	pd, err := p.send(ctx, exchange, routingKey, msg)
	if err != nil {
		return err
	}
	defer p.inflight.Done()
	return pd.wait(ctx)
}

// PublishBatch sends every message before waiting for any confirm and returns
// one error per message, in order (nil means confirmed). It is Publish for
// many messages with one round trip of latency instead of len(msgs).
func (p *Publisher) PublishBatch(ctx context.Context, msgs []Message) []error {
	errs := make([]error, len(msgs))
	pending := make([]*pendingPublish, len(msgs))
	for i, m := range msgs {
		pd, err := p.send(ctx, m.Exchange, m.RoutingKey, m.Publishing)
		if err != nil {
			errs[i] = err
			continue
		}
		pending[i] = pd
	}
	for i, pd := range pending {
		if pd == nil {
			continue
		}
		errs[i] = pd.wait(ctx)
		p.inflight.Done()
	}
	return errs
}

// Ready waits, bounded by ctx, until the publisher has an open confirm-mode
// channel. The outbox relay calls it before claiming rows so a broker outage
// does not burn attempts on every row.
func (p *Publisher) Ready(ctx context.Context) error {
	_, err := p.channel(ctx)
	return err
}

// Close stops accepting publishes, waits (bounded by ctx) for the in-flight
// ones to be confirmed or failed, then closes the channel. It does not close
// the Conn.
func (p *Publisher) Close(ctx context.Context) error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()

	drained := make(chan struct{})
	go func() {
		p.inflight.Wait()
		close(drained)
	}()
	var err error
	select {
	case <-drained:
	case <-ctx.Done():
		err = fmt.Errorf("close publisher: %w", ctx.Err())
	}

	p.mu.Lock()
	cur := p.cur
	p.cur = nil
	p.mu.Unlock()
	if cur != nil {
		cur.close()
	}
	return err
}

// pendingPublish is a message sent and waiting for its confirm.
type pendingPublish struct {
	pc *pubChannel
	dc *amqp.DeferredConfirmation
	id string // publishIDHeader value, "" unless mandatory
}

// send writes msg to the channel and registers it as in flight. On success the
// caller must call p.inflight.Done after waiting.
func (p *Publisher) send(ctx context.Context, exchange, key string, msg amqp.Publishing) (*pendingPublish, error) {
	if msg.DeliveryMode == 0 {
		msg.DeliveryMode = amqp.Persistent
	}
	var id string
	if p.cfg.Mandatory {
		id = strconv.FormatUint(p.nextID.Add(1), 10)
		headers := make(amqp.Table, len(msg.Headers)+1)
		maps.Copy(headers, msg.Headers)
		headers[publishIDHeader] = id
		msg.Headers = headers
	}
	for {
		pc, err := p.channel(ctx)
		if err != nil {
			return nil, fmt.Errorf("publish to %s with key %s: %w", exchange, key, err)
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, ErrClosed
		}
		p.inflight.Add(1)
		p.mu.Unlock()

		dc, err := pc.ch.PublishWithDeferredConfirmWithContext(ctx, exchange, key, p.cfg.Mandatory, false, msg)
		if err == nil {
			return &pendingPublish{pc: pc, dc: dc, id: id}, nil
		}
		p.inflight.Done()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("publish to %s with key %s: %w", exchange, key, ctx.Err())
		}
		if !pc.ch.IsClosed() {
			return nil, fmt.Errorf("publish to %s with key %s: %w", exchange, key, err)
		}
		// The channel was already closed, so the message never left: sending
		// it on a fresh channel cannot duplicate it.
	}
}

// wait blocks until the confirm of pd arrives or ctx ends.
func (pd *pendingPublish) wait(ctx context.Context) error {
	select {
	case <-pd.dc.Done():
	case <-ctx.Done():
		pd.pc.forgetReturn(pd.id)
		return fmt.Errorf("wait for publisher confirm: %w", ctx.Err())
	}
	if !pd.dc.Acked() {
		pd.pc.forgetReturn(pd.id)
		if pd.pc.ch.IsClosed() {
			return ErrUnconfirmed
		}
		return ErrNacked
	}
	if pd.id == "" {
		return nil
	}
	if ret, ok := pd.pc.takeReturn(pd.id); ok {
		return fmt.Errorf("%w: exchange %s key %s: %d %s",
			ErrUnroutable, ret.Exchange, ret.RoutingKey, ret.ReplyCode, ret.ReplyText)
	}
	return nil
}

// channel returns the open confirm channel, opening one if needed. Only one
// caller opens at a time; the others wait for it.
func (p *Publisher) channel(ctx context.Context) (*pubChannel, error) {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, ErrClosed
		}
		if p.cur != nil && !p.cur.ch.IsClosed() {
			pc := p.cur
			p.mu.Unlock()
			return pc, nil
		}
		if p.opening != nil {
			wait := p.opening
			p.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		opening := make(chan struct{})
		p.opening = opening
		p.mu.Unlock()

		pc, err := p.open(ctx)

		p.mu.Lock()
		p.opening = nil
		close(opening)
		if err == nil {
			if p.closed {
				p.mu.Unlock()
				pc.close()
				return nil, ErrClosed
			}
			p.cur = pc
		}
		p.mu.Unlock()
		if err != nil {
			return nil, err
		}
		return pc, nil
	}
}

func (p *Publisher) open(ctx context.Context) (*pubChannel, error) {
	ch, err := p.conn.Channel(ctx)
	if err != nil {
		return nil, err
	}
	if err := ch.Confirm(false); err != nil {
		_ = ch.Close()
		return nil, fmt.Errorf("enable publisher confirms: %w", err)
	}
	pc := &pubChannel{ch: ch}
	if p.cfg.Mandatory {
		pc.returned = make(map[string]amqp.Return)
		pc.barrier = make(chan chan struct{})
		pc.listenerDone = make(chan struct{})
		// Unbuffered on purpose: the library hands a basic.return to this
		// channel before it processes the basic.ack that follows it, so once
		// a confirm is seen, barrier() proves its return was recorded.
		go pc.listenReturns(ch.NotifyReturn(make(chan amqp.Return)))
	}
	return pc, nil
}

// pubChannel is one confirm-mode channel and, when mandatory, the record of
// the messages the broker returned on it.
type pubChannel struct {
	ch *amqp.Channel

	// Set only when mandatory. returned is guarded by mu; listenReturns is
	// the only writer, pendingPublish.wait the reader.
	mu           sync.Mutex
	returned     map[string]amqp.Return
	barrier      chan chan struct{}
	listenerDone chan struct{}
}

// listenReturns records every basic.return until the channel closes.
func (pc *pubChannel) listenReturns(returns <-chan amqp.Return) {
	defer close(pc.listenerDone)
	for {
		select {
		case ret, ok := <-returns:
			if !ok {
				return
			}
			if id, ok := ret.Headers[publishIDHeader].(string); ok {
				pc.mu.Lock()
				pc.returned[id] = ret
				pc.mu.Unlock()
			}
		case reply := <-pc.barrier:
			close(reply)
		}
	}
}

// takeReturn reports whether the message with publish id was returned. It
// first waits until listenReturns has handled every return received so far.
func (pc *pubChannel) takeReturn(id string) (amqp.Return, bool) {
	reply := make(chan struct{})
	select {
	case pc.barrier <- reply:
		<-reply
	case <-pc.listenerDone:
	}
	pc.mu.Lock()
	defer pc.mu.Unlock()
	ret, ok := pc.returned[id]
	delete(pc.returned, id)
	return ret, ok
}

func (pc *pubChannel) forgetReturn(id string) {
	if id == "" {
		return
	}
	pc.mu.Lock()
	delete(pc.returned, id)
	pc.mu.Unlock()
}

func (pc *pubChannel) close() {
	_ = pc.ch.Close()
}
