package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/store"
	"fundigo/pkg/store/storetest"
)

// listener LISTENs on a channel of its own (NOTIFY is database-wide, so a
// shared name would hear other tests) on a dedicated connection.
type listener struct {
	conn    *pgxpool.Conn
	channel string
}

func listen(t *testing.T, pool *pgxpool.Pool) *listener {
	t.Helper()
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	ch := "t_" + uuid.NewString()[:8]
	_, err = conn.Exec(ctx, `LISTEN `+pgx.Identifier{ch}.Sanitize())
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = conn.Exec(context.Background(), `UNLISTEN *`)
		conn.Release()
	})
	return &listener{conn: conn, channel: ch}
}

// next waits up to d for a notification; false if none came.
func (l *listener) next(t *testing.T, d time.Duration) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	n, err := l.conn.Conn().WaitForNotification(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	require.NoError(t, err)
	require.Equal(t, l.channel, n.Channel)
	return true
}

// drain counts the notifications that arrive until none has for quiet.
func (l *listener) drain(t *testing.T, quiet time.Duration) int {
	t.Helper()
	n := 0
	for l.next(t, quiet) {
		n++
	}
	return n
}

func TestNotifyOnCommitWakesAfterTheCommitOnly(t *testing.T) {
	t.Parallel()
	pool := storetest.NewPool(t)
	l := listen(t, pool)
	ctx := context.Background()

	// Rolled back: no wake-up.
	boom := errors.New("boom")
	err := store.WithTx(ctx, pool, func(tx pgx.Tx) error {
		require.NoError(t, store.NotifyOnCommit(ctx, tx, l.channel))
		return boom
	})
	require.ErrorIs(t, err, boom)
	require.False(t, l.next(t, 300*time.Millisecond), "a rolled-back transaction wakes nobody")

	// Committed: one wake-up, sent after the commit, so the listener that
	// wakes finds the row.
	err = store.WithTx(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO commands (id, kind) VALUES ('n1', 'k')`); err != nil {
			return err
		}
		// Asked twice in one transaction: one notification.
		require.NoError(t, store.NotifyOnCommit(ctx, tx, l.channel))
		return store.NotifyOnCommit(ctx, tx, l.channel)
	})
	require.NoError(t, err)
	require.True(t, l.next(t, 5*time.Second), "the commit is followed by a wake-up")
	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM commands WHERE id = 'n1'`).Scan(&n))
	require.Equal(t, 1, n, "the woken reader sees the committed row")
	require.Zero(t, l.drain(t, 300*time.Millisecond), "one request per transaction, one notification")
}

func TestNotifyOnCommitNestedWaitsForTheOuterCommit(t *testing.T) {
	t.Parallel()
	pool := storetest.NewPool(t)
	l := listen(t, pool)
	ctx := context.Background()

	err := store.WithTx(ctx, pool, func(outer pgx.Tx) error {
		if err := store.WithTx(ctx, outer, func(inner pgx.Tx) error {
			return store.NotifyOnCommit(ctx, inner, l.channel)
		}); err != nil {
			return err
		}
		require.False(t, l.next(t, 300*time.Millisecond), "a savepoint's release is not the commit")
		return nil
	})
	require.NoError(t, err)
	require.True(t, l.next(t, 5*time.Second), "the outer commit sends the inner request")

	// A transaction WithTx did not begin: the request falls back to a
	// NOTIFY inside it, still delivered only when it commits.
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, store.NotifyOnCommit(ctx, tx, l.channel))
	require.False(t, l.next(t, 300*time.Millisecond))
	require.NoError(t, tx.Commit(ctx))
	require.True(t, l.next(t, 5*time.Second))
}

// Many concurrent requests are coalesced into few notifications, and the
// last one is always sent after the last request.
func TestNotifyCoalescesAndAlwaysWakesAfterTheLastRequest(t *testing.T) {
	t.Parallel()
	pool := storetest.NewPool(t)
	l := listen(t, pool)
	ctx := context.Background()

	const writers, each = 16, 25
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				err := store.WithTx(ctx, pool, func(tx pgx.Tx) error {
					if _, err := tx.Exec(ctx, `INSERT INTO commands (id, kind) VALUES ($1, 'k')`, fmt.Sprintf("c%d-%d", w, i)); err != nil {
						return err
					}
					return store.NotifyOnCommit(ctx, tx, l.channel)
				})
				require.NoError(t, err)
			}
		})
	}
	wg.Wait()
	got := l.drain(t, time.Second)
	require.GreaterOrEqual(t, got, 1)
	require.Less(t, got, writers*each, "requests arriving while one is sent share the next")

	// After the burst, a single request still gets its own wake-up.
	store.Notify(pool, l.channel)
	require.True(t, l.next(t, 5*time.Second))
}
