package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"fundigo/pkg/amqpx"
	"fundigo/pkg/celery"
	"fundigo/pkg/config"
	"fundigo/pkg/inbox"
	"fundigo/pkg/komburedis"
	"fundigo/workers"
	"fundigo/workers/celerycompat"
)

// registerCelery adds the Celery drop-in to the worker: the consumer of the
// Django app's Celery queues (a runner) and the Asynq handler that delivers
// parked ETA messages.
func registerCelery(w *workers.Server, in *infra) error {
	cc := in.cfg.Celery
	conn := in.amqp
	var closers []func(ctx context.Context)
	var kombu *komburedis.Transport
	var pub celerycompat.Publisher
	switch {
	case cc.RedisBroker():
		t, closeBroker, err := kombuBroker(cc)
		if err != nil {
			return err
		}
		kombu, conn, pub = t, nil, celerycompat.NewRedisPublisher(t)
		closers = append(closers, func(context.Context) { closeBroker() })
	case cc.BrokerURL != "":
		c, err := amqpx.NewConn(in.log, amqpx.ConnConfig{URL: cc.BrokerURL.Reveal(), Name: "fundigo-celery"})
		if err != nil {
			return fmt.Errorf("celery broker: %w", err)
		}
		conn = c
		closers = append(closers, func(ctx context.Context) { _ = c.Close(ctx) })
	}
	if kombu == nil {
		ap, err := amqpx.NewPublisher(conn, amqpx.PublisherConfig{Mandatory: true})
		if err != nil {
			return fmt.Errorf("celery publisher: %w", err)
		}
		pub = ap
		closers = append([]func(context.Context){func(ctx context.Context) { _ = ap.Close(ctx) }}, closers...)
	}
	rdb := in.redis
	if cc.ResultURL != "" {
		opt, err := redis.ParseURL(cc.ResultURL.Reveal())
		if err != nil {
			return errors.New("parse FUNDIGO_CELERY_RESULT_URL: invalid") // the error may echo the password
		}
		rdb = redis.NewClient(opt)
		closers = append(closers, func(context.Context) { _ = rdb.Close() })
	}
	expires := cc.ResultExpires
	if expires == 0 {
		expires = -1 // result_expires=None: no expiry
	}
	inboxWriter, err := inbox.NewWriter(in.pool, inbox.WriterConfig{Window: in.cfg.Payments.InboxWindow})
	if err != nil {
		return err
	}
	handlers := celerycompat.Handlers(celerycompat.HandlerDeps{Pool: in.pool, Inbox: inboxWriter,
		QuarantineCap: in.cfg.Payments.QuarantineCap, Tasks: in.tasks, Queues: in.queues})
	for name, h := range handlers {
		handlers[name] = func(ctx context.Context, m *celery.Message) (any, error) {
			res, err := h(ctx, m)
			in.metrics.CeleryDone(name, err)
			return res, err
		}
	}
	reg, err := celerycompat.NewRegistry(cc.Tasks, handlers)
	if err != nil {
		return fmt.Errorf("FUNDIGO_CELERY_TASKS: %w", err)
	}
	maxRetries := cc.MaxRetries
	if maxRetries == 0 {
		maxRetries = -1 // Config reads 0 as "default"; the setting means "none"
	}
	consumer, err := celerycompat.NewConsumer(celerycompat.Deps{Log: in.log, Conn: conn, Redis: kombu, Publisher: pub,
		Backend: celery.NewBackend(rdb, celery.BackendConfig{Expires: expires, KeyPrefix: cc.ResultKeyPrefix}),
		Tasks:   in.tasks, Registry: reg,
	}, celerycompat.Config{Queues: cc.Queues, DeadLetterQueue: cc.DeadLetterQueue, Concurrency: cc.Concurrency,
		Prefetch: cc.Prefetch, TaskTimeout: cc.TaskTimeout, MaxRetries: maxRetries, RetryDelay: cc.RetryDelay,
		HoldETA: cc.HoldETA, ParkQueue: in.queues.Default, Events: cc.Events, Hostname: cc.Hostname,
		RemoteControl: cc.RemoteControl, ControlExchange: cc.ControlExchange,
		RestoreEvery: min(10*time.Second, cc.VisibilityTimeout/2)})
	if err != nil {
		return err
	}
	celerycompat.Register(w.Mux(), pub)
	w.AddRunner(func(ctx context.Context) error {
		err := consumer.Run(ctx)
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		for _, c := range closers {
			c(cctx)
		}
		return err
	})
	return nil
}

// newCeleryCmd is `fundigo celery dlq list|replay`: operators look at the
// Celery messages no Go worker could run and send them back to their queue
// (after deploying a handler, or for Python workers to take).
func newCeleryCmd(e env) *cobra.Command {
	cmd := &cobra.Command{Use: "celery", Short: "Operate the Celery drop-in"}
	dlq := &cobra.Command{Use: "dlq", Short: "Inspect and replay the Celery dead-letter queue"}
	cmd.AddCommand(dlq)

	var limit int
	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List dead-lettered Celery messages (left in place)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withCeleryBroker(cmd.Context(), e, func(ctx context.Context, cc config.Celery, b celeryBroker) error {
				var items []celerycompat.DeadLetter
				var err error
				if b.kombu != nil {
					items, err = celerycompat.ListRedisDeadLetters(ctx, b.kombu, cc.DeadLetterQueue, limit)
				} else {
					items, err = celerycompat.ListDeadLetters(ctx, b.conn, cc.DeadLetterQueue, limit)
				}
				if err != nil {
					return err
				}
				return printDeadLetters(e, items, asJSON)
			})
		},
	}
	list.Flags().IntVar(&limit, "limit", 100, "list at most this many")
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON lines")

	var task, id string
	var all bool
	replay := &cobra.Command{
		Use:   "replay",
		Short: "Send dead-lettered Celery messages back to the queue they came from",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !all && task == "" && id == "" {
				return errors.New("choose what to replay: --task NAME, --id TASK_ID or --all")
			}
			match := func(d celerycompat.DeadLetter) bool {
				return (task == "" || d.Task == task) && (id == "" || d.ID == id)
			}
			return withCeleryBroker(cmd.Context(), e, func(ctx context.Context, cc config.Celery, b celeryBroker) error {
				var items []celerycompat.DeadLetter
				var err error
				if b.kombu != nil {
					items, err = celerycompat.ReplayRedisDeadLetters(ctx, b.kombu, cc.DeadLetterQueue, limit, match)
				} else {
					pub, perr := amqpx.NewPublisher(b.conn, amqpx.PublisherConfig{Mandatory: true})
					if perr != nil {
						return perr
					}
					defer pub.Close(context.WithoutCancel(ctx)) //nolint:errcheck // every publish was confirmed already
					items, err = celerycompat.ReplayDeadLetters(ctx, b.conn, pub, cc.DeadLetterQueue, limit, match)
				}
				if perr := printDeadLetters(e, items, asJSON); perr != nil {
					return perr
				}
				fmt.Fprintf(e.stderr, "replayed %d message(s)\n", len(items))
				return err
			})
		},
	}
	replay.Flags().StringVar(&task, "task", "", "replay messages of this Celery task name")
	replay.Flags().StringVar(&id, "id", "", "replay the message of this task id")
	replay.Flags().BoolVar(&all, "all", false, "replay every message")
	replay.Flags().IntVar(&limit, "limit", 1000, "replay at most this many")
	replay.Flags().BoolVar(&asJSON, "json", false, "print JSON lines")
	dlq.AddCommand(list, replay)
	return cmd
}

// celeryBroker is the Celery broker of an operator command: RabbitMQ
// (conn) or kombu's Redis transport (kombu).
type celeryBroker struct {
	conn  *amqpx.Conn
	kombu *komburedis.Transport
}

// withCeleryBroker connects to the Celery broker (FUNDIGO_CELERY_BROKER_URL,
// else FUNDIGO_AMQP_URL) for one operator command.
func withCeleryBroker(ctx context.Context, e env, fn func(context.Context, config.Celery, celeryBroker) error) error {
	cfg, log, err := e.load()
	if err != nil {
		return err
	}
	if cfg.Celery.RedisBroker() {
		t, closeBroker, err := kombuBroker(cfg.Celery)
		if err != nil {
			return err
		}
		defer closeBroker()
		return fn(ctx, cfg.Celery, celeryBroker{kombu: t})
	}
	url := cfg.AMQP.URL
	if cfg.Celery.BrokerURL != "" {
		url = cfg.Celery.BrokerURL
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := amqpx.Dial(dctx, log, amqpx.ConnConfig{URL: url.Reveal(), Name: "fundigo-celery-dlq"})
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx)) //nolint:errcheck // nothing left to flush
	return fn(ctx, cfg.Celery, celeryBroker{conn: conn})
}

// kombuBroker is kombu's Redis transport on the redis:// Celery broker URL,
// with Django's global_keyprefix and visibility timeout.
func kombuBroker(cc config.Celery) (*komburedis.Transport, func(), error) {
	opt, err := redis.ParseURL(cc.BrokerURL.Reveal())
	if err != nil {
		return nil, nil, errors.New("parse FUNDIGO_CELERY_BROKER_URL: invalid") // the error may echo the password
	}
	rdb := redis.NewClient(opt)
	t, err := komburedis.New(rdb, komburedis.Options{KeyPrefix: cc.BrokerKeyPrefix, VisibilityTimeout: cc.VisibilityTimeout})
	if err != nil {
		_ = rdb.Close()
		return nil, nil, fmt.Errorf("celery broker: %w", err)
	}
	return t, func() { _ = rdb.Close() }, nil
}

func printDeadLetters(e env, items []celerycompat.DeadLetter, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(e.stdout)
		for _, it := range items {
			if err := enc.Encode(it); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TASK ID\tTASK\tQUEUE\tRETRIES\tDEAD-LETTERED AT\tREASON")
	for _, it := range items {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", it.ID, it.Task, it.Queue, it.Retries, it.DeadLetteredAt, it.Reason)
	}
	return tw.Flush()
}
