package rating

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// A full recompute killed between batches resumes from its last finished
// batch, processes every technician exactly once and ends with the
// reference numbers; a rerun changes nothing and publishes nothing.
func TestRecomputeAllResumesAfterKill(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.seed(t, 11, 400, 60) // 60 technicians, batches of 7 → 9 batches

	ctx, kill := context.WithCancel(context.Background())
	d := b.deps
	d.AfterBatchFunc = func(p Progress) {
		if p.Batches == 4 {
			kill()
		}
	}
	var reports []Progress
	_, err := RecomputeAll(ctx, d, "attempt-1", func(p Progress) { reports = append(reports, p) })
	require.ErrorIs(t, err, context.Canceled)
	require.Len(t, reports, 5) // start + 4 batches
	require.Equal(t, 4, reports[4].Batches)
	require.Equal(t, int64(28), reports[4].ProcessedTechnicians)
	require.Greater(t, reports[4].Percent, 0.0)
	require.Less(t, reports[4].Percent, 100.0)

	run, err := b.deps.Store().LatestRun(context.Background())
	require.NoError(t, err)
	require.Equal(t, "running", run.Status)
	require.Equal(t, 4, run.Batches)

	p, err := RecomputeAll(context.Background(), b.deps, "attempt-2", nil)
	require.NoError(t, err)
	require.Equal(t, StatusFinished, p.Status)
	require.True(t, p.Resumed)
	require.Equal(t, run.ID, p.RunID)
	require.Equal(t, 9, p.Batches)
	require.Equal(t, int64(60), p.ProcessedTechnicians, "no technician twice")
	require.Equal(t, int64(400), p.ProcessedReviews)
	// Batches that committed beyond the cursor before the kill (3 run in
	// parallel) are redone and find nothing to change, so "changed" may
	// count fewer; but every technician has exactly one event.
	require.GreaterOrEqual(t, p.ChangedTechnicians, int64(28))
	require.LessOrEqual(t, p.ChangedTechnicians, int64(60))
	require.Equal(t, 100.0, p.Percent)
	b.requireReference(t)
	require.Equal(t, 60, b.outboxCount(t, ""), "one rating.updated per technician, none twice")
	var distinct int
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT count(DISTINCT convert_from(payload, 'UTF8')::jsonb->>'technician_id') FROM outbox`).Scan(&distinct))
	require.Equal(t, 60, distinct)

	// Nothing changed since: a new run publishes no event.
	p, err = RecomputeAll(context.Background(), b.deps, "attempt-3", nil)
	require.NoError(t, err)
	require.False(t, p.Resumed)
	require.Equal(t, int64(0), p.ChangedTechnicians)
	require.Equal(t, 60, b.outboxCount(t, ""))
}

func TestRecomputeAllBusyWhileLocked(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.seed(t, 12, 20, 5)
	lock, ok, err := b.deps.Store().LockRecompute(context.Background())
	require.NoError(t, err)
	require.True(t, ok)
	defer lock.Unlock(context.Background())
	p, err := RecomputeAll(context.Background(), b.deps, "x", nil)
	require.NoError(t, err)
	require.Equal(t, StatusBusy, p.Status)
}

// The cached rating is dropped when a recompute changes it.
func TestRecomputeInvalidatesCache(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.seed(t, 14, 10, 1) // tech-000
	_, _, err := RecomputeTechnician(ctx, b.deps, "tech-000")
	require.NoError(t, err)

	cache, ratings := b.deps.Cache, b.deps.Store()
	first, hit, err := cache.Rating(ctx, "tech-000", ratings.Get)
	require.NoError(t, err)
	require.False(t, hit)
	_, hit, err = cache.Rating(ctx, "tech-000", ratings.Get)
	require.NoError(t, err)
	require.True(t, hit, "second read served from Redis")

	b.seed(t, 15, 3, 1)
	_, changed, err := RecomputeTechnician(ctx, b.deps, "tech-000")
	require.NoError(t, err)
	require.True(t, changed)
	n, err := b.redis.Exists(ctx, cache.RatingKey("tech-000")).Result()
	require.NoError(t, err)
	require.Zero(t, n, "cache entry invalidated")
	after, hit, err := cache.Rating(ctx, "tech-000", ratings.Get)
	require.NoError(t, err)
	require.False(t, hit)
	require.Equal(t, first.Count+3, after.Count)
}
