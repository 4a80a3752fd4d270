package metrics

import "github.com/prometheus/client_golang/prometheus"

// HTTP are the API's request metrics (the Echo middleware lives in api).
type HTTP struct {
	Requests *prometheus.CounterVec   // method, route, code
	Duration *prometheus.HistogramVec // method, route
}

// NewHTTP registers the HTTP metrics on reg.
func NewHTTP(reg prometheus.Registerer) HTTP {
	h := newHTTP()
	reg.MustRegister(h.Requests, h.Duration)
	return h
}

func newHTTP() HTTP {
	return HTTP{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fundigo_http_requests_total",
			Help: "HTTP requests by method, route template (or unmatched) and status code.",
		}, []string{"method", "route", "code"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fundigo_http_request_duration_seconds",
			Help:    "HTTP request duration by method and route template.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route"}),
	}
}
