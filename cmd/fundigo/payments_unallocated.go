package main

import (
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"fundigo/pkg/config"
	"fundigo/pkg/payment"
)

// newPaymentsUnallocatedCmd is `fundigo payments unallocated`: Pay Bill
// money that matched no payment (the CLI twin of GET
// /v1/payments/unallocated and its allocate route).
func newPaymentsUnallocatedCmd(e env) *cobra.Command {
	cmd := &cobra.Command{Use: "unallocated", Short: "Pay Bill (C2B) money that matched no payment: list, allocate"}
	var limit int
	list := &cobra.Command{
		Use:   "list",
		Short: "List unallocated funds, oldest first (receipt, account typed by the payer, amount, received)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.withPool(cmd.Context(), func(_ config.Config, _ zerolog.Logger, pool *pgxpool.Pool) error {
				rows, err := payment.ListUnallocated(cmd.Context(), pool, limit)
				if err != nil {
					return err
				}
				for _, u := range rows {
					fmt.Fprintf(e.stdout, "%s\taccount=%.40q\tamount=%d.%02d\treceived_at=%s\n", u.TransID, u.BillRefNumber,
						u.AmountCents/100, u.AmountCents%100, u.ReceivedAt.Format(time.RFC3339))
				}
				fmt.Fprintf(e.stdout, "%d unallocated\n", len(rows))
				return nil
			})
		},
	}
	list.Flags().IntVar(&limit, "limit", 100, "most rows to list")
	allocate := &cobra.Command{
		Use:   "allocate TRANS_ID PAYMENT_ID",
		Short: "Credit unallocated funds to a Pay Bill payment awaiting exactly that amount (it becomes paid, once)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withPool(cmd.Context(), func(cfg config.Config, log zerolog.Logger, pool *pgxpool.Pool) error {
				p, err := payment.Allocate(cmd.Context(), payment.Deps{Log: log, Pool: pool, Config: cfg.Payments}, args[0], args[1], "cli")
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "allocated %s to payment %s: %s\n", args[0], p.ID, p.Status)
				return nil
			})
		},
	}
	cmd.AddCommand(list, allocate)
	return cmd
}
