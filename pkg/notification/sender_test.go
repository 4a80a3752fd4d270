package notification

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/tasks/taskstest"
)

// 1,000 single-user notifications and one to 300 users, fanned out with the
// sender loop: no push:send task is queued, the loop packs the messages of
// different notifications into full Expo requests, two senders (as in two
// processes) never send a message twice, and every notification completes.
func TestSenderLoopPacksAcrossNotifications(t *testing.T) {
	t.Parallel()
	b := setup(t, options{sendLoop: true})
	const single = 1000
	b.addDevices(t, 0, single, "en", expoToken)
	ids := make([]string, 0, single+1)
	for i := range single {
		id := uuid.NewString()
		require.NoError(t, b.p.Accept(t.Context(), Request{ID: id, UserIDs: users(i, 1), Title: "Fundi", Body: "on the way"}))
		ids = append(ids, id)
	}
	wide := uuid.NewString()
	require.NoError(t, b.p.Accept(t.Context(), Request{ID: wide, UserIDs: users(0, 300), Title: "Karibu", Body: "b"}))
	ids = append(ids, wide)

	tasksQueued, err := taskstest.Inspector(t).GetQueueInfo(b.p.cfg.Queues.Default)
	if err == nil { // the queue exists only once something was enqueued
		require.Zero(t, tasksQueued.Size, "no push:send task with the sender loop")
	}
	require.Zero(t, b.sim.Stats().Messages, "nothing is sent before a sender runs")

	b.runSender(t, SenderConfig{Batch: 500, Loops: 3, Idle: 20 * time.Millisecond})
	b.runSender(t, SenderConfig{Batch: 500, Loops: 3, Idle: 20 * time.Millisecond})
	require.Eventually(t, func() bool { return b.sim.Stats().Messages >= single+300 }, 60*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool {
		var open int
		require.NoError(t, b.p.cfg.Pool.QueryRow(t.Context(),
			`SELECT count(*) FROM notifications WHERE id = ANY($1::uuid[]) AND status <> 'done'`, ids).Scan(&open))
		return open == 0
	}, 30*time.Second, 20*time.Millisecond)

	st := b.sim.Stats()
	require.Equal(t, single+300, st.Messages)
	for i := range single {
		want := 1
		if i < 300 {
			want = 2
		}
		require.Equal(t, want, st.PerToken[expoToken(i)], expoToken(i))
	}
	require.LessOrEqual(t, st.MaxRequestSize(), 100)
	// 1,300 messages claimed 500 at a time by six loops are at most
	// ceil(1300/500) = 3 claims of ≤ 5 requests each, plus the partial
	// claims of loops that raced: far fewer than one request per
	// notification.
	require.Less(t, st.SendRequests, 40, "requests: %v", st.RequestSizes)
	require.Equal(t, Counts{Devices: 300, Sent: 300, AwaitingReceipt: 300}, b.counts(t, wide))
	require.Equal(t, Counts{Devices: 1, Sent: 1, AwaitingReceipt: 1}, b.counts(t, ids[0]))
}

// With the sender loop, mutes still hold, quiet hours defer until their
// window ends (then the loop sends without any task), and a provider that
// refuses for now gets the messages later, once each.
func TestSenderLoopQuietHoursMutesAndRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t, options{sendLoop: true, maxAttempts: 1})
	b.addDevices(t, 0, 3, "en", expoToken)
	// u00000 is quiet 22:00-07:00 Nairobi time; u00001 mutes marketing.
	b.setPrefs(t, Preferences{UserID: userID(0),
		QuietHours: &QuietHours{Start: "22:00", End: "07:00", TZ: "Africa/Nairobi"}})
	b.setPrefs(t, Preferences{UserID: userID(1), MutedCategories: []string{"marketing"}})
	b.clock.Set(nairobiNight)

	// The first request is refused for now (503, one attempt): the rows go
	// back to pending and the loop sends them after its backoff.
	b.sim.FailNext(1, http.StatusServiceUnavailable, 0)
	id := uuid.NewString()
	require.NoError(t, b.p.Accept(t.Context(), Request{
		ID: id, UserIDs: users(0, 3), Title: "Offer", Body: "b", Category: "marketing",
	}))
	b.runSender(t, SenderConfig{Loops: 1, Idle: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	require.Eventually(t, func() bool { return b.counts(t, id).AwaitingReceipt == 1 }, 30*time.Second, 20*time.Millisecond)
	require.Equal(t, Counts{Devices: 3, Sent: 1, AwaitingReceipt: 1, Deferred: 1, Muted: 1}, b.counts(t, id))
	require.Equal(t, 1, b.sim.Stats().Rejected)
	require.Len(t, b.sim.Received(expoToken(2)), 1, "sent once after the refusal")
	require.Empty(t, b.sim.Received(expoToken(0)), "quiet user not disturbed")
	require.Empty(t, b.sim.Received(expoToken(1)), "muted")
	require.Equal(t, StatusSending, b.status(t, id))

	// The window ends: the loop claims the deferred row by itself.
	b.clock.Set(time.Date(2026, 3, 11, 4, 1, 0, 0, time.UTC))
	require.Eventually(t, func() bool { return b.status(t, id) == StatusDone }, 30*time.Second, 20*time.Millisecond)
	require.Equal(t, Counts{Devices: 3, Sent: 2, AwaitingReceipt: 2, Muted: 1}, b.counts(t, id))
	require.Len(t, b.sim.Received(expoToken(0)), 1)
	require.Len(t, b.sim.Received(expoToken(2)), 1)
	require.Empty(t, b.sim.Received(expoToken(1)))
}

// A notification whose completion was lost (the statement after the last
// settle failed, or the process died between the two) stays "sending" with
// nothing left to send; the receipts run completes it once it has been
// fanned out for a stale-claim period, and leaves alone one that still has
// a delivery to send.
func TestReceiptsRunCompletesANotificationWhoseCompletionWasLost(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	b.addDevices(t, 0, 4, "en", expoToken)
	lost, open := uuid.NewString(), uuid.NewString()
	require.NoError(t, b.p.Accept(t.Context(), Request{ID: lost, UserIDs: users(0, 2), Title: "Fundi", Body: "on the way"}))
	require.NoError(t, b.p.Accept(t.Context(), Request{ID: open, UserIDs: users(2, 2), Title: "Fundi", Body: "arrived"}))
	b.drain(t, lost)
	require.Equal(t, StatusDone, b.status(t, lost))
	require.Equal(t, 2, b.sim.Stats().Messages)

	// The completion is lost; the other notification still has a delivery to send.
	_, err := b.p.cfg.Pool.Exec(t.Context(), `UPDATE notifications SET status = 'sending', done_at = NULL WHERE id = $1`, lost)
	require.NoError(t, err)
	require.Equal(t, StatusSending, b.status(t, open))
	require.Equal(t, Counts{Devices: 2, Queued: 2}, b.counts(t, open))

	// Within the stale-claim period nothing is touched: a sender may be
	// between its settle and its completion.
	b.runReceipts(t)
	require.Equal(t, StatusSending, b.status(t, lost))

	b.clock.Add(b.p.cfg.StaleClaim + time.Minute)
	b.runReceipts(t)
	require.Equal(t, StatusDone, b.status(t, lost), "every delivery settled: completed")
	require.Equal(t, StatusSending, b.status(t, open), "a pending delivery: still sending")
	require.Equal(t, 2, b.sim.Stats().Messages, "completing sends nothing again")
}

// With room in the send loops, a fan-out writes its pending deliveries
// already claimed (claimed when created, first attempt) and hands them
// over in memory: no claim can take them again, and they are sent once.
// Without room it writes them pending for ClaimDue. Batches still waiting
// when the sender stops go back to pending and are sent once later.
func TestFanOutHandsClaimedRowsToTheSendLoops(t *testing.T) {
	t.Parallel()
	b := setup(t, options{sendLoop: true})
	ctx := t.Context()
	b.addDevices(t, 0, 40, "en", expoToken)
	accept := func(from, n int) []string {
		var ids []string
		for i := range n {
			id := uuid.NewString()
			require.NoError(t, b.p.Accept(ctx, Request{ID: id, UserIDs: users(from+i, 1), Title: "Fundi", Body: "b"}))
			ids = append(ids, id)
		}
		return ids
	}
	rows := func(status string) (n, claimedAtCreation int) {
		require.NoError(t, b.p.cfg.Pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE claimed_at = created_at AND attempts = 1)
			FROM notification_deliveries WHERE status = $1`, status).Scan(&n, &claimedAtCreation))
		return n, claimedAtCreation
	}
	h := newHandoff(1, 10) // room for one batch of 10

	first := accept(0, 5)
	n, _, err := b.p.fanOutDue(ctx, 100, h)
	require.NoError(t, err)
	require.Equal(t, 5, n)
	sending, atCreation := rows(DeliverySending)
	require.Equal(t, 5, sending)
	require.Equal(t, 5, atCreation, "claimed as they were written")
	again, err := b.p.store.ClaimDue(ctx, b.clock.Now(), 100)
	require.NoError(t, err)
	require.Empty(t, again, "a handed-over row cannot be claimed again")

	full := accept(5, 2) // the one batch is taken: no room
	_, _, err = b.p.fanOutDue(ctx, 100, h)
	require.NoError(t, err)
	pending, _ := rows(DeliveryPending)
	require.Equal(t, 2, pending, "no room: written pending")

	got, err := b.p.sendDue(ctx, 1000, h)
	require.NoError(t, err)
	require.Equal(t, 1000, got, "a handed-over batch counts as full: the loop goes straight on")
	require.Equal(t, 5, b.sim.Stats().Messages)

	second := accept(7, 23) // room for one batch of 10: 10 claimed, 13 pending
	_, _, err = b.p.fanOutDue(ctx, 100, h)
	require.NoError(t, err)
	pending, _ = rows(DeliveryPending)
	require.Equal(t, 15, pending)
	sending, atCreation = rows(DeliverySending)
	require.Equal(t, 10, sending)
	require.Equal(t, 10, atCreation)
	got, err = b.p.sendDue(ctx, 1000, h)
	require.NoError(t, err)
	require.Equal(t, 1000, got)
	got, err = b.p.sendDue(ctx, 1000, h)
	require.NoError(t, err)
	require.Equal(t, 15, got, "then ClaimDue")
	require.Equal(t, 30, b.sim.Stats().Messages)

	third := accept(30, 3)
	_, _, err = b.p.fanOutDue(ctx, 100, h)
	require.NoError(t, err)
	b.p.releaseHandedOff(ctx, h) // the sender stopped before a loop took it
	pending, _ = rows(DeliveryPending)
	require.Equal(t, 3, pending)
	_, err = b.p.SendDue(ctx, 1000)
	require.NoError(t, err)

	st := b.sim.Stats()
	require.Equal(t, 33, st.Messages)
	for i := range 33 {
		require.Equal(t, 1, st.PerToken[expoToken(i)], expoToken(i))
	}
	for _, id := range slices.Concat(first, full, second, third) {
		require.Equal(t, StatusDone, b.status(t, id), id)
	}
}

// A fan-out takes about one send batch of deliveries: few wide
// notifications, many narrow ones, never more than FanOutBatch nor fewer
// than one.
func TestFanOutLimitFillsOneSendBatch(t *testing.T) {
	t.Parallel()
	cfg := SenderConfig{Batch: 1000, FanOutBatch: 100}
	for _, c := range []struct{ n, deliveries, want int }{
		{100, 10000, 10}, // 100 users each
		{100, 100, 100},  // single-user: capped by FanOutBatch
		{3, 30000, 1},    // 10,000 users each: one at a time
		{10, 0, 100},     // nobody to send to: the cap
		{50, 2500, 20},   // 50 users each
		{100, 100000, 1}, // wider than a batch
	} {
		require.Equal(t, c.want, fanOutLimit(c.n, c.deliveries, cfg), "%+v", c)
	}
}

// A fan-out completes at once the notifications it leaves with nothing to
// send (no device, every device muted), leaves the one with a deferred row
// sending, and the send loop completes the one whose rows it settles.
func TestFanOutCompletesOnlyWhatHasNothingToSend(t *testing.T) {
	t.Parallel()
	b := setup(t, options{sendLoop: true})
	ctx := t.Context()
	b.addDevices(t, 0, 3, "en", expoToken)
	b.setPrefs(t, Preferences{UserID: userID(1), MutedCategories: []string{"marketing"}})
	b.setPrefs(t, Preferences{UserID: userID(2), QuietHours: &QuietHours{Start: "22:00", End: "07:00", TZ: "Africa/Nairobi"}})
	b.clock.Set(nairobiNight)
	note := func(category string, u ...string) string {
		id := uuid.NewString()
		require.NoError(t, b.p.Accept(ctx, Request{ID: id, UserIDs: u, Title: "t", Body: "b", Category: category}))
		return id
	}
	noDevice := note("", "nobody")
	muted := note("marketing", userID(1))
	deferred := note("", userID(2))
	sent := note("", userID(0))
	h := newHandoff(1, 10)
	n, _, err := b.p.fanOutDue(ctx, 100, h)
	require.NoError(t, err)
	require.Equal(t, 4, n)
	require.Equal(t, StatusDone, b.status(t, noDevice))
	require.Equal(t, StatusDone, b.status(t, muted))
	require.Equal(t, StatusSending, b.status(t, deferred))
	require.Equal(t, StatusSending, b.status(t, sent), "its row is handed over, not sent yet")
	_, err = b.p.sendDue(ctx, 1000, h)
	require.NoError(t, err)
	require.Equal(t, StatusDone, b.status(t, sent))
	require.Equal(t, StatusSending, b.status(t, deferred), "its quiet window has not ended")
}

// A fan-out waits for the send loops to have room, without taking it: it
// goes on as soon as a loop takes a batch, after the bound when none does,
// at once when there is room, and never changes the room.
func TestFanOutWaitsForRoomWithoutTakingIt(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	h := newHandoff(1, 10)
	h.waitRoom(ctx, time.Hour) // room: returns at once
	batches, room := h.reserve(10)
	require.Equal(t, 1, batches, "waiting took no room")
	require.Equal(t, 10, room)

	// No room: waits until the bound passes.
	h.waitRoom(ctx, time.Millisecond)

	// No room until a send loop takes the batch: the wait ends then, well
	// before its hour.
	h.pass(nil, []Delivery{{ID: 1}}, batches)
	done := make(chan struct{})
	go func() { h.waitRoom(ctx, time.Hour); close(done) }()
	select {
	case <-done:
		t.Fatal("waitRoom returned while there was no room")
	case <-time.After(20 * time.Millisecond):
	}
	_, ok := h.take()
	require.True(t, ok)
	<-done
	batches, _ = h.reserve(10)
	require.Equal(t, 1, batches, "the room is still there for the fan-out")

	// A stopped sender does not wait.
	stopped, cancel := context.WithCancel(ctx)
	cancel()
	h.waitRoom(stopped, time.Hour)
	var nilH *handoff
	nilH.waitRoom(ctx, time.Hour)
}
