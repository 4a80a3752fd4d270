package api

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"fundigo/pkg/metrics"
)

// httpMetrics counts requests and their duration by method, route template
// and final status. Labels stay bounded: the route is the registered
// template or "unmatched" (never the raw URL or the Host header), the method
// one of the standard ones or "other". A handler's error is mapped to its
// problem answer here (as the access log does), so a 422 problem counts as
// 422, not 500.
func httpMetrics(reg prometheus.Registerer) echo.MiddlewareFunc {
	m := metrics.NewHTTP(reg)
	requests, duration := m.Requests, m.Duration
	var (
		once   sync.Once
		routes map[string]bool
	)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			if err := next(c); err != nil {
				c.Error(err) // the problem mapper writes the final status now
			}
			method := boundedMethod(c.Request().Method)
			once.Do(func() { routes = registeredPaths(c.Echo()) }) // routes are all added before serving
			route := c.Path()
			if !routes[route] {
				route = "unmatched"
			}
			requests.WithLabelValues(method, route, strconv.Itoa(c.Response().Status)).Inc()
			if !isStreamRoute(c) { // a stream lasts hours: it is not a request latency
				duration.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
			}
			return nil
		}
	}
}

// registeredPaths are the route templates: any other c.Path() (a request no
// route serves) is labelled "unmatched", whatever its URL.
func registeredPaths(e *echo.Echo) map[string]bool {
	out := map[string]bool{}
	for _, r := range e.Routes() {
		if r.Method != echo.RouteNotFound { // e.g. /v1/* answering 404 for unknown paths
			out[r.Path] = true
		}
	}
	delete(out, "")
	return out
}

func boundedMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodHead, http.MethodOptions:
		return m
	}
	return "other"
}
