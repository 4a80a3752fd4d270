package notification

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

func (b bundle) setPrefs(t *testing.T, p Preferences) {
	t.Helper()
	_, err := b.p.store.PutPreferences(t.Context(), p)
	require.NoError(t, err)
}

// Quiet hours defer normal-priority notifications to the end of the window
// (in the user's zone) and send them then; high priority goes through.
func TestQuietHoursDeferThenSend(t *testing.T) {
	t.Parallel()
	b := setup(t, options{serve: true})
	b.addDevices(t, 0, 2, "en", expoToken)
	// u00000 is quiet 22:00-07:00 Nairobi time; u00001 has no preferences.
	b.setPrefs(t, Preferences{UserID: userID(0),
		QuietHours: &QuietHours{Start: "22:00", End: "07:00", TZ: "Africa/Nairobi"}})
	b.clock.Set(nairobiNight) // 23:00 in Nairobi

	normal := uuid.NewString()
	require.NoError(t, b.p.Accept(t.Context(), Request{
		ID: normal, UserIDs: users(0, 2), Title: "Offer", Body: "10% off",
	}))
	require.Eventually(t, func() bool { return b.counts(t, normal).AwaitingReceipt == 1 }, 10*time.Second, 20*time.Millisecond)
	c := b.counts(t, normal)
	require.Equal(t, Counts{Devices: 2, Sent: 1, AwaitingReceipt: 1, Deferred: 1}, c)
	require.Empty(t, b.sim.Received(expoToken(0)), "quiet user not disturbed")
	require.Len(t, b.sim.Received(expoToken(1)), 1)
	require.Equal(t, StatusSending, b.status(t, normal), "deferred, not dropped")

	var notBefore time.Time
	require.NoError(t, b.p.cfg.Pool.QueryRow(t.Context(),
		`SELECT not_before FROM notification_deliveries WHERE notification_id = $1 AND status = 'deferred'`, normal).
		Scan(&notBefore))
	require.True(t, notBefore.Equal(time.Date(2026, 3, 11, 4, 0, 0, 0, time.UTC)), "07:00 Nairobi is 04:00 UTC, got %s", notBefore)

	high := uuid.NewString()
	require.NoError(t, b.p.Accept(t.Context(), Request{
		ID: high, UserIDs: users(0, 1), Title: "Payment", Body: "received", Priority: "high",
	}))
	require.Eventually(t, func() bool { return len(b.sim.Received(expoToken(0))) == 1 }, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, "Payment", b.sim.Received(expoToken(0))[0].Title, "high priority bypasses quiet hours")

	// Still quiet at 06:59: the receipts run leaves it alone.
	b.clock.Set(time.Date(2026, 3, 11, 3, 59, 0, 0, time.UTC))
	b.runReceipts(t)
	require.Equal(t, 1, b.counts(t, normal).Deferred)

	// The window ends: the deferred delivery goes out.
	b.clock.Set(time.Date(2026, 3, 11, 4, 1, 0, 0, time.UTC))
	b.runReceipts(t)
	require.Eventually(t, func() bool { return b.status(t, normal) == StatusDone }, 10*time.Second, 20*time.Millisecond)
	got := b.sim.Received(expoToken(0))
	require.Len(t, got, 2)
	require.Equal(t, "Offer", got[1].Title)
	// The same run fetched the receipt of the first, hours-old ticket.
	require.Equal(t, Counts{Devices: 2, Sent: 2, AwaitingReceipt: 1, Delivered: 1}, b.counts(t, normal))
}

// A muted category is never sent to that user; other categories are.
func TestMutedCategoryNotSent(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	b.addDevices(t, 0, 2, "en", expoToken)
	b.setPrefs(t, Preferences{UserID: userID(0), MutedCategories: []string{"marketing"}})

	promo := uuid.NewString()
	require.NoError(t, b.p.Accept(t.Context(), Request{
		ID: promo, UserIDs: users(0, 2), Title: "Promo", Body: "b", Category: "marketing", Priority: "high",
	}))
	b.drain(t, promo)
	require.Equal(t, Counts{Devices: 2, Sent: 1, AwaitingReceipt: 1, Muted: 1}, b.counts(t, promo))
	require.Empty(t, b.sim.Received(expoToken(0)))
	require.Len(t, b.sim.Received(expoToken(1)), 1)
	require.Equal(t, StatusDone, b.status(t, promo))

	job := uuid.NewString()
	require.NoError(t, b.p.Accept(t.Context(), Request{
		ID: job, UserIDs: users(0, 1), Title: "Job", Body: "b", Category: "jobs",
	}))
	b.drain(t, job)
	require.Len(t, b.sim.Received(expoToken(0)), 1)
}

// A notification whose every device is muted (or that has no device) is
// done at once.
func TestNothingToSendIsDone(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	id := uuid.NewString()
	require.NoError(t, b.p.Accept(t.Context(), Request{
		ID: id, UserIDs: []string{"nobody"}, Title: "t", Body: "b",
	}))
	require.Equal(t, StatusDone, b.status(t, id))
	require.Equal(t, Counts{}, b.counts(t, id))
}
