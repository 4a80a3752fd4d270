package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"fundigo/pkg/config"
	"fundigo/pkg/payment"
)

// newPaymentsCmd is `fundigo payments`: operator commands of the payments
// domain.
func newPaymentsCmd(e env) *cobra.Command {
	cmd := &cobra.Command{Use: "payments", Short: "Operator commands for payments"}
	stuck := &cobra.Command{Use: "stuck", Short: "Stored STK callbacks the applier gave up on (list, retry)"}
	stuck.AddCommand(newPaymentsStuckListCmd(e), newPaymentsStuckRetryCmd(e))
	cmd.AddCommand(stuck, newPaymentsUnallocatedCmd(e))
	return cmd
}

func newPaymentsStuckListCmd(e env) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List stuck STK callbacks (inbox id, checkout request id, attempts, last error)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.withPool(cmd.Context(), func(_ config.Config, _ zerolog.Logger, pool *pgxpool.Pool) error {
				rows, err := payment.ListStuck(cmd.Context(), pool, limit)
				if err != nil {
					return err
				}
				for _, r := range rows {
					fmt.Fprintf(e.stdout, "%d\t%.40s\tattempts=%d\tstuck_at=%s\t%s\n", r.InboxID, r.CheckoutRequestID,
						r.Attempts, r.StuckAt.Format(time.RFC3339), r.LastError)
				}
				fmt.Fprintf(e.stdout, "%d stuck\n", len(rows))
				return nil
			})
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 100, "most rows to list")
	return cmd
}

func newPaymentsStuckRetryCmd(e env) *cobra.Command {
	return &cobra.Command{
		Use:   "retry INBOX_ID...",
		Short: "Make stuck STK callbacks claimable again (after fixing their cause)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ids := make([]int64, len(args))
			for i, a := range args {
				id, err := strconv.ParseInt(a, 10, 64)
				if err != nil {
					return fmt.Errorf("inbox id %q: not a number", a)
				}
				ids[i] = id
			}
			return e.withPool(cmd.Context(), func(_ config.Config, _ zerolog.Logger, pool *pgxpool.Pool) error {
				n, err := payment.RetryStuck(cmd.Context(), pool, ids)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "%d of %d retried\n", n, len(ids))
				return nil
			})
		},
	}
}
