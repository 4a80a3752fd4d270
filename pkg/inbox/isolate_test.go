package inbox_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/inbox"
)

// TestWriteOneBadDeliveryNeverFailsItsBatchMates: a delivery the database
// refuses (here a CHECK on its key) fails alone; the valid deliveries of the
// same grouped commit are stored and succeed.
func TestWriteOneBadDeliveryNeverFailsItsBatchMates(t *testing.T) {
	t.Parallel()
	w, pool := newWriter(t, inbox.WriterConfig{Window: 200 * time.Millisecond})
	ctx := context.Background()
	_, err := pool.Exec(ctx, `ALTER TABLE inbox ADD CONSTRAINT no_poison CHECK (natural_key NOT LIKE 'poison%') NOT VALID`)
	require.NoError(t, err)
	const valid = 20
	var wg sync.WaitGroup
	errs := make([]error, valid+2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("ws_CO_%d", i)
			if i >= valid {
				key = fmt.Sprintf("poison_%d", i)
			}
			_, errs[i] = w.Write(ctx, entry(key, fmt.Sprintf(`{"n":%d}`, i)))
		}()
	}
	wg.Wait()
	for i := range valid {
		require.NoError(t, errs[i], "valid delivery %d", i)
	}
	for i := valid; i < len(errs); i++ {
		require.ErrorIs(t, errs[i], inbox.ErrRejected, "poison delivery %d", i)
	}
	var rows, notices int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM inbox`).Scan(&rows))
	require.Equal(t, valid, rows)
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM outbox`).Scan(&notices))
	require.Equal(t, valid, notices, "one notice per stored row, none for the refused ones")
}

// TestWriteRefusesUnstorableKeys: a key the unique index or the text type
// cannot hold is refused before it joins a batch.
func TestWriteRefusesUnstorableKeys(t *testing.T) {
	t.Parallel()
	w, _ := newWriter(t, inbox.WriterConfig{})
	ctx := context.Background()
	for name, key := range map[string]string{
		"NUL":       "ws_CO_1\x00",
		"not UTF-8": "ws_CO_\xff",
		"too long":  strings.Repeat("k", inbox.MaxKeyLen+1),
	} {
		_, err := w.Write(ctx, entry(key, `{}`))
		require.ErrorIs(t, err, inbox.ErrRejected, name)
		require.Less(t, len(err.Error()), 300, "the error never carries the key in full")
	}
}
