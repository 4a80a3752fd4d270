package bench

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// counter is an operation that counts its calls and the most calls in
// flight at once, and fails every failEvery-th call.
type counter struct {
	calls, inflight, peak atomic.Int64
	failEvery             int64
}

func (c *counter) op(ctx context.Context) error {
	n := c.calls.Add(1)
	in := c.inflight.Add(1)
	defer c.inflight.Add(-1)
	for {
		p := c.peak.Load()
		if in <= p || c.peak.CompareAndSwap(p, in) {
			break
		}
	}
	if c.failEvery > 0 && n%c.failEvery == 0 {
		return errors.New("boom")
	}
	return nil
}

func TestClosedLoopRunsExactlyCount(t *testing.T) {
	t.Parallel()
	c := &counter{failEvery: 10}
	var last Progress
	res, err := Run(context.Background(), "x", Options{Concurrency: 8, Count: 1000, ProgressFunc: func(p Progress) { last = p }}, c.op)
	require.NoError(t, err)
	require.EqualValues(t, 1000, c.calls.Load())
	require.EqualValues(t, 900, res.Ops)
	require.EqualValues(t, 100, res.Errors)
	require.Equal(t, "boom", res.FirstError)
	require.Equal(t, "closed", res.Mode)
	require.Equal(t, "x", res.Name)
	require.LessOrEqual(t, c.peak.Load(), int64(8))
	require.NotNil(t, res.Latency)
	require.Positive(t, res.Throughput)
	require.EqualValues(t, 1000, last.Done, "the final progress report covers every operation")
	require.EqualValues(t, 100, last.Errors)
}

func TestOpenLoopRunsExactlyCountWithinConcurrency(t *testing.T) {
	t.Parallel()
	c := &counter{}
	release := make(chan struct{})
	var entered atomic.Int64
	slow := func(ctx context.Context) error {
		// The first four operations hold every worker until all four are
		// in flight: the schedule backs up behind them and must still
		// deliver exactly Count operations.
		if n := entered.Add(1); n <= 4 {
			if n == 4 {
				close(release)
			}
			<-release
		}
		return c.op(ctx)
	}
	res, err := Run(context.Background(), "open", Options{Concurrency: 4, Rate: 100000, Count: 500}, slow)
	require.NoError(t, err)
	require.EqualValues(t, 500, c.calls.Load())
	require.EqualValues(t, 500, res.Ops)
	require.Equal(t, "open", res.Mode)
	require.LessOrEqual(t, c.peak.Load(), int64(4))
}

func TestDurationBoundsTheRun(t *testing.T) {
	t.Parallel()
	for _, opts := range []Options{
		{Concurrency: 2, Duration: 250 * time.Millisecond},
		{Concurrency: 2, Rate: 1000, Duration: 250 * time.Millisecond},
	} {
		c := &counter{}
		res, err := Run(context.Background(), "d", opts, c.op)
		require.NoError(t, err)
		require.Positive(t, res.Ops)
		require.Equal(t, c.calls.Load(), res.Ops)
	}
}

func TestWarmupIsNotRecorded(t *testing.T) {
	t.Parallel()
	c := &counter{}
	res, err := Run(context.Background(), "w", Options{Concurrency: 2, Count: 50, Warmup: 5 * time.Millisecond}, c.op)
	require.NoError(t, err)
	require.EqualValues(t, 50, res.Ops)
	require.GreaterOrEqual(t, c.calls.Load(), int64(52), "warmup operations ran but were not counted")
}

// A warmup shorter than it takes to start a goroutine still runs one
// operation per worker (closed loop) or per worker's worth of schedule (open
// loop): on a loaded machine the warmup timer fired before any worker ran,
// and TestWarmupIsNotRecorded saw 50 calls, not more.
func TestWarmupRunsEveryWorkerOnceHoweverShort(t *testing.T) {
	t.Parallel()
	for name, o := range map[string]Options{
		"closed": {Concurrency: 3, Count: 5, Warmup: time.Nanosecond},
		"open":   {Concurrency: 3, Rate: 1000, Count: 5, Warmup: time.Nanosecond},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := &counter{}
			res, err := Run(context.Background(), "w", o, c.op)
			require.NoError(t, err)
			require.EqualValues(t, 5, res.Ops)
			require.GreaterOrEqual(t, c.calls.Load(), int64(8), "3 warmup operations and 5 measured ones")
		})
	}
}

func TestTimeoutFailsAStuckOperation(t *testing.T) {
	t.Parallel()
	res, err := Run(context.Background(), "t", Options{Count: 2, Timeout: time.Millisecond}, func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	})
	require.NoError(t, err)
	require.EqualValues(t, 2, res.Errors)
	require.Zero(t, res.Ops)
	require.Nil(t, res.Latency)
	require.Contains(t, res.FirstError, "deadline exceeded")
}

func TestAbortedRunReturnsContextError(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	var n atomic.Int64
	_, err := Run(ctx, "a", Options{Concurrency: 2, Duration: time.Hour}, func(context.Context) error {
		if n.Add(1) == 100 {
			cancel()
		}
		return nil
	})
	require.ErrorIs(t, err, context.Canceled)
}

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	for name, o := range map[string]Options{
		"unbounded":        {Concurrency: 1},
		"zero concurrency": {Concurrency: -1, Count: 1},
		"negative rate":    {Concurrency: 1, Rate: -1, Count: 1},
		"negative count":   {Concurrency: 1, Count: -1, Duration: time.Second},
	} {
		require.Error(t, o.Validate(), name)
		_, err := Run(context.Background(), name, o, func(context.Context) error { return nil })
		require.Error(t, err, name)
	}
	require.NoError(t, Options{Concurrency: 1, Count: 1}.Validate())
}
