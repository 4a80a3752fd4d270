package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/store"
)

// doubler records each batch it runs and answers 2×item, failing odd items.
type doubler struct {
	mu      sync.Mutex
	batches [][]int
}

func (d *doubler) run(_ context.Context, items []int) ([]int, []error) {
	d.mu.Lock()
	d.batches = append(d.batches, append([]int(nil), items...))
	d.mu.Unlock()
	out, errs := make([]int, len(items)), make([]error, len(items))
	for i, v := range items {
		out[i] = 2 * v
		if v%2 == 1 {
			errs[i] = errors.New("odd")
		}
	}
	return out, errs
}

func doAll(g *store.Group[int, int], n int) ([]int, []error) {
	out, errs := make([]int, n), make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { out[i], errs[i] = g.Do(context.Background(), i) })
	}
	wg.Wait()
	return out, errs
}

func TestGroupRunsConcurrentCallsTogetherEachWithItsOwnResult(t *testing.T) {
	t.Parallel()
	d := &doubler{}
	g := &store.Group[int, int]{Window: 200 * time.Millisecond, MaxBatch: 1000, Run: d.run}
	out, errs := doAll(g, 50)
	for i := range 50 {
		require.Equal(t, 2*i, out[i])
		if i%2 == 1 {
			require.EqualError(t, errs[i], "odd")
		} else {
			require.NoError(t, errs[i])
		}
	}
	require.Less(t, len(d.batches), 50, "calls were grouped")
	seen := 0
	for _, b := range d.batches {
		seen += len(b)
	}
	require.Equal(t, 50, seen, "every item ran exactly once")
}

func TestGroupWithoutWindowRunsEachCallAlone(t *testing.T) {
	t.Parallel()
	d := &doubler{}
	g := &store.Group[int, int]{Run: d.run}
	_, errs := doAll(g, 10)
	require.Len(t, d.batches, 10)
	require.NoError(t, errs[4])
}

func TestGroupClosesAFullBatchWithoutWaitingForTheWindow(t *testing.T) {
	t.Parallel()
	d := &doubler{}
	g := &store.Group[int, int]{Window: time.Hour, MaxBatch: 5, Run: d.run}
	_, errs := doAll(g, 10) // would hang for an hour if full batches waited
	require.NoError(t, errs[0])
	require.Len(t, d.batches, 2)
}

func TestGroupFailsEveryItemOfARunWithTheWrongShape(t *testing.T) {
	t.Parallel()
	g := &store.Group[int, int]{Window: 10 * time.Millisecond, Run: func(context.Context, []int) ([]int, []error) {
		return nil, nil // a broken Run: no answer must not read as success
	}}
	_, errs := doAll(g, 3)
	for _, err := range errs {
		require.ErrorContains(t, err, "0 results and 0 errors")
	}
}

func TestGroupCallerMayLeaveButItsItemStillRuns(t *testing.T) {
	t.Parallel()
	var ran atomic.Int32
	var runCtxErr atomic.Value
	release := make(chan struct{})
	g := &store.Group[int, int]{Window: time.Millisecond, Run: func(ctx context.Context, items []int) ([]int, []error) {
		<-release
		runCtxErr.Store(fmt.Sprint(ctx.Err())) // before ran: the test reads it once ran is set
		ran.Add(int32(len(items)))
		return make([]int, len(items)), make([]error, len(items))
	}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { _, err := g.Do(ctx, 1); done <- err }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	close(release)
	require.Eventually(t, func() bool { return ran.Load() == 1 }, 5*time.Second, time.Millisecond)
	require.Equal(t, "<nil>", runCtxErr.Load(), "the batch runs detached from its leader's cancellation")
}
