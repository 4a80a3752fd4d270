package bench

import (
	"fmt"
	"strings"
	"time"
)

// Result is what one measured run produced: a scenario's figure or a
// baseline's.
type Result struct {
	Name        string        `json:"name"`
	Mode        string        `json:"mode"` // closed, open, or batch (one timed job, no per-operation latency)
	Concurrency int           `json:"concurrency"`
	Rate        float64       `json:"rate,omitempty"`
	Ops         int64         `json:"ops"` // successful operations
	Errors      int64         `json:"errors"`
	FirstError  string        `json:"first_error,omitempty"`
	Elapsed     time.Duration `json:"elapsed_ns"`
	Throughput  float64       `json:"ops_per_sec"` // successful operations per second
	Latency     *Latency      `json:"latency,omitempty"`
	// CPU is the CPU time this process (system under test when in-process,
	// and the load generator) used during the phase; CPUPerOp = CPU / Ops.
	CPU      time.Duration `json:"cpu_ns,omitempty"`
	CPUPerOp time.Duration `json:"cpu_per_op_ns,omitempty"`
	// Unit names what one operation is ("webhook", "round trip", "review").
	Unit string `json:"unit,omitempty"`

	// Baseline names the result this one is compared with, Ratio is
	// Throughput / that result's Throughput.
	Baseline string  `json:"baseline,omitempty"`
	Ratio    float64 `json:"ratio,omitempty"`

	// RoundRates is every round's throughput when the report is the
	// Median of several rounds.
	RoundRates []float64 `json:"round_ops_per_sec,omitempty"`

	Target  *Target `json:"target,omitempty"`
	Verdict string  `json:"verdict,omitempty"` // "met", or "missed: <why>"
	Note    string  `json:"note,omitempty"`
}

// Target is a goal from the capacity issue. Zero fields are not checked.
type Target struct {
	MinRate  float64       `json:"min_ops_per_sec,omitempty"`
	MaxP99   time.Duration `json:"max_p99_ns,omitempty"`
	MinRatio float64       `json:"min_ratio,omitempty"`
}

// String is the target as the issue words it, e.g. "≥ 10000/s, p99 ≤ 20ms".
func (t Target) String() string {
	var parts []string
	if t.MinRate > 0 {
		parts = append(parts, fmt.Sprintf("≥ %.0f/s", t.MinRate))
	}
	if t.MaxP99 > 0 {
		parts = append(parts, "p99 ≤ "+t.MaxP99.String())
	}
	if t.MinRatio > 0 {
		parts = append(parts, fmt.Sprintf("≥ %.0f%% of baseline", t.MinRatio*100))
	}
	return strings.Join(parts, ", ")
}

// Check returns "met" or "missed: " and every reason.
func (t Target) Check(r Result) string {
	var missed []string
	if t.MinRate > 0 && r.Throughput < t.MinRate {
		missed = append(missed, fmt.Sprintf("%.0f/s < %.0f/s", r.Throughput, t.MinRate))
	}
	if t.MaxP99 > 0 && (r.Latency == nil || r.Latency.P99 > t.MaxP99) {
		p99 := "no latency"
		if r.Latency != nil {
			p99 = r.Latency.P99.String()
		}
		missed = append(missed, fmt.Sprintf("p99 %s > %s", p99, t.MaxP99))
	}
	if t.MinRatio > 0 && r.Ratio < t.MinRatio {
		missed = append(missed, fmt.Sprintf("ratio %.2f < %.2f", r.Ratio, t.MinRatio))
	}
	if r.Errors > 0 {
		missed = append(missed, fmt.Sprintf("%d errors", r.Errors))
	}
	if len(missed) == 0 {
		return "met"
	}
	return "missed: " + strings.Join(missed, "; ")
}

// Timed is the Result of one job that processed n items in elapsed (a full
// recompute, draining a queue): throughput only, no per-item latency.
func Timed(name string, n int64, elapsed time.Duration) Result {
	r := Result{Name: name, Mode: "batch", Concurrency: 1, Ops: n, Elapsed: elapsed}
	if elapsed > 0 {
		r.Throughput = float64(n) / elapsed.Seconds()
	}
	return r
}
