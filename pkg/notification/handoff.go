package notification

import "slices"

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

// batches is how many batches rows claimed rows make.
func (h *handoff) batches(rows int) int {
	if h == nil {
		return 0
	}
	return (rows + h.batch - 1) / h.batch
}

// reserve takes room for up to n batches and returns how many it took.
func (h *handoff) reserve(n int) int {
	if h == nil {
		return 0
	}
	for i := range n {
		select {
		case <-h.slots:
		default:
			return i
		}
	}
	return n
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

// chunkSize is how many rows a batch holds (none without a handoff).
func (h *handoff) chunkSize() int {
	if h == nil {
		return 0
	}
	return h.batch
}
