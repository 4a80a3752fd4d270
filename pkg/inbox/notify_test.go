package inbox_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/inbox"
)

// TestWriteNotifyOnlyBatch covers the one-statement commit of a batch
// whose entries name a Notify channel and no outbox routing key (the STK
// route): rows shared by few commits, identical deliveries deduplicated
// with the first row's id, no outbox notice, a bad row isolated from its
// batch-mates, and the channel notified on commit.
func TestWriteNotifyOnlyBatch(t *testing.T) {
	t.Parallel()
	w, pool := newWriter(t, inbox.WriterConfig{Window: 50 * time.Millisecond})
	ctx := context.Background()
	channel := "inbox_test_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	listener, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer listener.Release()
	_, err = listener.Exec(ctx, "LISTEN "+channel)
	require.NoError(t, err)
	defer func() { _, _ = listener.Exec(context.Background(), "UNLISTEN "+channel) }()
	_, err = pool.Exec(ctx, `ALTER TABLE inbox ADD CONSTRAINT no_poison CHECK (natural_key NOT LIKE 'poison%') NOT VALID`)
	require.NoError(t, err)

	e := func(key, body string) inbox.Entry {
		return inbox.Entry{Route: "mpesa.stk", Key: key, Body: []byte(body), Notify: channel}
	}
	const n = 40
	var wg sync.WaitGroup
	results := make([]inbox.Result, n+4)
	errs := make([]error, n+4)
	for i := range n + 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch {
			case i < n:
				results[i], errs[i] = w.Write(ctx, e(fmt.Sprintf("ws_CO_%d", i), fmt.Sprintf(`{"n":%d}`, i)))
			case i < n+2:
				results[i], errs[i] = w.Write(ctx, e("ws_CO_same", `{"same":1}`))
			default:
				results[i], errs[i] = w.Write(ctx, e(fmt.Sprintf("poison_%d", i), `{}`))
			}
		}()
	}
	wg.Wait()
	ids := map[int64]bool{}
	for i := range n {
		require.NoError(t, errs[i])
		require.False(t, results[i].Duplicate)
		ids[results[i].ID] = true
	}
	require.Len(t, ids, n)
	require.NoError(t, errs[n])
	require.NoError(t, errs[n+1])
	require.Equal(t, results[n].ID, results[n+1].ID)
	require.True(t, results[n].Duplicate != results[n+1].Duplicate, "one of two identical deliveries is the duplicate")
	require.ErrorIs(t, errs[n+2], inbox.ErrRejected)
	require.ErrorIs(t, errs[n+3], inbox.ErrRejected)

	var rows, txns, notices int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT xmin::text) FROM inbox`).Scan(&rows, &txns))
	require.Equal(t, n+1, rows)
	// Shared commits: far fewer than one per row. The two poison rows cost
	// commits by themselves: a batch holding both is halved around each of
	// them, up to 2·⌈log2(44)⌉ = 12 committed halves when all 44 writers
	// share one batch (the most grouped case), so the bound is n/2, not a
	// figure only smaller, luckier batches meet.
	require.Less(t, txns, n/2, "concurrent deliveries share commits")
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM outbox`).Scan(&notices))
	require.Zero(t, notices)

	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	note, err := listener.Conn().WaitForNotification(wctx)
	require.NoError(t, err)
	require.Equal(t, channel, note.Channel)

	// A redelivery of a stored body, alone in its batch: the existing id.
	again, err := w.Write(ctx, e("ws_CO_3", `{"n":3}`))
	require.NoError(t, err)
	require.True(t, again.Duplicate)
	require.Equal(t, results[3].ID, again.ID)
}
