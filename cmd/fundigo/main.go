// Command fundigo is the one binary of FundiGO async: API, workers,
// scheduler, migrations, simulators and benchmarks, chosen by subcommand.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	followGoRun()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "fundigo:", err)
		os.Exit(1)
	}
}
