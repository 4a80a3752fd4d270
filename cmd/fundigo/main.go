// Command fundigo is the one binary of FundiGO async: API, workers,
// scheduler, migrations, simulators and benchmarks, chosen by subcommand.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// defaultGOGC is the garbage collector's target unless GOGC is set. The
// process's live heap is small (tens of MB: pools, caches, buffers) and its
// work allocates freely (JSON of events, provider requests and rows), so at
// Go's default of 100 the collector ran often: 15-20% of the CPU in the
// push path's profile. 400 lets the heap grow to five times the live heap
// between collections; measured on the push path (docs/BENCHMARKS.md) it
// cut CPU per message about a fifth. GOGC (and GOMEMLIMIT) still override.
const defaultGOGC = 400

// gcPercent is the GOGC to apply, if the environment leaves it to us.
func gcPercent(lookupEnv func(string) (string, bool)) (int, bool) {
	if _, set := lookupEnv("GOGC"); set {
		return 0, false
	}
	return defaultGOGC, true
}

func main() {
	if pct, ok := gcPercent(os.LookupEnv); ok {
		debug.SetGCPercent(pct)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	followGoRun()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "fundigo:", err)
		os.Exit(1)
	}
}
