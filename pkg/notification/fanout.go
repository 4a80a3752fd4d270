package notification

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"

	"fundigo/pkg/logging"
	"fundigo/pkg/store"
	"fundigo/pkg/tasks"
)

// sendBatch is how many deliveries one push:send task claims: one full Expo
// request.
const sendBatch = 100

// insertBatch bounds the rows of one INSERT of deliveries.
const insertBatch = 5000

// fanOut makes sure the notification's deliveries exist and that send tasks
// are queued for them. Idempotent: deliveries are created only while the
// notification is queued (a replay after that adds no device that registered
// since), existing rows are never touched, and send tasks have deterministic
// ids and claim their rows when they run.
func (p *Pipeline) fanOut(ctx context.Context, n Notification) error {
	if n.Status == StatusDone {
		return nil
	}
	now := p.cfg.NowFunc()
	if n.Status == StatusQueued {
		rows, err := p.plan(ctx, n, now)
		if err != nil {
			return err
		}
		deliveries := p.store
		for chunk := range slices.Chunk(rows, insertBatch) {
			if _, err := deliveries.InsertDeliveries(ctx, chunk, now); err != nil {
				return fmt.Errorf("fan out notification %s: %w", n.ID, err)
			}
		}
		err = p.store.MarkFannedOut(ctx, n.ID, now)
		if err != nil && !errors.Is(err, store.ErrStaleTransition) {
			return err
		}
		p.logger(ctx).Info().Str(logging.FieldNotificationID, n.ID).Int("deliveries", len(rows)).
			Msg("notification fanned out")
	}
	if !p.cfg.SendLoop {
		if err := p.enqueueSends(ctx, n.ID, now); err != nil {
			return err
		}
	}
	// A sender that settled the last rows before MarkFannedOut could not
	// complete the notification (it was still queued); this does.
	_, err := p.store.CompleteIfSettled(ctx, n.ID, now)
	return err
}

// plan decides, per active device of the recipients, whether the delivery is
// muted, deferred by quiet hours (normal priority only) or pending.
func (p *Pipeline) plan(ctx context.Context, n Notification, now time.Time) ([]Delivery, error) {
	devices, err := p.store.ActiveDevices(ctx, n.UserIDs)
	if err != nil {
		return nil, fmt.Errorf("fan out notification %s: %w", n.ID, err)
	}
	prefs, err := p.store.PreferencesOf(ctx, n.UserIDs)
	if err != nil {
		return nil, fmt.Errorf("fan out notification %s: %w", n.ID, err)
	}
	return p.planWith(ctx, n, devices, prefs, now), nil
}

// planWith is plan over already loaded devices (of n's recipients, and
// maybe others) and preferences.
func (p *Pipeline) planWith(ctx context.Context, n Notification, devices []Device, prefs map[string]Preferences, now time.Time) []Delivery {
	out := make([]Delivery, 0, len(devices))
	for _, d := range devices {
		row := Delivery{
			NotificationID: n.ID, UserID: d.UserID, DeviceToken: d.Token,
			Platform: d.Platform, Locale: d.Locale, Status: DeliveryPending,
		}
		pref := prefs[d.UserID]
		switch {
		case n.Category != "" && slices.Contains(pref.MutedCategories, n.Category):
			row.Status = DeliveryMuted
		case n.Priority != PriorityHigh && pref.QuietHours != nil:
			until, quiet, err := quietUntil(*pref.QuietHours, now)
			if err != nil {
				// Preferences are validated on write; a zone that no longer
				// loads must not block the notification.
				p.logger(ctx).Warn().Err(err).Msg("ignoring unusable quiet hours")
			} else if quiet {
				row.Status, row.NotBefore = DeliveryDeferred, &until
			}
		}
		out = append(out, row)
	}
	return out
}

// FanOutDue fans out up to limit queued notifications together, in one
// transaction: it locks them (FOR UPDATE SKIP LOCKED, so loops and
// processes never take the same one), loads the devices and preferences of
// all their recipients (one statement each), writes every delivery row
// (one statement per 5,000) and marks them sending (one statement). The
// notifications it left with nothing to send are completed (one
// statement). It is the fan-out of a pipeline with SendLoop, run by
// RunSender; returns how many notifications it fanned out.
func (p *Pipeline) FanOutDue(ctx context.Context, limit int) (int, error) {
	n, _, err := p.fanOutDue(ctx, limit, nil)
	return n, err
}

// fanOutDue is FanOutDue; with h (RunSender's), the fan-out hands as many
// of its pending deliveries as the send loops have room for straight to
// them: those rows are written already claimed and passed on in memory,
// which saves the send loops a claim statement and each row an update. The
// others are written pending, for ClaimDue. It returns how many
// notifications it fanned out and how many deliveries they made.
func (p *Pipeline) fanOutDue(ctx context.Context, limit int, h *handoff) (notes, deliveries int, err error) {
	now := p.cfg.NowFunc()
	var (
		ids      []string
		byID     map[string]Notification
		claimed  []Delivery
		reserved int
		empty    []string // fanned out with nothing to send (no device, all muted)
	)
	err = store.WithTx(ctx, p.cfg.Pool, func(tx pgx.Tx) error {
		st := NewStore(tx)
		locked, err := st.LockQueued(ctx, limit)
		if err != nil || len(locked) == 0 {
			return err
		}
		seen := map[string]bool{}
		var users []string
		for _, n := range locked {
			for _, u := range n.UserIDs {
				if !seen[u] {
					seen[u] = true
					users = append(users, u)
				}
			}
		}
		devices, err := st.ActiveDevices(ctx, users)
		if err != nil {
			return err
		}
		prefs, err := st.PreferencesOf(ctx, users)
		if err != nil {
			return err
		}
		byUser := make(map[string][]Device, len(users))
		for _, d := range devices {
			byUser[d.UserID] = append(byUser[d.UserID], d)
		}
		var rows []Delivery
		pending := 0
		ids = make([]string, len(locked))
		byID = make(map[string]Notification, len(locked))
		for i, n := range locked {
			ids[i] = n.ID
			byID[n.ID] = n
			var mine []Device
			for _, u := range n.UserIDs {
				mine = append(mine, byUser[u]...)
			}
			toSend := false
			for _, d := range p.planWith(ctx, n, mine, prefs, now) {
				rows = append(rows, d)
				switch d.Status {
				case DeliveryPending:
					pending++
					toSend = true
				case DeliveryDeferred:
					toSend = true
				}
			}
			if !toSend {
				empty = append(empty, n.ID)
			}
		}
		// As many pending rows as the send loops have room for are
		// written claimed (the first ones: oldest notifications first).
		var toClaim int
		reserved, toClaim = h.reserve(pending)
		for i := range rows {
			if toClaim == 0 {
				break
			}
			if rows[i].Status == DeliveryPending {
				rows[i].Status = DeliverySending
				toClaim--
			}
		}
		deliveries = len(rows)
		for chunk := range slices.Chunk(rows, insertBatch) {
			if !slices.ContainsFunc(chunk, func(d Delivery) bool { return d.Status == DeliverySending }) {
				if _, err := st.InsertDeliveries(ctx, chunk, now); err != nil {
					return fmt.Errorf("fan out %d notifications: %w", len(locked), err)
				}
				continue
			}
			got, err := st.InsertClaimed(ctx, chunk, now)
			if err != nil {
				return fmt.Errorf("fan out %d notifications: %w", len(locked), err)
			}
			claimed = append(claimed, got...)
		}
		return st.MarkAllFannedOut(ctx, ids, empty, now)
	})
	if err != nil {
		h.free(reserved)
		// The claimed rows are not sent. If the commit happened after all,
		// they are stale claims: after FUNDIGO_PUSH_STALE_CLAIM the receipts
		// run fails them as outcome unknown, as it fails rows whose sender
		// died mid-send (never sent twice).
		return 0, 0, err
	}
	h.pass(byID, claimed, reserved)
	return len(ids), deliveries, nil
}

// enqueueSends queues one push:send per 100 due deliveries, and per 100
// deferred deliveries at the end of their quiet window.
func (p *Pipeline) enqueueSends(ctx context.Context, notificationID string, now time.Time) error {
	deliveries := p.store
	pending, err := deliveries.PendingCount(ctx, notificationID, now)
	if err != nil {
		return err
	}
	if err := p.enqueue(ctx, notificationID, pending, time.Time{}); err != nil {
		return err
	}
	deferred, err := deliveries.DeferredTimes(ctx, notificationID)
	if err != nil {
		return err
	}
	for at, count := range deferred {
		if !at.After(now) {
			continue // counted as pending above
		}
		// A second late, so a worker whose clock trails Redis's still finds
		// the rows due when the task runs.
		if err := p.enqueue(ctx, notificationID, count, at.Add(time.Second)); err != nil {
			return err
		}
	}
	return nil
}

func (p *Pipeline) enqueue(ctx context.Context, notificationID string, rows int, at time.Time) error {
	for slot := range (rows + sendBatch - 1) / sendBatch {
		t, err := tasks.NewPushSend(ctx, p.cfg.Queues.Default, notificationID, slot, at)
		if err != nil {
			return err
		}
		_, err = p.cfg.Tasks.EnqueueContext(ctx, t)
		if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) && !errors.Is(err, asynq.ErrDuplicateTask) {
			return fmt.Errorf("enqueue send of notification %s: %w", notificationID, err)
		}
	}
	return nil
}
