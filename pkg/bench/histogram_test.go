package bench

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestHistogramPercentiles(t *testing.T) {
	t.Parallel()
	h := newHistogram()
	// 1 ms … 1000 ms, one each, recorded in a scrambled order.
	for i := range 1000 {
		v := (i*7919)%1000 + 1
		h.record(time.Duration(v) * time.Millisecond)
	}
	l := h.latency()
	require.NotNil(t, l)
	within := func(want, got time.Duration) {
		t.Helper()
		require.InEpsilon(t, float64(want), float64(got), 0.001, "want %s got %s", want, got)
	}
	within(500*time.Millisecond, l.P50)
	within(900*time.Millisecond, l.P90)
	within(990*time.Millisecond, l.P99)
	within(1000*time.Millisecond, l.Max)
	within(500500*time.Microsecond, l.Mean)
	require.EqualValues(t, 1000, h.count())
}

func TestHistogramClampsAndMerges(t *testing.T) {
	t.Parallel()
	a, b := newHistogram(), newHistogram()
	a.record(0)             // below 1 µs: counted as 1 µs
	b.record(time.Hour)     // above 5 min: counted as 5 min
	b.record(2 * time.Hour) // likewise
	a.merge(b)
	l := a.latency()
	require.EqualValues(t, 3, a.count())
	require.InEpsilon(t, float64(5*time.Minute), float64(l.Max), 0.001)
	require.Equal(t, time.Microsecond, time.Duration(a.h.Min())*time.Microsecond)
}

func TestHistogramEmptyHasNoLatency(t *testing.T) {
	t.Parallel()
	require.Nil(t, newHistogram().latency())
}

func TestLatencyJSONInMilliseconds(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(Latency{P50: 1500 * time.Microsecond, P90: 2 * time.Millisecond, P99: 20 * time.Millisecond, Max: time.Second, Mean: time.Millisecond})
	require.NoError(t, err)
	require.JSONEq(t, `{"p50_ms":1.5,"p90_ms":2,"p99_ms":20,"max_ms":1000,"mean_ms":1}`, string(b))
}
