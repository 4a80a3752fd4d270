package notification

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// SenderConfig sizes the sender loop (RunSender).
type SenderConfig struct {
	// Batch is how many due deliveries one claim takes, across
	// notifications (default 1000: ten full Expo requests).
	Batch int
	// Loops is how many claim → send → settle loops run at once, so one
	// batch's database work overlaps another's provider requests (default 4).
	Loops int
	// FanOutBatch is the most queued notifications one fan-out takes
	// (default 100). A fan-out takes about Batch deliveries' worth (ten
	// 100-user notifications, a hundred single-user ones), learned from the
	// previous one, and hands the deliveries it has room for to the send
	// loops in memory, written already claimed (room: Loops batches).
	// FanOutLoops is how many fan-out loops run (default 2).
	FanOutBatch int
	FanOutLoops int
	// Idle is how long a loop that found nothing to claim waits before it
	// looks again (default 100ms, jittered); it bounds how long a delivery
	// written by another process waits for this one.
	Idle time.Duration
	// MaxBackoff caps the wait of a loop whose provider keeps refusing
	// messages for now (default 30s; it starts at 1s and doubles).
	MaxBackoff time.Duration
}

func (c *SenderConfig) setDefaults() {
	if c.Batch <= 0 {
		c.Batch = 1000
	}
	if c.Loops <= 0 {
		c.Loops = 4
	}
	if c.FanOutBatch <= 0 {
		c.FanOutBatch = 100
	}
	if c.FanOutLoops <= 0 {
		c.FanOutLoops = 2
	}
	if c.Idle <= 0 {
		c.Idle = 100 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 30 * time.Second
	}
}

// errRefusedForNow reports that a batch's provider refused some messages
// for now; they are pending again.
var errRefusedForNow = errors.New("messages refused for now")

// SendDue claims up to limit due deliveries of any notifications (one
// statement), sends them in full provider requests whoever they are for,
// settles them (one transaction) and completes the notifications left with
// nothing to send (one statement). It returns how many rows it claimed; an
// error wrapping errRefusedForNow means some were refused for now and are
// pending again.
func (p *Pipeline) SendDue(ctx context.Context, limit int) (int, error) {
	return p.sendDue(ctx, limit, nil)
}

// sendDue is SendDue; with h (RunSender's) it first sends a batch a
// fan-out handed over, if one is ready, and then reports a full batch so
// the loop goes straight on.
func (p *Pipeline) sendDue(ctx context.Context, limit int, h *handoff) (int, error) {
	if b, ok := h.take(); ok {
		_, err := p.sendClaimed(ctx, b.notes, b.rows)
		return limit, err
	}
	claimed, err := p.store.ClaimDue(ctx, p.cfg.NowFunc(), limit)
	if err != nil || len(claimed) == 0 {
		return 0, err
	}
	return p.sendClaimed(ctx, nil, claimed)
}

// sendClaimed sends claimed rows (loading their notifications unless
// notes has them), settles them and completes the notifications they
// emptied.
func (p *Pipeline) sendClaimed(ctx context.Context, notes map[string]Notification, claimed []Delivery) (int, error) {
	seen := make(map[string]bool)
	var ids []string
	for _, d := range claimed {
		if !seen[d.NotificationID] {
			seen[d.NotificationID] = true
			ids = append(ids, d.NotificationID)
		}
	}
	if notes == nil {
		var err error
		notes, err = p.store.NotificationsByID(ctx, ids)
		if err != nil {
			// Nothing was sent: put the rows back.
			if rerr := p.settle(ctx, "", &settlement{release: deliveryIDs(claimed)}); rerr != nil {
				err = errors.Join(err, rerr)
			}
			return 0, err
		}
	}
	s := p.deliver(ctx, notes, claimed)
	if err := p.settle(ctx, "", s); err != nil {
		return len(claimed), err
	}
	if _, err := p.store.CompleteSettled(context.WithoutCancel(ctx), ids, p.cfg.NowFunc()); err != nil {
		return len(claimed), err
	}
	if len(s.release) > 0 {
		return len(claimed), fmt.Errorf("send %d due deliveries: %d %w", len(claimed), len(s.release), errRefusedForNow)
	}
	return len(claimed), nil
}

func deliveryIDs(ds []Delivery) []int64 {
	out := make([]int64, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}

// RunSender fans out and sends until ctx ends: cfg.FanOutLoops loops fan
// queued notifications out in batches (FanOutDue) and cfg.Loops loops
// claim due deliveries across notifications, send and settle them
// (SendDue), each going straight on while batches come back full. It is
// how notifications accepted with PipelineConfig.SendLoop set are sent
// (and deferred deliveries once their quiet window ended); several
// processes may run it, claims never overlap. Errors are logged and retried; it returns nil
// once ctx is done and every loop finished its batch.
func (p *Pipeline) RunSender(ctx context.Context, cfg SenderConfig) error {
	cfg.setDefaults()
	h := newHandoff(cfg.Loops, cfg.Batch)
	var wg sync.WaitGroup
	for range cfg.FanOutLoops {
		wg.Go(func() {
			// Each fan-out takes about one send batch of deliveries, so the
			// send loops get them in memory (handoff) as one batch: as
			// many notifications as the last fan-out's deliveries per
			// notification say fill cfg.Batch, at most cfg.FanOutBatch.
			// The first takes one, to learn the shape cheaply.
			// A fan-out waits (up to cfg.Idle) until the send loops have
			// room, rather than run ahead of them writing pending rows.
			limit := 1
			p.loop(ctx, cfg, "fan-out", cfg.FanOutBatch, nil, func(ctx context.Context, _ int) (int, error) {
				h.waitRoom(ctx, cfg.Idle)
				n, deliveries, err := p.fanOutDue(ctx, limit, h)
				full := n == limit
				if n > 0 {
					limit = fanOutLimit(n, deliveries, cfg)
				}
				if full {
					return cfg.FanOutBatch, err // go straight on
				}
				return n, err
			})
		})
	}
	for range cfg.Loops {
		wg.Go(func() {
			p.loop(ctx, cfg, "send", cfg.Batch, h.wake, func(ctx context.Context, n int) (int, error) {
				return p.sendDue(ctx, n, h)
			})
		})
	}
	wg.Wait()
	p.releaseHandedOff(ctx, h)
	return nil
}

// fanOutLimit is how many notifications the next fan-out takes after one
// of n notifications made deliveries rows: enough for about one send batch,
// between 1 and cfg.FanOutBatch.
func fanOutLimit(n, deliveries int, cfg SenderConfig) int {
	if deliveries == 0 {
		return cfg.FanOutBatch
	}
	return max(1, min(cfg.FanOutBatch, cfg.Batch*n/deliveries))
}

// releaseHandedOff puts the rows of batches still waiting in h (the send
// loops stopped) back to pending, for the next sender. A failure here, or a
// process that dies with batches waiting, leaves them claimed: after the
// stale-claim period the receipts run fails them as outcome unknown, as it
// fails rows claimed by ClaimDue whose sender died (claim before send:
// never sent twice, at the price of losing what a dead sender held, at most
// Loops batches waiting plus Loops in flight).
func (p *Pipeline) releaseHandedOff(ctx context.Context, h *handoff) {
	for b, ok := h.take(); ok; b, ok = h.take() {
		if err := p.settle(ctx, "", &settlement{release: deliveryIDs(b.rows)}); err != nil {
			p.cfg.Log.Warn().Err(err).Int("deliveries", len(b.rows)).Msg("push sender stopped with claimed deliveries it could not put back; the stale-claim sweep will fail them")
		}
	}
}

// loop runs step until ctx ends: again at once after a full batch, after
// the idle poll (or a wake-up) otherwise, with a growing backoff after
// errors.
func (p *Pipeline) loop(ctx context.Context, cfg SenderConfig, name string, batch int, wake <-chan struct{}, step func(context.Context, int) (int, error)) {
	backoff := time.Duration(0)
	for ctx.Err() == nil {
		n, err := step(ctx, batch)
		var wait time.Duration
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			backoff = min(max(2*backoff, time.Second), cfg.MaxBackoff)
			wait = backoff/2 + rand.N(backoff/2+1)
			p.cfg.Log.Warn().Err(err).Str("loop", name).Dur("retry_in", wait).Msg("push sender batch incomplete")
		case n < batch:
			backoff = 0
			wait = cfg.Idle/2 + rand.N(cfg.Idle/2+1)
		default:
			backoff = 0
			continue
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-wake:
			t.Stop()
		}
	}
}
