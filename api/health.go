package api

import (
	"context"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// handleHealthz answers 200 while the process serves HTTP (liveness).
func handleHealthz() echo.HandlerFunc {
	return func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
	}
}

type readiness struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

// handleReadyz pings every dependency concurrently (1 s each) and answers 200
// only when all are reachable, else 503 naming the failing ones. Nothing is
// cached, so it recovers by itself as soon as a dependency is back.
func handleReadyz(checks map[string]Checker) echo.HandlerFunc {
	names := make([]string, 0, len(checks))
	for n := range checks {
		names = append(names, n)
	}
	sort.Strings(names)
	return func(c echo.Context) error {
		out := readiness{Status: "ok", Checks: make(map[string]string, len(names))}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, n := range names {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(c.Request().Context(), time.Second)
				defer cancel()
				res := "ok"
				if err := checks[n].Ping(ctx); err != nil {
					res = "unavailable"
				}
				mu.Lock()
				out.Checks[n] = res
				mu.Unlock()
			}()
		}
		wg.Wait()
		status := http.StatusOK
		for _, r := range out.Checks {
			if r != "ok" {
				out.Status, status = "unavailable", http.StatusServiceUnavailable
			}
		}
		return c.JSON(status, out)
	}
}

func handleMetrics(reg *prometheus.Registry) echo.HandlerFunc {
	return echo.WrapHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
}
