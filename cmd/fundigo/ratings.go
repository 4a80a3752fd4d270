package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"fundigo/pkg/bench"
	"fundigo/pkg/config"
	"fundigo/pkg/rating"
	"fundigo/workers"
	"fundigo/workers/ratings"
)

// registerRatings wires the ratings worker: the debounced per-technician
// recompute, the full recompute and the review.created consumer.
func registerRatings(w *workers.Server, in *infra) error {
	deps := ratingsDeps(in)
	if err := ratings.Register(w.Mux(), deps); err != nil {
		return err
	}
	specs, err := ratings.Consumers(deps)
	if err != nil {
		return err
	}
	w.AddConsumer(specs...)
	return nil
}

func ratingsDeps(in *infra) ratings.Deps {
	return ratings.Deps{
		Log: in.log.With().Str("component", "ratings").Logger(), Rating: ratingDeps(in),
		QueuePrefix: in.cfg.AMQP.QueuePrefix, DeliveryLimit: in.cfg.AMQP.DeliveryLimit,
	}
}

// ratingDeps are the ratings domain's dependencies (pkg/rating).
func ratingDeps(in *infra) rating.Deps {
	return rating.Deps{
		Pool:  in.pool,
		Cache: rating.NewCache(in.redis, in.cfg.Redis.KeyPrefix, in.cfg.Ratings),
		Tasks: in.tasks, Queues: in.queues, Config: in.cfg.Ratings,
	}
}

// newRatingsCmd is `fundigo ratings`: operator commands of the ratings domain.
func newRatingsCmd(e env) *cobra.Command {
	cmd := &cobra.Command{Use: "ratings", Short: "Recompute technician ratings now, or seed reviews for benchmarks"}
	cmd.AddCommand(newRatingsRecomputeCmd(e), newRatingsSeedCmd(e))
	return cmd
}

func newRatingsRecomputeCmd(e env) *cobra.Command {
	var all bool
	var technician string
	var batchSize int
	cmd := &cobra.Command{
		Use:   "recompute (--all | --technician ID)",
		Short: "Recompute every technician in keyset batches (resuming an interrupted run), or one",
		Long: "--all runs the same full recompute as the nightly ratings:recompute_all task, in this process:\n" +
			"it resumes an interrupted run from its last finished batch, publishes rating.updated (through the\n" +
			"outbox) only for changed technicians, and shows a progress bar on a terminal (log lines otherwise).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if all == (technician != "") {
				return errors.New("give exactly one of --all or --technician")
			}
			cfg, log, err := e.load()
			if err != nil {
				return err
			}
			if batchSize > 0 {
				cfg.Ratings.BatchSize = batchSize
			}
			in, err := openInfra(cmd.Context(), cfg, log, "ratings")
			if err != nil {
				return err
			}
			defer func() {
				ctx, cancel := in.shutdownCtx()
				defer cancel()
				in.close(ctx)
			}()
			deps := ratingsDeps(in)
			ctx := deps.Log.WithContext(cmd.Context())
			if technician != "" {
				_, changed, err := rating.RecomputeTechnician(ctx, deps.Rating, technician)
				if err != nil {
					return err
				}
				r, err := deps.Rating.Store().Get(ctx, technician)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "technician %s: count %d, average %.4f, bayesian %.4f, changed %t\n",
					technician, r.Count, r.Average, r.BayesianAverage, changed)
				return nil
			}
			start := time.Now()
			p, err := rating.RecomputeAll(ctx, deps.Rating, "cli:"+start.UTC().Format(time.RFC3339), recomputeReporter(e.stderr))
			if err != nil {
				return err
			}
			if p.Status == rating.StatusBusy {
				return errors.New("another full recompute holds the lock; try again when it has finished")
			}
			fmt.Fprintf(e.stdout, "run %s finished: %d technicians (%d changed), %d reviews, %d batches, global mean %s, resumed %t, %s, %.0f reviews/s\n",
				p.RunID, p.ProcessedTechnicians, p.ChangedTechnicians, p.ProcessedReviews, p.Batches,
				p.GlobalMean, p.Resumed, time.Since(start).Round(time.Millisecond), p.RatePerSec)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&all, "all", false, "recompute every technician")
	fl.StringVar(&technician, "technician", "", "recompute one technician")
	fl.IntVar(&batchSize, "batch-size", 0, "technicians per batch (default FUNDIGO_RATINGS_BATCH_SIZE)")
	return cmd
}

// recomputeReporter draws a progress bar over reviews on a terminal, and
// prints a line every few seconds otherwise.
func recomputeReporter(w io.Writer) func(rating.Progress) {
	if !bench.IsTerminal(w) {
		var last time.Time
		return func(p rating.Progress) {
			if p.Status == rating.StatusRunning && time.Since(last) < 5*time.Second {
				return
			}
			last = time.Now()
			fmt.Fprintf(w, "ratings recompute: %5.1f%%  %d/%d reviews  %d technicians (%d changed)  %.0f reviews/s\n",
				p.Percent, p.ProcessedReviews, p.TotalReviews, p.ProcessedTechnicians, p.ChangedTechnicians, p.RatePerSec)
		}
	}
	var bar *progressbar.ProgressBar
	return func(p rating.Progress) {
		if bar == nil {
			bar = progressbar.NewOptions64(max(p.TotalReviews, 1),
				progressbar.OptionSetWriter(w), progressbar.OptionSetWidth(30),
				progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionShowCount(),
				progressbar.OptionSetRenderBlankState(true), progressbar.OptionClearOnFinish())
		}
		bar.Describe(fmt.Sprintf("recompute: %d technicians, %d changed, %.0f reviews/s",
			p.ProcessedTechnicians, p.ChangedTechnicians, p.RatePerSec))
		_ = bar.Set64(min(p.ProcessedReviews, p.TotalReviews))
		if p.Status != rating.StatusRunning {
			_ = bar.Finish()
		}
	}
}

func newRatingsSeedCmd(e env) *cobra.Command {
	var reviews, technicians, chunk int64
	var tag string
	cmd := &cobra.Command{
		Use:   "seed --reviews N --technicians M",
		Short: "Insert N generated reviews over M technicians (benchmarks, demos)",
		Long: "Generates reviews with INSERT … SELECT generate_series in chunks: every technician gets at least\n" +
			"one review when N >= M, the rest are skewed towards popular technicians; then VACUUM ANALYZE.\n" +
			"Job ids are \"<tag>-<i>\", so seeding twice needs a different --tag.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if reviews < 1 || technicians < 1 || chunk < 1 {
				return errors.New("--reviews, --technicians and --chunk must be at least 1")
			}
			return e.withPool(cmd.Context(), func(_ config.Config, _ zerolog.Logger, pool *pgxpool.Pool) error {
				if tag == "" {
					tag = "seed" + time.Now().UTC().Format("20060102T150405")
				}
				return seedRatings(cmd.Context(), e, pool, tag, reviews, technicians, chunk)
			})
		},
	}
	fl := cmd.Flags()
	fl.Int64Var(&reviews, "reviews", 0, "number of reviews to insert")
	fl.Int64Var(&technicians, "technicians", 0, "number of technicians")
	fl.Int64Var(&chunk, "chunk", 500_000, "reviews per INSERT statement")
	fl.StringVar(&tag, "tag", "", "job id prefix (default seed<timestamp>)")
	return cmd
}

func seedRatings(ctx context.Context, e env, pool *pgxpool.Pool, tag string, reviews, technicians, chunk int64) error {
	start := time.Now()
	var report func(done int64)
	if bench.IsTerminal(e.stderr) {
		bar := progressbar.NewOptions64(reviews, progressbar.OptionSetWriter(e.stderr),
			progressbar.OptionSetDescription("seeding reviews"), progressbar.OptionShowCount(),
			progressbar.OptionSetWidth(30), progressbar.OptionClearOnFinish())
		report = func(done int64) { _ = bar.Set64(done) }
	} else {
		report = func(done int64) {
			fmt.Fprintf(e.stderr, "seeded %d/%d reviews (%.0f/s)\n", done, reviews, float64(done)/time.Since(start).Seconds())
		}
	}
	for done := int64(0); done < reviews; {
		n := min(chunk, reviews-done)
		if err := rating.SeedReviews(ctx, pool, tag, done, n, technicians); err != nil {
			return err
		}
		done += n
		report(done)
	}
	fmt.Fprintln(e.stderr, "vacuum analyze reviews…")
	if err := rating.VacuumReviews(ctx, pool); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "seeded %d reviews over %d technicians (tag %s) in %s\n",
		reviews, technicians, tag, time.Since(start).Round(time.Millisecond))
	return nil
}
