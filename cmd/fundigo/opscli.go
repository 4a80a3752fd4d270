package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hibiken/asynq"
	"github.com/spf13/cobra"

	"fundigo/pkg/amqpx"
	"fundigo/pkg/dlq"
)

// newDLQCmd is `fundigo dlq list|inspect|replay|purge`: the dead-letter
// queues of the domain consumers (Q.dlq for each consumer queue Q).
func newDLQCmd(e env) *cobra.Command {
	cmd := &cobra.Command{Use: "dlq", Short: "Inspect, replay and purge the domain dead-letter queues (*.dlq)"}
	var asJSON bool
	var limit int
	var yes bool

	// withQueue runs fn for a known consumer queue (or every one when
	// queue is empty and all is allowed).
	withQueues := func(cmd *cobra.Command, queue string, fn func(ctx context.Context, in *infra, queues []string) error) error {
		return e.withInfra(cmd.Context(), "dlq", false, func(in *infra) error {
			w, err := registryWorkers(in)
			if err != nil {
				return err
			}
			known := w.ConsumerQueues()
			queues := known
			if queue != "" {
				if !slices.Contains(known, queue) {
					return fmt.Errorf("unknown queue %q; `fundigo dlq list` shows the consumer queues", queue)
				}
				queues = []string{queue}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
			defer cancel()
			return fn(ctx, in, queues)
		})
	}
	list := &cobra.Command{
		Use:   "list [QUEUE]",
		Short: "Show every consumer queue with its ready and dead-lettered message counts",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withQueues(cmd, firstArg(args), func(ctx context.Context, in *infra, queues []string) error {
				ds, err := dlq.Depths(ctx, in.amqp, queues)
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSONLines(e, ds)
				}
				tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "QUEUE\tREADY\tDEAD-LETTERED")
				for _, d := range ds {
					fmt.Fprintf(tw, "%s\t%d\t%d\n", d.Queue, d.Ready, d.DeadLetters)
				}
				return tw.Flush()
			})
		},
	}
	inspect := &cobra.Command{
		Use:   "inspect QUEUE",
		Short: "Show the dead-lettered messages of QUEUE (metadata, not bodies); they stay in the DLQ",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withQueues(cmd, args[0], func(ctx context.Context, in *infra, _ []string) error {
				ms, err := dlq.Inspect(ctx, in.amqp, args[0], limit)
				if err != nil {
					return err
				}
				return printDLQMessages(e, ms, asJSON)
			})
		},
	}
	replay := &cobra.Command{
		Use:   "replay QUEUE",
		Short: "Move the dead-lettered messages of QUEUE back into QUEUE (after fixing their cause)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withQueues(cmd, args[0], func(ctx context.Context, in *infra, _ []string) error {
				pub, err := amqpx.NewPublisher(in.amqp, amqpx.PublisherConfig{Mandatory: true})
				if err != nil {
					return err
				}
				defer pub.Close(context.WithoutCancel(ctx)) //nolint:errcheck // every publish was confirmed
				ms, err := dlq.Replay(ctx, in.amqp, pub, args[0], limit)
				if perr := printDLQMessages(e, ms, asJSON); perr != nil {
					return perr
				}
				fmt.Fprintf(e.stderr, "replayed %d message(s) into %s\n", len(ms), args[0])
				return err
			})
		},
	}
	purge := &cobra.Command{
		Use:   "purge QUEUE",
		Short: "Delete every dead-lettered message of QUEUE (needs --yes)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !yes {
				return errors.New("purge deletes messages for good: add --yes")
			}
			return withQueues(cmd, args[0], func(ctx context.Context, in *infra, _ []string) error {
				n, err := dlq.Purge(ctx, in.amqp, args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "purged %d message(s) from %s\n", n, amqpx.DLQName(args[0]))
				return nil
			})
		},
	}
	for _, c := range []*cobra.Command{list, inspect, replay} {
		c.Flags().BoolVar(&asJSON, "json", false, "print JSON lines")
	}
	inspect.Flags().IntVar(&limit, "limit", 100, "show at most this many")
	replay.Flags().IntVar(&limit, "limit", 1000, "replay at most this many")
	purge.Flags().BoolVar(&yes, "yes", false, "really delete")
	cmd.AddCommand(list, inspect, replay, purge)
	return cmd
}

func printDLQMessages(e env, ms []dlq.Message, asJSON bool) error {
	if asJSON {
		return writeJSONLines(e, ms)
	}
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MESSAGE ID\tTYPE\tROUTING KEY\tREASON\tDEATHS\tDEAD-LETTERED AT\tBYTES")
	for _, m := range ms {
		at := ""
		if !m.DeadAt.IsZero() {
			at = m.DeadAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%d\n", m.MessageID, m.Type, m.RoutingKey, m.Reason, m.DeathCount, at, m.BodyBytes)
	}
	return tw.Flush()
}

// newTasksCmd is `fundigo tasks archived list|retry|purge`: Asynq tasks
// that failed permanently or ran out of retries.
func newTasksCmd(e env) *cobra.Command {
	cmd := &cobra.Command{Use: "tasks", Short: "Operate Asynq tasks"}
	archived := &cobra.Command{Use: "archived", Short: "List, retry and purge archived (dead) Asynq tasks"}
	cmd.AddCommand(archived)
	var queue string
	var limit int
	var asJSON, all, yes bool

	withQueues := func(cmd *cobra.Command, fn func(ctx context.Context, in *infra, queues []string) error) error {
		return e.withInfra(cmd.Context(), "tasks", false, func(in *infra) error {
			queues := in.queues.All()
			if queue != "" {
				if !slices.Contains(queues, queue) {
					return fmt.Errorf("unknown queue %q; want one of %s", queue, strings.Join(queues, ", "))
				}
				queues = []string{queue}
			}
			return fn(cmd.Context(), in, queues)
		})
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List archived tasks (type, id, last error; never the payload)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withQueues(cmd, func(ctx context.Context, in *infra, queues []string) error {
				var out []archivedTask
				for _, q := range queues {
					ts, err := in.insp.ListArchivedTasks(q, asynq.PageSize(min(limit, 1000)))
					if err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
						return fmt.Errorf("list archived tasks of %s: %w", q, err)
					}
					for _, t := range ts {
						out = append(out, archivedTask{ID: t.ID, Queue: t.Queue, Type: t.Type, Retried: t.Retried,
							LastFailedAt: t.LastFailedAt, LastError: truncate(t.LastErr, 200)})
					}
				}
				if asJSON {
					return writeJSONLines(e, out)
				}
				tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tQUEUE\tTYPE\tRETRIED\tLAST FAILED AT\tLAST ERROR")
				for _, t := range out {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", t.ID, t.Queue, t.Type, t.Retried, t.LastFailedAt.UTC().Format(time.RFC3339), t.LastError)
				}
				return tw.Flush()
			})
		},
	}
	retry := &cobra.Command{
		Use:   "retry [TASK_ID...]",
		Short: "Move archived tasks back to pending (the ids given, or --all) in --queue",
		RunE: func(cmd *cobra.Command, args []string) error {
			if queue == "" || (!all && len(args) == 0) || (all && len(args) > 0) {
				return errors.New("give --queue and either task ids or --all")
			}
			return withQueues(cmd, func(ctx context.Context, in *infra, _ []string) error {
				if all {
					n, err := in.insp.RunAllArchivedTasks(queue)
					if err != nil {
						return err
					}
					fmt.Fprintf(e.stdout, "retrying %d task(s) of %s\n", n, queue)
					return nil
				}
				for _, id := range args {
					if err := in.insp.RunTask(queue, id); err != nil {
						return fmt.Errorf("retry %s: %w", id, err)
					}
				}
				fmt.Fprintf(e.stdout, "retrying %d task(s) of %s\n", len(args), queue)
				return nil
			})
		},
	}
	purge := &cobra.Command{
		Use:   "purge [TASK_ID...]",
		Short: "Delete archived tasks (the ids given, or all of --queue) for good (needs --yes)",
		RunE: func(cmd *cobra.Command, args []string) error {
			if queue == "" || !yes {
				return errors.New("purge deletes tasks for good: give --queue and --yes")
			}
			return withQueues(cmd, func(ctx context.Context, in *infra, _ []string) error {
				if len(args) == 0 {
					n, err := in.insp.DeleteAllArchivedTasks(queue)
					if err != nil {
						return err
					}
					fmt.Fprintf(e.stdout, "deleted %d archived task(s) of %s\n", n, queue)
					return nil
				}
				for _, id := range args {
					if err := in.insp.DeleteTask(queue, id); err != nil {
						return fmt.Errorf("delete %s: %w", id, err)
					}
				}
				fmt.Fprintf(e.stdout, "deleted %d archived task(s) of %s\n", len(args), queue)
				return nil
			})
		},
	}
	for _, c := range []*cobra.Command{list, retry, purge} {
		c.Flags().StringVar(&queue, "queue", "", "Asynq queue (default for list: every queue)")
	}
	list.Flags().IntVar(&limit, "limit", 100, "list at most this many per queue")
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON lines")
	retry.Flags().BoolVar(&all, "all", false, "retry every archived task of --queue")
	purge.Flags().BoolVar(&yes, "yes", false, "really delete")
	archived.AddCommand(list, retry, purge)
	return cmd
}

type archivedTask struct {
	ID           string    `json:"id"`
	Queue        string    `json:"queue"`
	Type         string    `json:"type"`
	Retried      int       `json:"retried"`
	LastFailedAt time.Time `json:"last_failed_at"`
	LastError    string    `json:"last_error"`
}

func writeJSONLines[T any](e env, items []T) error {
	enc := json.NewEncoder(e.stdout)
	for _, it := range items {
		if err := enc.Encode(it); err != nil {
			return err
		}
	}
	return nil
}

func firstArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
