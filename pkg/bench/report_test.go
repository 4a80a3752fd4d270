package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestReportRatiosTargetsAndOutput(t *testing.T) {
	t.Parallel()
	r := NewReport("tasks", Options{Concurrency: 64, Duration: 10 * time.Second}, Machine{CPUs: 2, Go: "go1.26"}, time.Unix(0, 0))
	r.Add(Result{Name: "baseline.asynq_noop", Throughput: 1000, Ops: 10000, Latency: &Latency{P50: time.Millisecond, P99: 5 * time.Millisecond}})
	r.Add(Result{Name: "tasks.asynq_noop", Throughput: 950, Ops: 9500, Latency: &Latency{P99: 6 * time.Millisecond},
		Baseline: "baseline.asynq_noop", Target: &Target{MinRatio: 0.9}})
	r.Add(Result{Name: "tasks.amqp_roundtrip", Throughput: 800, Ops: 8000, Errors: 2, FirstError: "nacked",
		Baseline: "baseline.asynq_noop", Target: &Target{MinRatio: 0.9, MaxP99: 20 * time.Millisecond}})
	r.Add(Result{Name: "orphan", Throughput: 1, Baseline: "not.there"})

	got, ok := r.Get("tasks.asynq_noop")
	require.True(t, ok)
	require.InDelta(t, 0.95, got.Ratio, 1e-9)
	require.Equal(t, "met", got.Verdict)
	missed, _ := r.Get("tasks.amqp_roundtrip")
	require.Equal(t, "missed: p99 no latency > 20ms; ratio 0.80 < 0.90; 2 errors", missed.Verdict)
	orphan, _ := r.Get("orphan")
	require.Zero(t, orphan.Ratio, "no ratio against a baseline that was not measured")

	var table bytes.Buffer
	require.NoError(t, r.WriteTable(&table))
	for _, want := range []string{"fundigo bench tasks", "concurrency 64", "baseline.asynq_noop", "0.95× baseline.asynq_noop",
		"tasks.asynq_noop target ≥ 90% of baseline: met", "tasks.amqp_roundtrip first error: nacked", "1.00ms", "5.00ms"} {
		require.Contains(t, table.String(), want)
	}

	var js bytes.Buffer
	require.NoError(t, r.WriteJSON(&js))
	var decoded struct {
		Scenario string `json:"scenario"`
		Results  []struct {
			Name    string  `json:"name"`
			Ratio   float64 `json:"ratio"`
			Verdict string  `json:"verdict"`
			Latency *struct {
				P99 float64 `json:"p99_ms"`
			} `json:"latency"`
		} `json:"results"`
	}
	require.NoError(t, json.Unmarshal(js.Bytes(), &decoded))
	require.Equal(t, "tasks", decoded.Scenario)
	require.Len(t, decoded.Results, 4)
	require.InDelta(t, 0.95, decoded.Results[1].Ratio, 1e-9)
	require.InDelta(t, 6.0, decoded.Results[1].Latency.P99, 1e-9)
}

func TestTargetRate(t *testing.T) {
	t.Parallel()
	tg := Target{MinRate: 10000, MaxP99: 20 * time.Millisecond}
	require.Equal(t, "≥ 10000/s, p99 ≤ 20ms", tg.String())
	require.Equal(t, "met", tg.Check(Result{Throughput: 12000, Latency: &Latency{P99: 19 * time.Millisecond}}))
	require.Equal(t, "missed: 9000/s < 10000/s", tg.Check(Result{Throughput: 9000, Latency: &Latency{P99: 19 * time.Millisecond}}))
}

func TestTimedAndDrain(t *testing.T) {
	t.Parallel()
	r := Timed("x", 500, 2*time.Second)
	require.InDelta(t, 250, r.Throughput, 1e-9)
	require.Equal(t, "batch", r.Mode)

	res, err := DrainRate(context.Background(), "drain", 100, func(ctx context.Context, handled func()) (func(), error) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			for range 100 {
				handled()
			}
			<-ctx.Done()
		}()
		return func() { <-done }, nil
	})
	require.NoError(t, err)
	require.EqualValues(t, 100, res.Ops)
	_, err = DrainRate(context.Background(), "empty", 0, nil)
	require.Error(t, err)
}

func TestWaiters(t *testing.T) {
	t.Parallel()
	var w Waiters
	ch := w.Add("a")
	require.False(t, w.Done("b"), "unknown ids are ignored")
	require.True(t, w.Done("a"))
	require.NoError(t, w.Wait(context.Background(), "a", ch))
	require.False(t, w.Done("a"), "a second delivery of the same id finds no waiter")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ch = w.Add("c")
	require.ErrorIs(t, w.Wait(ctx, "c", ch), context.Canceled)
	require.False(t, w.Done("c"), "a waiter that gave up is forgotten")
}

func TestCPUMeter(t *testing.T) {
	t.Parallel()
	m := StartCPU()
	for processCPU() == m.start { //nolint:revive // burn CPU until the counter moves
	}
	r := Result{Ops: 4}
	m.Stop(&r)
	require.Positive(t, r.CPU)
	require.Equal(t, r.CPU/4, r.CPUPerOp)
	empty := Result{}
	StartCPU().Stop(&empty)
	require.Zero(t, empty.CPUPerOp, "no operations, no per-operation cost")
}
