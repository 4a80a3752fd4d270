package rating_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/events"
	"fundigo/pkg/rating"
	"fundigo/pkg/store"
	"fundigo/pkg/store/storetest"
)

// refRating is the independently computed expectation for one technician.
type refRating struct {
	n, sum     int64
	dist       [5]int
	categories []string
}

// roundRat4 rounds a non-negative rational half away from zero to 4
// decimals and formats it, e.g. 13/3 -> "4.3333", 1/8 -> "0.1250".
func roundRat4(x *big.Rat) string {
	scaled := new(big.Rat).Mul(x, big.NewRat(10000, 1))
	// floor(scaled + 1/2) for scaled >= 0
	num := new(big.Int).Mul(scaled.Num(), big.NewInt(2))
	num.Add(num, scaled.Denom())
	q := new(big.Int).Quo(num, new(big.Int).Mul(scaled.Denom(), big.NewInt(2)))
	return new(big.Rat).SetFrac(q, big.NewInt(10000)).FloatString(4)
}

func TestRoundRat4(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		num, den int64
		want     string
	}{
		{13, 3, "4.3333"}, {14, 3, "4.6667"}, {1, 8, "0.1250"}, {5, 1, "5.0000"},
		{123455, 100000, "1.2346"}, {123445, 100000, "1.2345"}, {1, 20000, "0.0001"}, {1, 20001, "0.0000"},
	} {
		require.Equal(t, tc.want, roundRat4(big.NewRat(tc.num, tc.den)), "%d/%d", tc.num, tc.den)
	}
}

func bayes(m string, c int64, ref refRating) string {
	mr, ok := new(big.Rat).SetString(m)
	if !ok {
		panic("bad mean " + m)
	}
	num := new(big.Rat).Mul(mr, big.NewRat(c, 1))
	num.Add(num, big.NewRat(ref.sum, 1))
	return roundRat4(num.Quo(num, big.NewRat(c+ref.n, 1)))
}

type ratingsBundle struct {
	pool    *pgxpool.Pool
	reviews *rating.Store
	ratings *rating.Store
	ref     map[string]*refRating
	all     refRating
}

func setupRatings(t *testing.T) *ratingsBundle {
	t.Helper()
	pool := storetest.NewPool(t)
	return &ratingsBundle{
		pool:    pool,
		reviews: rating.NewStore(pool),
		ratings: rating.NewStore(pool),
		ref:     map[string]*refRating{},
	}
}

var testCategories = []string{"", "plumbing", "electrical", "carpentry", "Zeta", "ämbar"}

// addReviews inserts n random reviews over techs technicians and updates
// the reference.
func (b *ratingsBundle) addReviews(t *testing.T, rng *rand.Rand, prefix string, n, techs int) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		r := rating.Review{
			JobID:        fmt.Sprintf("%s-job-%d", prefix, i),
			TechnicianID: fmt.Sprintf("tech-%03d", rng.IntN(techs)),
			CustomerID:   fmt.Sprintf("cust-%d", rng.IntN(50)),
			Rating:       1 + rng.IntN(5),
			Category:     testCategories[rng.IntN(len(testCategories))],
		}
		_, err := b.reviews.InsertReview(ctx, r)
		require.NoError(t, err)
		b.record(r)
	}
}

func (b *ratingsBundle) record(r rating.Review) {
	ref := b.ref[r.TechnicianID]
	if ref == nil {
		ref = &refRating{categories: []string{}}
		b.ref[r.TechnicianID] = ref
	}
	ref.n++
	ref.sum += int64(r.Rating)
	ref.dist[r.Rating-1]++
	if r.Category != "" && !slices.Contains(ref.categories, r.Category) {
		ref.categories = append(ref.categories, r.Category)
		slices.Sort(ref.categories) // bytewise, as COLLATE "C"
	}
	b.all.n++
	b.all.sum += int64(r.Rating)
}

func (b *ratingsBundle) globalMean() string {
	return roundRat4(big.NewRat(b.all.sum, b.all.n))
}

// requireMatchesReference checks every technician against the reference
// computed in Go with global mean m and prior weight c.
func (b *ratingsBundle) requireMatchesReference(t *testing.T, m string, c int64) {
	t.Helper()
	ctx := context.Background()
	for id, ref := range b.ref {
		got, err := b.ratings.Get(ctx, id)
		require.NoError(t, err, id)
		require.Equal(t, int(ref.n), got.Count, id)
		require.Equal(t, roundRat4(big.NewRat(ref.sum, ref.n)), fmt.Sprintf("%.4f", got.Average), id)
		require.Equal(t, bayes(m, c, *ref), fmt.Sprintf("%.4f", got.BayesianAverage), id)
		d := got.Distribution
		require.Equal(t, ref.dist, [5]int{d.One, d.Two, d.Three, d.Four, d.Five}, id)
		require.Equal(t, ref.categories, got.Categories, id)
	}
}

// runAll runs a full recompute to the end and returns the run.
func runAll(t *testing.T, r *rating.Store, c, batch int) rating.RecomputeRun {
	t.Helper()
	ctx := context.Background()
	l, ok, err := r.LockRecompute(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	defer l.Unlock(ctx)
	run, _, err := l.StartOrResume(ctx, "task-1", c, batch)
	require.NoError(t, err)
	for {
		_, done, err := l.RunBatch(ctx, &run)
		require.NoError(t, err)
		if done {
			break
		}
	}
	require.NoError(t, l.Finish(ctx, &run, nil))
	return run
}

func (b *ratingsBundle) outboxCount(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(context.Background(),
		`SELECT count(*) FROM outbox WHERE routing_key = 'rating.updated'`).Scan(&n))
	return n
}

func (b *ratingsBundle) lastOutboxPayload(t *testing.T) (payload []byte, messageID string) {
	t.Helper()
	require.NoError(t, b.pool.QueryRow(context.Background(),
		`SELECT payload, message_id FROM outbox ORDER BY id DESC LIMIT 1`).Scan(&payload, &messageID))
	return payload, messageID
}

func TestFullRecomputeMatchesReference(t *testing.T) {
	t.Parallel()
	b := setupRatings(t)
	rng := rand.New(rand.NewPCG(1, 2))
	b.addReviews(t, rng, "a", 400, 37)

	run := runAll(t, b.ratings, 10, 5)
	require.Equal(t, b.globalMean(), run.Params.GlobalMean)
	require.Equal(t, int64(len(b.ref)), run.ProcessedTechnicians)
	require.Equal(t, int64(400), run.ProcessedReviews)
	require.Equal(t, int64(len(b.ref)), run.ChangedTechnicians)
	require.Equal(t, 8, run.Batches) // ceil(37/5)
	b.requireMatchesReference(t, run.Params.GlobalMean, 10)
	require.Equal(t, len(b.ref), b.outboxCount(t), "one rating.updated per technician")

	// Nothing changed: a second run changes no row and writes no event.
	run2 := runAll(t, b.ratings, 10, 5)
	require.Equal(t, int64(0), run2.ChangedTechnicians)
	require.Equal(t, len(b.ref), b.outboxCount(t))

	// A different prior weight changes every Bayesian average.
	run3 := runAll(t, b.ratings, 3, 100)
	b.requireMatchesReference(t, run3.Params.GlobalMean, 3)
	require.Equal(t, int64(len(b.ref)), run3.ChangedTechnicians)
}

func TestRecomputeTechnicianPublishesOnlyChanges(t *testing.T) {
	t.Parallel()
	b := setupRatings(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	b.addReviews(t, rng, "a", 60, 4)
	m, err := b.ratings.GlobalMean(ctx) // never refreshed: computed now
	require.NoError(t, err)
	require.Equal(t, b.globalMean(), m)
	p := rating.RatingParams{GlobalMean: m, PriorWeight: 10}

	got, changed, err := b.ratings.RecomputeTechnician(ctx, "tech-001", p)
	require.NoError(t, err)
	require.True(t, changed)
	require.Equal(t, "tech-001", got.TechnicianID)
	require.Equal(t, 1, b.outboxCount(t))

	_, changed, err = b.ratings.RecomputeTechnician(ctx, "tech-001", p)
	require.NoError(t, err)
	require.False(t, changed, "unchanged technician")
	require.Equal(t, 1, b.outboxCount(t), "no event for an unchanged technician")

	// The event carries the new numbers.
	var ev events.RatingUpdated
	payload, messageID := b.lastOutboxPayload(t)
	require.NoError(t, json.Unmarshal(payload, &ev))
	require.Equal(t, messageID, ev.MessageID(), "the SQL writes the event's own message id")
	require.Equal(t, got.Count, ev.Count)
	require.Equal(t, got.BayesianAverage, ev.BayesianAverage)
	require.Equal(t, got.Distribution, ev.Distribution)
	require.WithinDuration(t, got.UpdatedAt, ev.UpdatedAt, time.Millisecond)

	_, changed, err = b.ratings.RecomputeTechnician(ctx, "nobody", p)
	require.NoError(t, err)
	require.False(t, changed)
	_, err = b.ratings.Get(ctx, "nobody")
	require.ErrorIs(t, err, store.ErrNotFound)
}

func TestRecomputeResumesAfterCrash(t *testing.T) {
	t.Parallel()
	b := setupRatings(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 6))
	b.addReviews(t, rng, "a", 300, 50)

	l, ok, err := b.ratings.LockRecompute(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	defer l.Unlock(ctx)
	run, resumed, err := l.StartOrResume(ctx, "first", 10, 7)
	require.NoError(t, err)
	require.False(t, resumed)
	for range 3 {
		_, _, err := l.RunBatch(ctx, &run)
		require.NoError(t, err)
	}
	// While the lock is held nobody else can run.
	_, ok, err = b.ratings.LockRecompute(ctx)
	require.NoError(t, err)
	require.False(t, ok)

	// A batch killed mid-statement rolls back and leaves the cursor alone;
	// then the process "dies" without finishing the run.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	cursor := run.Cursor
	_, _, err = l.RunBatch(cctx, &run)
	require.Error(t, err)
	require.Equal(t, cursor, run.Cursor)
	l.Unlock(ctx)

	// Reviews arriving meanwhile are seen by the resumed run if they are
	// after the cursor; the resumed run keeps the run's global mean.
	l2, ok, err := b.ratings.LockRecompute(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	defer l2.Unlock(ctx)
	run2, resumed, err := l2.StartOrResume(ctx, "second", 99, 99)
	require.NoError(t, err)
	require.True(t, resumed)
	require.Equal(t, run.ID, run2.ID)
	require.Equal(t, cursor, run2.Cursor)
	require.Equal(t, 7, run2.BatchSize)
	require.Equal(t, 10, run2.Params.PriorWeight)
	require.Equal(t, int64(21), run2.ProcessedTechnicians)
	for {
		_, done, err := l2.RunBatch(ctx, &run2)
		require.NoError(t, err)
		if done {
			break
		}
	}
	require.NoError(t, l2.Finish(ctx, &run2, nil))
	require.Equal(t, int64(50), run2.ProcessedTechnicians, "no technician processed twice")
	require.Equal(t, int64(300), run2.ProcessedReviews)
	require.Equal(t, 8, run2.Batches) // ceil(50/7): 3 before the crash, 5 after
	b.requireMatchesReference(t, run2.Params.GlobalMean, 10)
	require.Equal(t, 50, b.outboxCount(t))

	latest, err := b.ratings.LatestRun(ctx)
	require.NoError(t, err)
	require.Equal(t, "finished", latest.Status)
	require.Equal(t, 1, latest.Resumes)
}

func TestAdvanceRejectsStaleCursor(t *testing.T) {
	t.Parallel()
	b := setupRatings(t)
	ctx := context.Background()
	b.addReviews(t, rand.New(rand.NewPCG(7, 8)), "a", 30, 10)
	l, ok, err := b.ratings.LockRecompute(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	defer l.Unlock(ctx)
	run, _, err := l.StartOrResume(ctx, "t", 10, 3)
	require.NoError(t, err)
	stale := run
	first, _, err := l.RunBatch(ctx, &run)
	require.NoError(t, err)
	require.Equal(t, int64(3), first.Technicians)
	require.Equal(t, 3, b.outboxCount(t))

	// Advancing from the old cursor again (a second process, or batches
	// out of order) is refused; the run is untouched.
	require.ErrorIs(t, l.Advance(ctx, &stale, first), store.ErrStaleTransition)
	// A batch that does not start at the cursor is refused too.
	require.ErrorIs(t, l.Advance(ctx, &run, rating.BatchResult{After: "tech-009", UpTo: "zzz"}), store.ErrStaleTransition)
	latest, err := b.ratings.LatestRun(ctx)
	require.NoError(t, err)
	require.Equal(t, first.UpTo, latest.Cursor)
	require.Equal(t, 1, latest.Batches)

	// Redoing a committed range is idempotent: nothing changed, no event.
	again, err := b.ratings.RecomputeRange(ctx, first.After, first.UpTo, run.Params)
	require.NoError(t, err)
	require.Equal(t, int64(3), again.Technicians)
	require.Empty(t, again.Changed)
	require.Equal(t, 3, b.outboxCount(t))
}

func TestTopTechnicians(t *testing.T) {
	t.Parallel()
	b := setupRatings(t)
	ctx := context.Background()
	b.addReviews(t, rand.New(rand.NewPCG(9, 10)), "a", 500, 40)
	run := runAll(t, b.ratings, 10, 1000)

	type key struct {
		bayes string
		n     int64
		id    string
	}
	check := func(category string, limit int) {
		var want []key
		for id, ref := range b.ref {
			if category == "" || slices.Contains(ref.categories, category) {
				want = append(want, key{bayes(run.Params.GlobalMean, 10, *ref), ref.n, id})
			}
		}
		slices.SortFunc(want, func(a, b key) int {
			if a.bayes != b.bayes {
				return -cmpStr(a.bayes, b.bayes)
			}
			if a.n != b.n {
				return int(b.n - a.n)
			}
			return cmpStr(a.id, b.id)
		})
		want = want[:min(limit, len(want))]
		got, err := b.ratings.Top(ctx, category, limit)
		require.NoError(t, err)
		require.Len(t, got, len(want))
		for i := range want {
			require.Equal(t, want[i].id, got[i].TechnicianID, "category %q rank %d", category, i)
		}
	}
	check("", 10)
	check("", 100)
	check("plumbing", 5)
	check("ämbar", 100)
	got, err := b.ratings.Top(ctx, "none-such", 10)
	require.NoError(t, err)
	require.Empty(t, got)
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestReviewInsertConflict(t *testing.T) {
	t.Parallel()
	b := setupRatings(t)
	ctx := context.Background()
	r := rating.Review{JobID: "job-1", TechnicianID: "tech-1", CustomerID: "c", Rating: 4, Comment: "ok", Category: "plumbing"}
	first, err := b.reviews.InsertReview(ctx, r)
	require.NoError(t, err)
	require.NotEmpty(t, first.ID)
	require.True(t, first.SameContent(r))

	r.Rating = 1
	existing, err := b.reviews.InsertReview(ctx, r)
	require.ErrorIs(t, err, store.ErrConflict)
	require.Equal(t, first.ID, existing.ID)
	require.False(t, existing.SameContent(r))

	r.JobID, r.Rating = "job-2", 6
	_, err = b.reviews.InsertReview(ctx, r)
	require.Error(t, err, "the CHECK constraint backs the validation")
	require.NotErrorIs(t, err, store.ErrConflict)
}
