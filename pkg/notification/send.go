package notification

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"fundigo/pkg/expo"
	"fundigo/pkg/fcm"
	"fundigo/pkg/logging"
	"fundigo/pkg/store"
)

// Error codes recorded on deliveries that failed on our side.
const (
	errFCMNotConfigured = "fcm_not_configured"
	errOutcomeUnknown   = "outcome_unknown"
	errRender           = "render_failed"
	errReceiptMissing   = "receipt_missing"
)

// settlement is what one batch's sends decided.
type settlement struct {
	outcomes   []Outcome
	release    []int64             // certainly not taken by the provider: send again later
	deactivate map[string][]string // reason → dead tokens
}

func (s *settlement) add(o Outcome, token string) {
	s.outcomes = append(s.outcomes, o)
	if o.Status == DeliveryInvalid {
		if s.deactivate == nil {
			s.deactivate = map[string][]string{}
		}
		s.deactivate[o.Error] = append(s.deactivate[o.Error], token)
	}
}

func (s *settlement) merge(o *settlement) {
	s.outcomes = append(s.outcomes, o.outcomes...)
	s.release = append(s.release, o.release...)
	for reason, tokens := range o.deactivate {
		if s.deactivate == nil {
			s.deactivate = map[string][]string{}
		}
		s.deactivate[reason] = append(s.deactivate[reason], tokens...)
	}
}

// deactivateDevices turns off the dead tokens, inside the settling
// transaction.
func (s *settlement) deactivateDevices(ctx context.Context, tx pgx.Tx) error {
	for reason, tokens := range s.deactivate {
		if _, err := NewStore(tx).DeactivateDevices(ctx, tokens, reason); err != nil {
			return err
		}
	}
	return nil
}

// Send is push:send: claim up to 100 due deliveries of a notification,
// send them, settle them. Nothing left to claim is success. An error
// wrapping store.ErrNotFound means the notification does not exist (never
// worth retrying); any other error is worth a retry (the claimed rows a
// provider refused for now are pending again).
func (p *Pipeline) Send(ctx context.Context, notificationID string) error {
	n, err := p.store.Notification(ctx, notificationID)
	if err != nil {
		return fmt.Errorf("send notification %s: %w", notificationID, err)
	}
	claimed, err := p.store.Claim(ctx, n.ID, p.cfg.NowFunc(), sendBatch)
	if err != nil {
		return err
	}
	if len(claimed) > 0 {
		s := p.deliver(ctx, map[string]Notification{n.ID: n}, claimed)
		if err := p.settle(ctx, n.ID, s); err != nil {
			return err
		}
		if len(s.release) > 0 {
			// The rows are pending again; the retry (with backoff) claims them.
			return fmt.Errorf("send notification %s: %d messages refused for now", n.ID, len(s.release))
		}
	}
	_, err = p.store.CompleteIfSettled(ctx, n.ID, p.cfg.NowFunc())
	return err
}

// deliver sends claimed deliveries, of the notifications in notes, to their
// providers and decides each row's outcome. The messages of every
// notification go out together: Expo requests of up to 100 whoever they are
// for, several in flight (expo.Client.Send).
func (p *Pipeline) deliver(ctx context.Context, notes map[string]Notification, claimed []Delivery) *settlement {
	s := &settlement{}
	renderers := make(map[string]*renderer, len(notes))
	var expoRows []Delivery
	var expoMsgs []expo.Message
	var fcmRows []Delivery
	var fcmMsgs []fcm.Message
	for _, d := range claimed {
		n, ok := notes[d.NotificationID]
		if !ok {
			// Deliveries reference their notification (foreign key); only a
			// notification deleted mid-claim lands here.
			s.add(Outcome{ID: d.ID, Status: DeliveryFailed, Error: errRender}, d.DeviceToken)
			continue
		}
		r := renderers[n.ID]
		if r == nil {
			r = newRenderer(p.cfg.Templates, n)
			renderers[n.ID] = r
		}
		c, err := r.render(d.Locale)
		if err != nil {
			p.logger(ctx).Error().Err(err).Str(logging.FieldNotificationID, n.ID).Msg("notification cannot be rendered")
			s.add(Outcome{ID: d.ID, Status: DeliveryFailed, Error: errRender}, d.DeviceToken)
			continue
		}
		switch d.Platform {
		case PlatformExpo:
			m := expoMessage(n, d, c)
			if err := r.checkExpo(d.Locale, m); err != nil {
				s.add(Outcome{ID: d.ID, Status: DeliveryFailed, Error: validationCode(err)}, d.DeviceToken)
				continue
			}
			expoRows, expoMsgs = append(expoRows, d), append(expoMsgs, m)
		case PlatformFCM:
			fcmRows, fcmMsgs = append(fcmRows, d), append(fcmMsgs, fcmMessage(n, d, c))
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() { p.sendExpo(ctx, expoRows, expoMsgs, s) })
	fs := &settlement{}
	wg.Go(func() { p.sendFCM(ctx, fcmRows, fcmMsgs, fs) })
	wg.Wait()
	s.merge(fs)
	return s
}

func validationCode(err error) string {
	if errors.Is(err, expo.ErrPayloadTooLarge) {
		return expo.CodeMessageTooBig
	}
	return "invalid_token"
}

func (p *Pipeline) sendExpo(ctx context.Context, rows []Delivery, msgs []expo.Message, s *settlement) {
	if len(rows) == 0 {
		return
	}
	tickets, err := p.cfg.Expo.Send(ctx, msgs)
	for i, d := range rows {
		if i < len(tickets) && tickets[i].Status != "" {
			s.add(ticketOutcome(d.ID, tickets[i]), d.DeviceToken)
			continue
		}
		// No ticket: find why from the failed chunk covering this message.
		cause := chunkCause(err, i)
		if expo.IsTemporary(cause) {
			s.release = append(s.release, d.ID)
			continue
		}
		s.add(Outcome{ID: d.ID, Status: DeliveryFailed, Error: requestCode(cause)}, d.DeviceToken)
	}
	if err != nil {
		p.logger(ctx).Warn().Err(err).Int("messages", len(msgs)).Msg("expo send incomplete")
	}
}

// chunkCause returns the error of the chunk that covers message i, or err
// itself when it is not per chunk.
func chunkCause(err error, i int) error {
	if err == nil {
		return errors.New("no ticket")
	}
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) {
		for _, e := range joined.Unwrap() {
			var ce *expo.ChunkError
			if errors.As(e, &ce) && i >= ce.Start && i < ce.End {
				return ce.Err
			}
		}
	}
	return err
}

func requestCode(err error) string {
	var re *expo.RequestError
	switch {
	case errors.As(err, &re) && re.Code != "":
		return re.Code
	case errors.As(err, &re):
		return fmt.Sprintf("http_%d", re.StatusCode)
	case errors.Is(err, expo.ErrTicketCount):
		return "ticket_count_mismatch"
	}
	return errOutcomeUnknown
}

func ticketOutcome(id int64, t expo.Ticket) Outcome {
	err := t.Err()
	var me *expo.MessageError
	switch {
	case err == nil:
		return Outcome{ID: id, Status: DeliverySent, Accepted: true, TicketID: t.ID}
	case errors.Is(err, expo.ErrDeviceNotRegistered):
		return Outcome{ID: id, Status: DeliveryInvalid, Error: expo.CodeDeviceNotRegistered}
	case errors.As(err, &me) && me.Code != "":
		return Outcome{ID: id, Status: DeliveryFailed, Error: me.Code}
	}
	return Outcome{ID: id, Status: DeliveryFailed, Error: "ticket_error"}
}

func (p *Pipeline) sendFCM(ctx context.Context, rows []Delivery, msgs []fcm.Message, s *settlement) {
	if len(rows) == 0 {
		return
	}
	if p.cfg.FCM == nil {
		for _, d := range rows {
			s.add(Outcome{ID: d.ID, Status: DeliveryFailed, Error: errFCMNotConfigured}, d.DeviceToken)
		}
		return
	}
	errs := make([]error, len(rows))
	var wg sync.WaitGroup
	for i := range rows {
		// The FCM client bounds the requests in flight.
		wg.Go(func() { _, errs[i] = p.cfg.FCM.Send(ctx, msgs[i]) })
	}
	wg.Wait()
	var failed int
	var firstErr error
	for i, d := range rows {
		err := errs[i]
		if err != nil && !errors.Is(err, fcm.ErrUnregistered) {
			failed++
			firstErr = cmp.Or(firstErr, err)
		}
		var fe *fcm.Error
		switch {
		case err == nil:
			s.add(Outcome{ID: d.ID, Status: DeliveryDelivered, Accepted: true}, d.DeviceToken)
		case errors.Is(err, fcm.ErrUnregistered):
			s.add(Outcome{ID: d.ID, Status: DeliveryInvalid, Error: fcm.CodeUnregistered}, d.DeviceToken)
		case fcm.IsTemporary(err):
			s.release = append(s.release, d.ID)
		case errors.As(err, &fe) && fe.Code != "":
			s.add(Outcome{ID: d.ID, Status: DeliveryFailed, Error: fe.Code}, d.DeviceToken)
		case errors.Is(err, fcm.ErrInvalidMessage):
			s.add(Outcome{ID: d.ID, Status: DeliveryFailed, Error: "invalid_message"}, d.DeviceToken)
		default:
			s.add(Outcome{ID: d.ID, Status: DeliveryFailed, Error: errOutcomeUnknown}, d.DeviceToken)
		}
	}
	if failed > 0 {
		// FCM errors quote no token; the first one stands for the batch.
		p.logger(ctx).Warn().Err(firstErr).Int("messages", len(msgs)).Int("failed", failed).Msg("fcm send incomplete")
	}
}

// settle writes a batch's outcomes, releases and deactivations in one
// transaction (notificationID names the batch's notification in errors and
// logs; empty for a batch across notifications). It runs even when the task's context has ended: the sends
// happened and must be recorded.
func (p *Pipeline) settle(ctx context.Context, notificationID string, s *settlement) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	now := p.cfg.NowFunc()
	err := store.WithTx(ctx, p.cfg.Pool, func(tx pgx.Tx) error {
		d := NewStore(tx)
		if err := d.Settle(ctx, s.outcomes, now); err != nil {
			return err
		}
		if err := d.Release(ctx, s.release); err != nil {
			return err
		}
		return s.deactivateDevices(ctx, tx)
	})
	if err != nil {
		if notificationID == "" {
			return fmt.Errorf("settle %d deliveries: %w", len(s.outcomes)+len(s.release), err)
		}
		return fmt.Errorf("settle deliveries of notification %s: %w", notificationID, err)
	}
	for reason, tokens := range s.deactivate {
		l := p.logger(ctx).Info()
		if notificationID != "" {
			l = l.Str(logging.FieldNotificationID, notificationID)
		}
		l.Int("devices", len(tokens)).Str("reason", reason).Msg("devices deactivated")
	}
	return nil
}
