package outcome_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/outcome"
	"fundigo/pkg/store"
	"fundigo/pkg/validation"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	var syntax error = &json.SyntaxError{}
	typeErr := json.Unmarshal([]byte(`{"a":"x"}`), &struct{ A int }{})
	require.Error(t, typeErr)
	for _, tc := range []struct {
		name string
		err  error
		want outcome.Class
	}{
		{"nil", nil, outcome.AlreadyDone},
		{"stale transition", fmt.Errorf("mark paid: %w", store.ErrStaleTransition), outcome.AlreadyDone},
		{"already done", outcome.ErrAlreadyDone, outcome.AlreadyDone},
		{"permanent stale is still done", outcome.Permanent(store.ErrStaleTransition), outcome.AlreadyDone},
		{"marked permanent", outcome.Permanent(errors.New("bad input")), outcome.PermanentFailure},
		{"wrapped permanent", fmt.Errorf("handle: %w", outcome.Permanent(errors.New("bad"))), outcome.PermanentFailure},
		{"sqlstate 22021 (bad utf8 / NUL)", fmt.Errorf("insert: %w", &pgconn.PgError{Code: "22021"}), outcome.PermanentFailure},
		{"sqlstate 22001 (too long)", &pgconn.PgError{Code: "22001"}, outcome.PermanentFailure},
		{"sqlstate 23505 (unique)", &pgconn.PgError{Code: "23505"}, outcome.PermanentFailure},
		{"sqlstate 40001 (serialization) retries", &pgconn.PgError{Code: "40001"}, outcome.Retry},
		{"sqlstate 57014 (statement timeout) retries", &pgconn.PgError{Code: "57014"}, outcome.Retry},
		{"sqlstate 54000 (index row too large)", &pgconn.PgError{Code: "54000"}, outcome.PermanentFailure},
		{"sqlstate 42P01 (missing table) retries", &pgconn.PgError{Code: "42P01"}, outcome.Retry},
		{"json syntax", fmt.Errorf("decode: %w", syntax), outcome.PermanentFailure},
		{"json type", typeErr, outcome.PermanentFailure},
		{"validation", fmt.Errorf("accept: %w", &validation.Error{Fields: []validation.Field{{Field: "id", Message: "required"}}}), outcome.PermanentFailure},
		{"deadline", context.DeadlineExceeded, outcome.Retry},
		{"plain", errors.New("connection refused"), outcome.Retry},
		{"not found retries unless marked", store.ErrNotFound, outcome.Retry},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, outcome.Classify(tc.err), "%v", tc.err)
		})
	}
}

func TestPermanent(t *testing.T) {
	t.Parallel()
	require.NoError(t, outcome.Permanent(nil))
	base := errors.New("bad")
	p := outcome.Permanent(base)
	require.ErrorIs(t, p, base)
	require.True(t, outcome.IsPermanent(p))
	require.False(t, outcome.IsPermanent(base))
	require.Same(t, p, outcome.Permanent(p), "marking twice wraps once")
	require.Equal(t, "permanent: bad", p.Error())
}

func TestClassString(t *testing.T) {
	t.Parallel()
	require.Equal(t, "done", outcome.AlreadyDone.String())
	require.Equal(t, "retry", outcome.Retry.String())
	require.Equal(t, "permanent", outcome.PermanentFailure.String())
}
