package bench

import (
	"encoding/json"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latencies are recorded in microseconds from 1 µs to 5 minutes with three
// significant digits: every percentile is within 0.1% of the true value.
const (
	histMin     = 1
	histMax     = int64(5 * time.Minute / time.Microsecond)
	histSigFigs = 3
)

// histogram records latencies. It is not safe for concurrent use: each
// worker owns one and they are merged when the run ends.
type histogram struct{ h *hdrhistogram.Histogram }

func newHistogram() histogram {
	return histogram{h: hdrhistogram.New(histMin, histMax, histSigFigs)}
}

// record adds one latency, clamped into the trackable range.
func (h histogram) record(d time.Duration) {
	us := int64(d / time.Microsecond)
	us = max(us, histMin)
	us = min(us, histMax)
	_ = h.h.RecordValue(us) // cannot fail: clamped into range
}

func (h histogram) merge(o histogram) { h.h.Merge(o.h) }

func (h histogram) count() int64 { return h.h.TotalCount() }

// latency summarises the histogram; nil when nothing was recorded.
func (h histogram) latency() *Latency {
	if h.h.TotalCount() == 0 {
		return nil
	}
	us := func(v int64) time.Duration { return time.Duration(v) * time.Microsecond }
	return &Latency{
		P50:  us(h.h.ValueAtQuantile(50)),
		P90:  us(h.h.ValueAtQuantile(90)),
		P99:  us(h.h.ValueAtQuantile(99)),
		Max:  us(h.h.Max()),
		Mean: time.Duration(h.h.Mean() * float64(time.Microsecond)),
	}
}

// Latency is the distribution of successful operations' latencies.
// Percentiles are upper bounds of their HDR bucket (within 0.1%).
type Latency struct {
	P50, P90, P99, Max, Mean time.Duration
}

// MarshalJSON writes milliseconds, which is what readers of a report want.
func (l Latency) MarshalJSON() ([]byte, error) {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return json.Marshal(struct {
		P50  float64 `json:"p50_ms"`
		P90  float64 `json:"p90_ms"`
		P99  float64 `json:"p99_ms"`
		Max  float64 `json:"max_ms"`
		Mean float64 `json:"mean_ms"`
	}{ms(l.P50), ms(l.P90), ms(l.P99), ms(l.Max), ms(l.Mean)})
}
