package tasks

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPermanentIsClassified(t *testing.T) {
	t.Parallel()
	base := errors.New("bad payload")
	err := Permanent(base)
	require.True(t, IsPermanent(err))
	require.ErrorIs(t, err, base)
	require.False(t, IsPermanent(base))
	require.NoError(t, Permanent(nil))
}

func TestRetryDelayGrowsAndIsCapped(t *testing.T) {
	t.Parallel()
	for n := 0; n < 20; n++ {
		d := RetryDelay(n, nil, nil)
		ceiling := time.Second << min(n, 9)
		ceiling = min(ceiling, 5*time.Minute)
		require.GreaterOrEqual(t, d, ceiling/2, "attempt %d", n)
		require.LessOrEqual(t, d, ceiling, "attempt %d", n)
	}
}

func TestQueues(t *testing.T) {
	t.Parallel()
	q := NewQueues("x:")
	require.Equal(t, []string{"x:critical", "x:default", "x:low"}, q.All())
	require.Equal(t, 6, q.Priorities()["x:critical"])
}
