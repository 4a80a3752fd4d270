package ratings

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/events"
	"fundigo/pkg/tasks"
	"fundigo/pkg/tasks/taskstest"
)

// countingMux registers the ratings handlers behind a counter per task type.
func countingMux(d Deps) (*asynq.ServeMux, *sync.Map) {
	counts := &sync.Map{}
	mux := asynq.NewServeMux()
	mux.Use(func(next asynq.Handler) asynq.Handler {
		return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
			v, _ := counts.LoadOrStore(t.Type(), new(atomic.Int64))
			v.(*atomic.Int64).Add(1)
			return next.ProcessTask(ctx, t)
		})
	})
	if err := Register(mux, d); err != nil {
		panic(err)
	}
	return mux, counts
}

func count(m *sync.Map, typ string) int64 {
	v, ok := m.Load(typ)
	if !ok {
		return 0
	}
	return v.(*atomic.Int64).Load()
}

// A burst of 100 reviews of one technician, delivered concurrently, gives
// exactly one recompute, which sees all 100 reviews and publishes one event.
func TestBurstOfReviewsGivesOneRecompute(t *testing.T) {
	t.Parallel()
	b := setup(t)
	base := time.Now()
	b.deps.Rating.NowFunc = func() time.Time { return base } // the whole burst inside one debounce window
	handle := handleReviewCreated(b.deps)

	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- handle(context.Background(), events.ReviewCreated{
				JobID: events.ExternalID(fmt.Sprintf("job-%d", i)), TechnicianID: "tech-burst",
				CustomerID: "cust", Rating: 1 + i%5,
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	insp := taskstest.Inspector(t)
	scheduled, err := insp.ListScheduledTasks(b.deps.Rating.Queues.Default)
	require.NoError(t, err)
	require.Len(t, scheduled, 1, "one debounced task for the burst")
	require.Equal(t, tasks.TypeRatingsRecomputeTechnician, scheduled[0].Type)

	mux, counts := countingMux(b.deps)
	taskstest.Serve(t, b.deps.Rating.Queues, mux)
	ratings := b.deps.Rating.Store()
	require.Eventually(t, func() bool {
		r, err := ratings.Get(context.Background(), "tech-burst")
		return err == nil && r.Count == 100
	}, 10*time.Second, 50*time.Millisecond)
	require.Eventually(t, func() bool {
		info, err := insp.GetQueueInfo(b.deps.Rating.Queues.Default)
		return err == nil && info.Size == 0
	}, 10*time.Second, 50*time.Millisecond)
	require.Equal(t, int64(1), count(counts, tasks.TypeRatingsRecomputeTechnician))
	require.Equal(t, 1, b.outboxCount(t, "tech-burst"))

	// A later review (next window) schedules a new recompute.
	base = base.Add(2 * b.deps.Rating.Config.Debounce)
	require.NoError(t, handle(context.Background(), events.ReviewCreated{
		JobID: "job-late", TechnicianID: "tech-burst", CustomerID: "cust", Rating: 5,
	}))
	require.Eventually(t, func() bool {
		r, err := ratings.Get(context.Background(), "tech-burst")
		return err == nil && r.Count == 101
	}, 10*time.Second, 50*time.Millisecond)
	require.Equal(t, int64(2), count(counts, tasks.TypeRatingsRecomputeTechnician))
	require.Equal(t, 2, b.outboxCount(t, "tech-burst"))
}

func TestDebounceTaskIDs(t *testing.T) {
	t.Parallel()
	w := 5 * time.Second
	t0 := time.Unix(1_700_000_000, 0) // a multiple of 5 s
	id1, at1 := tasks.RecomputeTechnicianTaskID("x", t0, w)
	id2, at2 := tasks.RecomputeTechnicianTaskID("x", t0.Add(w-time.Nanosecond), w)
	id3, _ := tasks.RecomputeTechnicianTaskID("x", t0.Add(w), w)
	id4, _ := tasks.RecomputeTechnicianTaskID("y", t0, w)
	require.Equal(t, id1, id2)
	require.Equal(t, at1, at2)
	require.Equal(t, t0.Add(w+time.Second), at1, "end of window plus grace")
	require.NotEqual(t, id1, id3)
	require.NotEqual(t, id1, id4)
}
