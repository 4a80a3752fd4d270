// Package health is the readiness of one role: each dependency is checked
// concurrently and is either required (the role cannot work without it;
// unreachable means 503) or optional (unreachable is reported as degraded,
// with 200). The same checks feed fundigo_dependency_up at scrape time.
package health

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Results of one check, as shown in the /readyz body.
const (
	OK          = "ok"
	Degraded    = "degraded"    // an optional dependency is unreachable
	Unavailable = "unavailable" // a required dependency is unreachable
)

// Check is one dependency of a role.
type Check struct {
	Name string
	Ping func(ctx context.Context) error
	// Required: the role cannot do its work without it.
	Required bool
}

// Report is the /readyz body.
type Report struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

// Readiness runs a role's checks; it is an http.Handler (/readyz) and a
// prometheus.Collector (fundigo_dependency_up).
type Readiness struct {
	checks  []Check
	timeout time.Duration
	up      *prometheus.Desc
}

// NewReadiness returns the readiness of the given checks (1 s per check).
func NewReadiness(checks ...Check) *Readiness {
	cs := append([]Check(nil), checks...)
	sort.Slice(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
	return &Readiness{
		checks:  cs,
		timeout: time.Second,
		up: prometheus.NewDesc("fundigo_dependency_up",
			"1 when the dependency answered its readiness check at scrape time, else 0; required=true means the role is unready without it.",
			[]string{"dependency", "required"}, nil),
	}
}

// Run pings every dependency concurrently. Nothing is cached, so readiness
// recovers as soon as a dependency is back.
func (r *Readiness) Run(ctx context.Context) Report {
	out := Report{Status: OK, Checks: make(map[string]string, len(r.checks))}
	up := r.ping(ctx)
	for i, c := range r.checks {
		switch {
		case up[i]:
			out.Checks[c.Name] = OK
		case c.Required:
			out.Checks[c.Name] = Unavailable
			out.Status = Unavailable
		default:
			out.Checks[c.Name] = Degraded
			if out.Status == OK {
				out.Status = Degraded
			}
		}
	}
	return out
}

func (r *Readiness) ping(ctx context.Context) []bool {
	up := make([]bool, len(r.checks))
	var wg sync.WaitGroup
	for i, c := range r.checks {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, r.timeout)
			defer cancel()
			up[i] = c.Ping(cctx) == nil
		})
	}
	wg.Wait()
	return up
}

// ServeHTTP answers 200 unless a required dependency is unreachable (503).
func (r *Readiness) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	rep := r.Run(req.Context())
	status := http.StatusOK
	if rep.Status == Unavailable {
		status = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(rep)
}

// Describe implements prometheus.Collector.
func (r *Readiness) Describe(ch chan<- *prometheus.Desc) { ch <- r.up }

// Collect implements prometheus.Collector: it checks every dependency now.
func (r *Readiness) Collect(ch chan<- prometheus.Metric) {
	up := r.ping(context.Background())
	for i, c := range r.checks {
		v := 0.0
		if up[i] {
			v = 1
		}
		req := "false"
		if c.Required {
			req = "true"
		}
		ch <- prometheus.MustNewConstMetric(r.up, prometheus.GaugeValue, v, c.Name, req)
	}
}

// Healthz answers 200 while the process serves HTTP (liveness only).
func Healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
}
