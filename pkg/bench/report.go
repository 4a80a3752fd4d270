package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the outcome of one `fundigo bench` invocation: the machine, the
// load options and every result, baselines first.
type Report struct {
	Scenario string    `json:"scenario"`
	Started  time.Time `json:"started"`
	Machine  Machine   `json:"machine"`
	Options  struct {
		Concurrency int           `json:"concurrency"`
		Rate        float64       `json:"rate,omitempty"`
		Duration    time.Duration `json:"duration_ns,omitempty"`
		Count       int64         `json:"count,omitempty"`
		Warmup      time.Duration `json:"warmup_ns,omitempty"`
	} `json:"options"`
	// Rounds is how many rounds Median merged (0 or 1: a single round).
	Rounds  int      `json:"rounds,omitempty"`
	Results []Result `json:"results"`
}

// NewReport starts a report for scenario run with opts.
func NewReport(scenario string, opts Options, m Machine, started time.Time) *Report {
	r := &Report{Scenario: scenario, Started: started, Machine: m}
	r.Options.Concurrency = opts.Concurrency
	r.Options.Rate = opts.Rate
	r.Options.Duration = opts.Duration
	r.Options.Count = opts.Count
	r.Options.Warmup = opts.Warmup
	return r
}

// Add appends res. When res names a Baseline already in the report, its
// Ratio is filled in; when it has a Target, its Verdict.
func (r *Report) Add(res Result) {
	if res.Baseline != "" {
		if b, ok := r.Get(res.Baseline); ok && b.Throughput > 0 {
			res.Ratio = res.Throughput / b.Throughput
		}
	}
	if res.Target != nil {
		res.Verdict = res.Target.Check(res)
	}
	r.Results = append(r.Results, res)
}

// Get returns the result called name.
func (r *Report) Get(name string) (Result, bool) {
	for _, res := range r.Results {
		if res.Name == name {
			return res, true
		}
	}
	return Result{}, false
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes the report for a human: a header with the machine and
// the load, one row per result, then targets, errors and notes.
func (r *Report) WriteTable(w io.Writer) error {
	m := r.Machine
	fmt.Fprintf(w, "fundigo bench %s: %s loop, concurrency %d", r.Scenario, modeName(r.Options.Rate), r.Options.Concurrency)
	if r.Options.Rate > 0 {
		fmt.Fprintf(w, ", rate %.0f/s", r.Options.Rate)
	}
	if r.Options.Duration > 0 {
		fmt.Fprintf(w, ", duration %s", r.Options.Duration)
	}
	if r.Options.Count > 0 {
		fmt.Fprintf(w, ", count %d", r.Options.Count)
	}
	if r.Rounds > 1 {
		fmt.Fprintf(w, ", median of %d rounds", r.Rounds)
	}
	fmt.Fprintf(w, "\nmachine: %d CPUs, %.0f GiB, load %s, %s %s/%s; postgres %s, redis %s, rabbitmq %s\n\n",
		m.CPUs, m.MemoryGiB, m.LoadAvg, m.Go, m.OS, m.Arch, m.Postgres, m.Redis, m.RabbitMQ)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "result\tops/s\tspread\tp50\tp90\tp99\tmax\tops\terrors\tcpu/op\tvs baseline\t")
	for _, res := range r.Results {
		lat := []string{"-", "-", "-", "-"}
		if l := res.Latency; l != nil {
			lat = []string{fmtDur(l.P50), fmtDur(l.P90), fmtDur(l.P99), fmtDur(l.Max)}
		}
		ratio := ""
		switch {
		case res.Baseline != "" && res.Ratio > 0:
			ratio = fmt.Sprintf("%.2f× %s", res.Ratio, res.Baseline)
		case res.Baseline != "":
			ratio = "n/a: no " + res.Baseline
		}
		cpu := "-"
		if res.CPUPerOp > 0 {
			cpu = fmtDur(res.CPUPerOp)
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%d\t%d\t%s\t%s\t\n", res.Name, res.Throughput, spread(res),
			strings.Join(lat, "\t"), res.Ops, res.Errors, cpu, ratio)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, res := range r.Results {
		if res.Target != nil {
			fmt.Fprintf(w, "\n%s target %s: %s", res.Name, res.Target, res.Verdict)
		}
		if res.FirstError != "" {
			fmt.Fprintf(w, "\n%s first error: %s", res.Name, res.FirstError)
		}
		if res.Note != "" {
			fmt.Fprintf(w, "\n%s: %s", res.Name, res.Note)
		}
	}
	_, err := fmt.Fprintln(w)
	return err
}

// spread is the range of the rounds' throughputs around the median, as
// "±N%" of the median; "-" for a single round.
func spread(r Result) string {
	if len(r.RoundRates) < 2 || r.Throughput == 0 {
		return "-"
	}
	lo, hi := slices.Min(r.RoundRates), slices.Max(r.RoundRates)
	return fmt.Sprintf("±%.0f%%", 100*(hi-lo)/2/r.Throughput)
}

func modeName(rate float64) string {
	if rate > 0 {
		return "open"
	}
	return "closed"
}

// fmtDur prints a latency with three significant digits in a fitting unit.
func fmtDur(d time.Duration) string {
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d.Nanoseconds())
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	case d < 100*time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	case d < 10*time.Second:
		return fmt.Sprintf("%.0fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
}
