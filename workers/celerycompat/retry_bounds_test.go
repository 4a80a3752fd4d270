package celerycompat_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/celery"
	"fundigo/workers/celerycompat"
)

// TestRetryNegativeRetriesHeaderIsClamped is issue 12 row 10: a message
// claiming retries -1,000,000 would otherwise be retried a million times.
func TestRetryNegativeRetriesHeaderIsClamped(t *testing.T) {
	t.Parallel()
	b := setup(t, options{tweak: func(c *celerycompat.Config) { c.MaxRetries = 2 }})
	var rec recorder
	b.start(t, map[string]celerycompat.HandlerFunc{"tests.flaky": flaky(&rec, 1000)})
	m := newMessage(t, "tests.flaky")
	m.Retries = -1_000_000
	b.send(t, m)
	b.waitState(t, m.ID, celery.StateFailure, 20*time.Second)
	calls := rec.calls()
	require.Len(t, calls, 3, "the first run and MaxRetries retries, as for retries 0")
	for i, c := range calls {
		require.Equal(t, i, c.Retries)
	}
}

// TestDeterministicErrorsAreNotRetried is issue 12 row 10: a database error
// the same input raises again (SQLSTATE class 22/23) and a decode error fail
// the task at once instead of being retried.
func TestDeterministicErrorsAreNotRetried(t *testing.T) {
	t.Parallel()
	var decodeErr error = json.Unmarshal([]byte(`{"amount":"x"}`), &struct {
		Amount int `json:"amount"`
	}{})
	require.Error(t, decodeErr)
	tests := map[string]struct {
		err     error
		excType string
	}{
		"NUL in text (22021)": {fmt.Errorf("store review: %w", &pgconn.PgError{Severity: "ERROR", Code: "22021", Message: "invalid byte sequence"}), "DataError"},
		"unique (23505)":      {fmt.Errorf("insert: %w", &pgconn.PgError{Severity: "ERROR", Code: "23505", Message: "duplicate key"}), "IntegrityError"},
		"json type mismatch":  {fmt.Errorf("decode payload: %w", decodeErr), "ValueError"},
		"json syntax":         {fmt.Errorf("decode payload: %w", json.Unmarshal([]byte(`{`), new(any))), "ValueError"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, options{tweak: func(c *celerycompat.Config) { c.MaxRetries = 5 }})
			var rec recorder
			b.start(t, map[string]celerycompat.HandlerFunc{"tests.bad": rec.wrap(func(context.Context, *celery.Message) (any, error) {
				return nil, tc.err
			})})
			m := newMessage(t, "tests.bad")
			b.send(t, m)
			meta := b.waitState(t, m.ID, celery.StateFailure, 10*time.Second)
			exc, err := meta.Exception()
			require.NoError(t, err)
			require.Equal(t, tc.excType, exc.Type)
			require.Len(t, rec.calls(), 1, "a deterministic failure runs once")
		})
	}
}
