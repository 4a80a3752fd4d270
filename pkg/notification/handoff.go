package notification

import (
	"context"
	"slices"
	"time"
)

// handoff passes deliveries claimed by a fan-out to the send loops of the
// same RunSender in memory. Its capacity is counted in send batches: a
// fan-out reserves room before it writes rows claimed, so passing them on
// never blocks, and writes the rows it has no room for pending (for
// ClaimDue). A nil *handoff has no room.
type handoff struct {
	batch int            // rows per passed batch (SenderConfig.Batch)
	slots chan struct{}  // free room, in batches
	ready chan handedOff // claimed rows waiting for a send loop
	wake  chan struct{}  // a batch became ready (an idle send loop looks now)
}

// handedOff is one batch of claimed rows and their notifications.
type handedOff struct {
	notes map[string]Notification
	rows  []Delivery
}

func newHandoff(batches, batch int) *handoff {
	h := &handoff{batch: batch, slots: make(chan struct{}, batches), ready: make(chan handedOff, batches),
		wake: make(chan struct{}, 1)}
	for range batches {
		h.slots <- struct{}{}
	}
	return h
}

// reserve takes room for up to rows claimed rows, a batch at a time, and
// returns how many batches it took and how many rows they hold.
func (h *handoff) reserve(rows int) (batches, room int) {
	if h == nil {
		return 0, 0
	}
	for batches*h.batch < rows {
		select {
		case <-h.slots:
			batches++
		default:
			return batches, batches * h.batch
		}
	}
	return batches, rows
}

// waitRoom waits up to d for room for one batch, without taking it. Rows a
// fan-out has no room for are written pending and cost the send loops a
// claim each, so a fan-out first lets the send loops catch up. After d it
// goes on regardless: the send loops may be held up by a slow provider,
// and pending rows are claimed by any sender, this process's or another's.
func (h *handoff) waitRoom(ctx context.Context, d time.Duration) {
	if h == nil {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-h.slots:
		h.slots <- struct{}{} // taken only to look: put back
	case <-t.C:
	case <-ctx.Done():
	}
}

// free gives back room for n batches.
func (h *handoff) free(n int) {
	if h == nil {
		return
	}
	for range n {
		h.slots <- struct{}{}
	}
}

// pass hands rows (claimed by a committed fan-out that reserved room for
// reserved batches) to the send loops, and frees the room it did not use
// (rows already there were not claimed).
func (h *handoff) pass(notes map[string]Notification, rows []Delivery, reserved int) {
	if h == nil {
		return
	}
	used := 0
	for chunk := range slices.Chunk(rows, h.batch) {
		h.ready <- handedOff{notes: notes, rows: chunk}
		used++
	}
	h.free(reserved - used)
	if used > 0 {
		select {
		case h.wake <- struct{}{}:
		default:
		}
	}
}

// take returns a ready batch, if any, and frees its room.
func (h *handoff) take() (handedOff, bool) {
	if h == nil {
		return handedOff{}, false
	}
	select {
	case b := <-h.ready:
		h.slots <- struct{}{}
		return b, true
	default:
		return handedOff{}, false
	}
}
