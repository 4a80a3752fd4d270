package main

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
	"text/tabwriter"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"fundigo/pkg/config"
	"fundigo/pkg/logging"
	"fundigo/pkg/store"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// env is what every subcommand gets from run: the injected environment and
// output streams, never the process globals.
type env struct {
	getenv func(string) string
	stdout io.Writer
	stderr io.Writer
}

// load reads the configuration and builds the root logger (to stderr).
func (e env) load() (config.Config, zerolog.Logger, error) {
	cfg, err := config.Load(e.getenv)
	if err != nil {
		return cfg, zerolog.Nop(), fmt.Errorf("configuration:\n%w", err)
	}
	log, err := logging.New(e.stderr, logging.Options{Level: cfg.Log.Level, Format: cfg.Log.Format, Service: "fundigo", Version: version})
	if err != nil {
		return cfg, zerolog.Nop(), err
	}
	return cfg, log, nil
}

// withPool loads the configuration, opens a small PostgreSQL pool for a
// one-off operator command, runs fn with them and closes the pool.
func (e env) withPool(ctx context.Context, fn func(cfg config.Config, log zerolog.Logger, pool *pgxpool.Pool) error) error {
	cfg, log, err := e.load()
	if err != nil {
		return err
	}
	pool, err := store.Open(ctx, cfg.Database.URL.Reveal(), store.PoolConfig{MaxConns: 2})
	if err != nil {
		return err
	}
	defer pool.Close()
	return fn(cfg, log, pool)
}

// run is the whole program: it parses args and runs one subcommand until ctx
// is cancelled (SIGINT/SIGTERM in main).
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	e := env{getenv: getenv, stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:           "fundigo",
		Short:         "FundiGO async: payments, notifications, ratings and scheduled jobs",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetContext(ctx)
	root.AddCommand(
		newAPICmd(e),
		newWorkerCmd(e),
		newSchedulerCmd(e),
		newAllCmd(e),
		newMigrateCmd(e),
		newConfigCmd(e),
		newVersionCmd(e),
	)
	addSubcommands(root, e)
	return root.ExecuteContext(ctx)
}

func newVersionCmd(e env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			goVersion := "unknown"
			if bi, ok := debug.ReadBuildInfo(); ok {
				goVersion = bi.GoVersion
			}
			fmt.Fprintf(e.stdout, "fundigo %s (%s)\n", version, goVersion)
			return nil
		},
	}
}

func newConfigCmd(e env) *cobra.Command {
	return &cobra.Command{
		Use:   "config",
		Short: "Print every FUNDIGO_* variable: its effective value (secrets redacted), default and source",
		Long: `Print one row per FUNDIGO_* variable: the source of its value (env: set in
the environment; default; derived: computed from other settings), the built-in
default (cut at 40 characters) and the effective value this process would run
with (secrets redacted; URLs show everything but their password). Invalid
values are reported by variable name, and nothing else is printed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, _, err := e.load()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			// The value comes last, so a long one (FUNDIGO_CELERY_TASKS)
			// does not widen the other columns; a long default is cut.
			fmt.Fprintln(tw, "VARIABLE\tSOURCE\tDEFAULT\tVALUE")
			for _, s := range config.Describe(cfg, e.getenv) {
				def := orDash(s.Default)
				if len(def) > 40 {
					def = def[:39] + "…"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Key, s.Source, def, orDash(s.Value))
			}
			return tw.Flush()
		},
	}
}

// orDash shows an empty value as "-" so the table's columns stay readable.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
