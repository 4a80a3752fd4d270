package api

import (
	"strings"

	"github.com/labstack/echo/v4"
)

// leanRoute reports whether c's route is a webhook, which skips the
// server-wide gzip middleware (its Skipper). A webhook answers ~40 bytes,
// below the 1 KiB threshold, yet for every caller sending Accept-Encoding:
// gzip Echo's middleware resets a pooled gzip writer twice and closes it,
// clearing deflate's hash tables (about 1 MiB of memory) each time: some
// 30 µs of CPU per callback for nothing (BenchmarkWebhookChain).
//
// Request ids, recovery, the access log and the HTTP metrics stay: they
// cost a few µs together and are what an operator reads about the money
// path (docs/BENCHMARKS.md, "The webhook route's middleware").
func leanRoute(c echo.Context) bool { return strings.HasPrefix(c.Path(), "/v1/webhooks/") }
