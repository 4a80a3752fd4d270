package expo_test

import (
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/expo"
	"fundigo/pkg/expo/exposim"
	"fundigo/pkg/tasks/taskstest"
)

func TestNewRedisLimiterValidates(t *testing.T) {
	t.Parallel()
	_, err := expo.NewRedisLimiter(taskstest.Redis(t), "k", 1)
	require.Error(t, err)
	l, err := expo.NewRedisLimiter(taskstest.Redis(t), "k", 600)
	require.NoError(t, err)
	require.Equal(t, 100, l.MaxBatch())
	l, err = expo.NewRedisLimiter(taskstest.Redis(t), "k", 60)
	require.NoError(t, err)
	require.Equal(t, 30, l.MaxBatch(), "a small ceiling shrinks the burst and the requests")
}

// Two clients (two "processes") share one Redis key: together they never go
// over the ceiling in any one-second window at the simulator.
func TestRedisLimiterSharedCeiling(t *testing.T) {
	t.Parallel()
	const ceiling = 400
	key := taskstest.Prefix(t) + "expo"
	sim := exposim.New(exposim.Options{})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)

	var clients []*expo.Client
	for range 2 {
		lim, err := expo.NewRedisLimiter(taskstest.Redis(t), key, ceiling)
		require.NoError(t, err)
		c, err := expo.NewClient(expo.Config{BaseURL: srv.URL, Limiter: lim})
		require.NoError(t, err)
		clients = append(clients, c)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, c := range clients {
		wg.Go(func() {
			_, errs[i] = c.Send(t.Context(), messages(700, func(j int) string { return tok(i*1000 + j) }))
		})
	}
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])

	st := sim.Stats()
	require.Equal(t, 1400, st.Messages)
	require.LessOrEqual(t, st.MaxPerSecond(), ceiling, "aligned seconds: %v", st.PerSecond)
	require.LessOrEqual(t, st.MaxRequestSize(), 100)

	// Sliding windows too: sort arrival times and look at every window that
	// starts at an arrival.
	var at []time.Time
	for j := range 2000 {
		for _, r := range sim.Received(tok(j)) {
			at = append(at, r.At)
		}
	}
	require.Len(t, at, 1400)
	sort.Slice(at, func(a, b int) bool { return at[a].Before(at[b]) })
	end := 0
	for start := range at {
		for end < len(at) && at[end].Sub(at[start]) < time.Second {
			end++
		}
		require.LessOrEqual(t, end-start, ceiling, "window starting at arrival %d", start)
	}
}
