package bench

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestMedianOfRounds(t *testing.T) {
	t.Parallel()
	round := func(base, ours float64, p99 time.Duration) *Report {
		r := NewReport("tasks", Options{Concurrency: 8, Count: 10}, Machine{CPUs: 2}, time.Unix(0, 0))
		r.Add(Result{Name: "baseline.x", Throughput: base})
		r.Add(Result{Name: "tasks.x", Throughput: ours, Latency: &Latency{P99: p99}, Baseline: "baseline.x", Target: &Target{MinRatio: 0.9}})
		return r
	}
	// Round 2 hit a noisy neighbour: both figures fell, the ratio held.
	m := Median([]*Report{round(1000, 950, time.Millisecond), round(400, 390, 3*time.Millisecond), round(1100, 980, 2*time.Millisecond)})
	require.Equal(t, 3, m.Rounds)
	require.Len(t, m.Results, 2)
	base, ours := m.Results[0], m.Results[1]
	require.InDelta(t, 1000, base.Throughput, 1e-9)
	require.Equal(t, []float64{1000, 400, 1100}, base.RoundRates)
	require.InDelta(t, 950, ours.Throughput, 1e-9)
	require.Equal(t, time.Millisecond, ours.Latency.P99, "latencies come from the median round")
	// ratios 0.95, 0.975, 0.8909 → median 0.95
	require.InDelta(t, 0.95, ours.Ratio, 1e-9)
	require.Equal(t, "met", ours.Verdict)

	var table bytes.Buffer
	require.NoError(t, m.WriteTable(&table))
	require.Contains(t, table.String(), "median of 3 rounds")
	require.Contains(t, table.String(), "±35%") // (1100-400)/2/1000
}

func TestMedianRecheckVerdictAndSingleRound(t *testing.T) {
	t.Parallel()
	one := NewReport("x", Options{Concurrency: 1, Count: 1}, Machine{}, time.Unix(0, 0))
	require.Same(t, one, Median([]*Report{one}))
	require.Nil(t, Median(nil))

	mk := func(ratioOurs float64) *Report {
		r := NewReport("x", Options{Concurrency: 1, Count: 1}, Machine{}, time.Unix(0, 0))
		r.Add(Result{Name: "b", Throughput: 100})
		r.Add(Result{Name: "o", Throughput: 100 * ratioOurs, Baseline: "b", Target: &Target{MinRatio: 0.9}})
		return r
	}
	m := Median([]*Report{mk(0.95), mk(0.5), mk(0.6)})
	o, _ := m.Get("o")
	require.InDelta(t, 0.6, o.Ratio, 1e-9)
	require.Equal(t, "missed: ratio 0.60 < 0.90", o.Verdict)
}
