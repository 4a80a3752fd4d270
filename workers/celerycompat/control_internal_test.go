package celerycompat

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/celery"
)

// TestControlCommandForUs is kombu's Node.handle_message rule: destination
// first, then pattern under its matcher, else everyone.
func TestControlCommandForUs(t *testing.T) {
	t.Parallel()
	const host = "fundigo@web-3"
	for _, tc := range []struct {
		name string
		cmd  controlCommand
		want bool
	}{
		{"broadcast", controlCommand{}, true},
		{"destination names us", controlCommand{Destination: []string{"celery@py-1", host}}, true},
		{"destination names others", controlCommand{Destination: []string{"celery@py-1"}}, false},
		{"destination wins over pattern", controlCommand{Destination: []string{"celery@py-1"}, Pattern: "*", Matcher: "glob"}, false},
		{"glob matches", controlCommand{Pattern: "fundigo@*", Matcher: "glob"}, true},
		{"glob does not match", controlCommand{Pattern: "celery@*", Matcher: "glob"}, false},
		{"pcre anchored at the start", controlCommand{Pattern: "fundigo@web-\\d", Matcher: "pcre"}, true},
		{"pcre not found at the start", controlCommand{Pattern: "web", Matcher: "pcre"}, false},
		{"unknown matcher", controlCommand{Pattern: "fundigo@web-3", Matcher: "exact"}, false},
		{"pattern without matcher is a broadcast", controlCommand{Pattern: "celery@*"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, tc.cmd.forUs(host))
		})
	}
}

func TestRevokeTaskIDs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		raw  string
		want []string
	}{
		{`"a"`, []string{"a"}},
		{`["a","b"]`, []string{"a", "b"}},
		{`""`, nil},
		{`[]`, nil},
		{`["a",""]`, nil},
		{`null`, nil},
		{`42`, nil},
	} {
		ids, err := taskIDs(json.RawMessage(tc.raw))
		if tc.want == nil {
			require.Error(t, err, tc.raw)
			continue
		}
		require.NoError(t, err, tc.raw)
		require.Equal(t, tc.want, ids)
	}
}

// TestWorkerStateRevoke: revoked ids expire after RevokeExpires and at most
// RevokesMax are kept, the oldest going first; terminate cancels only the
// running handler of a revoked id.
func TestWorkerStateRevoke(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newWorkerState(now)
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	r := s.begin(&delivery{}, &celery.Message{ID: "running", Task: "tests.slow"}, now, cancel)

	require.Empty(t, s.revoke([]string{"queued"}, false, now))
	require.True(t, s.isRevoked("queued", now))
	require.False(t, s.isRevoked("queued", now.Add(RevokeExpires+time.Second)), "expired")
	require.NoError(t, ctx.Err(), "a revoke without terminate leaves running handlers alone")

	require.Equal(t, []string{"running"}, s.revoke([]string{"running", "other"}, true, now))
	require.ErrorIs(t, context.Cause(ctx), errTerminated)
	s.end(r)
	require.Empty(t, s.running())
	require.Equal(t, map[string]int64{"tests.slow": 1}, s.totals())

	ids := make([]string, RevokesMax)
	for i := range ids {
		ids[i] = "bulk-" + time.Duration(i).String()
	}
	s.revoke(ids, false, now.Add(time.Minute))
	require.Len(t, s.revoked, RevokesMax, "capped")
	require.False(t, s.isRevoked("queued", now.Add(time.Minute)), "the oldest went first")
	require.True(t, s.isRevoked(ids[len(ids)-1], now.Add(time.Minute)))
}
