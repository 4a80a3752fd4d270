package metrics

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"fundigo/pkg/amqpx"
)

// collectTimeout bounds the work of one collector per scrape.
const collectTimeout = 5 * time.Second

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

func gauge(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

// errorsDesc flags a failed collection (a dependency down at scrape time);
// the families of a failed collection are left out of that scrape.
func errorsDesc(collector string) *prometheus.Desc {
	return prometheus.NewDesc("fundigo_metrics_collect_errors",
		"1 when a state collector failed at this scrape (its families are missing from it).", nil,
		prometheus.Labels{"collector": collector})
}

// Asynq reads queue sizes and latency through the Inspector at scrape time.
type Asynq struct {
	insp    *asynq.Inspector
	queues  []string
	size    *prometheus.Desc
	latency *prometheus.Desc
	errs    *prometheus.Desc
}

// NewAsynq collects the given Asynq queues.
func NewAsynq(insp *asynq.Inspector, queues []string) *Asynq {
	return &Asynq{insp: insp, queues: queues,
		size:    desc("fundigo_asynq_queue_tasks", "Asynq tasks by queue and state (pending, active, scheduled, retry, archived, completed).", "queue", "state"),
		latency: desc("fundigo_asynq_queue_latency_seconds", "Age of the oldest pending task of the queue.", "queue"),
		errs:    errorsDesc("asynq"),
	}
}

func (a *Asynq) Describe(ch chan<- *prometheus.Desc) { ch <- a.size; ch <- a.latency; ch <- a.errs }

func (a *Asynq) Collect(ch chan<- prometheus.Metric) {
	failed := 0.0
	for _, q := range a.queues {
		info, err := a.insp.GetQueueInfo(q)
		if errors.Is(err, asynq.ErrQueueNotFound) {
			info, err = &asynq.QueueInfo{Queue: q}, nil // no task ever enqueued
		}
		if err != nil {
			failed = 1
			continue
		}
		for state, n := range map[string]int{"pending": info.Pending, "active": info.Active, "scheduled": info.Scheduled,
			"retry": info.Retry, "archived": info.Archived, "completed": info.Completed} {
			ch <- gauge(a.size, float64(n), q, state)
		}
		ch <- gauge(a.latency, info.Latency.Seconds(), q)
	}
	ch <- gauge(a.errs, failed)
}

// AMQPQueues reads the depth and consumers of the domain queues and their
// dead-letter queues (passive declare) at scrape time: consumer lag is the
// ready count of a queue, poison messages the count of its .dlq.
type AMQPQueues struct {
	conn      *amqpx.Conn
	queues    func() []string
	messages  *prometheus.Desc
	consumers *prometheus.Desc
	errs      *prometheus.Desc
}

// NewAMQPQueues collects queues() and each one's DLQ.
func NewAMQPQueues(conn *amqpx.Conn, queues func() []string) *AMQPQueues {
	return &AMQPQueues{conn: conn, queues: queues,
		messages:  desc("fundigo_amqp_queue_messages", "Messages ready in a RabbitMQ queue (consumer lag); kind=dlq for its dead-letter queue.", "queue", "kind"),
		consumers: desc("fundigo_amqp_queue_consumers", "Consumers attached to a RabbitMQ queue.", "queue"),
		errs:      errorsDesc("amqp"),
	}
}

func (a *AMQPQueues) Describe(ch chan<- *prometheus.Desc) {
	ch <- a.messages
	ch <- a.consumers
	ch <- a.errs
}

func (a *AMQPQueues) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), collectTimeout)
	defer cancel()
	failed := 0.0
	defer func() { ch <- gauge(a.errs, failed) }()
	for _, q := range a.queues() {
		for _, kind := range []string{"queue", "dlq"} {
			name := q
			if kind == "dlq" {
				name = amqpx.DLQName(q)
			}
			// A passive declare of a missing queue closes the channel: one
			// channel per queue.
			chn, err := a.conn.Channel(ctx)
			if err != nil {
				failed = 1
				return
			}
			st, err := chn.QueueDeclarePassive(name, true, false, false, false, nil)
			_ = chn.Close()
			if err != nil {
				continue // not declared yet
			}
			ch <- gauge(a.messages, float64(st.Messages), q, kind)
			if kind == "queue" {
				ch <- gauge(a.consumers, float64(st.Consumers), q)
			}
		}
	}
}

// SQL reads the durable state at scrape time, at most once per minInterval
// (answers in between are cached so fast scrapers cannot load the database).
type SQL struct {
	pool        *pgxpool.Pool
	minInterval time.Duration

	mu      sync.Mutex
	last    time.Time
	metrics []prometheus.Metric
	failed  bool

	outboxBacklog, outboxAge, inboxRows, inboxStuck, quarantine *prometheus.Desc
	payments, callbackToPaid, pushes, errs                      *prometheus.Desc
}

// NewSQL collects outbox, inbox, payments and push state.
func NewSQL(pool *pgxpool.Pool) *SQL {
	return &SQL{pool: pool, minInterval: 10 * time.Second,
		outboxBacklog:  desc("fundigo_outbox_backlog", "Outbox rows not yet published."),
		outboxAge:      desc("fundigo_outbox_oldest_age_seconds", "Age of the oldest unpublished outbox row (0 when none)."),
		inboxRows:      desc("fundigo_inbox_rows", "Webhook inbox rows received in the last 24 hours, by route.", "route"),
		inboxStuck:     desc("fundigo_inbox_stuck_rows", "M-Pesa STK inbox rows older than 5 minutes (and younger than 24 hours) that no payment callback applied."),
		quarantine:     desc("fundigo_inbox_quarantine_rows", "Unparseable webhook bodies kept in quarantine (capped by FUNDIGO_INBOX_QUARANTINE_CAP)."),
		payments:       desc("fundigo_payments", "Payments created in the last 24 hours by status and failure reason (\"\" unless failed).", "status", "reason"),
		callbackToPaid: desc("fundigo_payment_callback_to_paid_seconds", "Time from an STK callback's receipt to its payment being paid, over payments paid in the last 15 minutes.", "quantile"),
		errs:           errorsDesc("sql"),
		pushes:         desc("fundigo_push_deliveries", "Push deliveries created in the last 24 hours by platform and status (sent, delivered, failed, invalid, …).", "platform", "status"),
	}
}

func (s *SQL) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{s.outboxBacklog, s.outboxAge, s.inboxRows, s.inboxStuck, s.quarantine,
		s.payments, s.callbackToPaid, s.pushes, s.errs} {
		ch <- d
	}
}

func (s *SQL) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if time.Since(s.last) >= s.minInterval {
		s.metrics, s.failed = s.query()
		s.last = time.Now()
	}
	for _, m := range s.metrics {
		ch <- m
	}
	failed := 0.0
	if s.failed {
		failed = 1
	}
	ch <- gauge(s.errs, failed)
}

func (s *SQL) query() ([]prometheus.Metric, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), collectTimeout)
	defer cancel()
	var out []prometheus.Metric
	failed := false
	rows := func(q string, scan func(vals []any)) {
		rs, err := s.pool.Query(ctx, q)
		if err != nil {
			failed = true
			return
		}
		defer rs.Close()
		for rs.Next() {
			vals, err := rs.Values()
			if err != nil {
				failed = true
				return
			}
			scan(vals)
		}
		if rs.Err() != nil {
			failed = true
		}
	}
	num := func(v any) float64 {
		switch x := v.(type) {
		case int64:
			return float64(x)
		case float64:
			return x
		case int32:
			return float64(x)
		}
		return 0
	}
	str := func(v any) string { x, _ := v.(string); return x }

	rows(`SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8
	        FROM outbox WHERE published_at IS NULL`, func(v []any) {
		out = append(out, gauge(s.outboxBacklog, num(v[0])), gauge(s.outboxAge, num(v[1])))
	})
	rows(`SELECT route, count(*) FROM inbox WHERE received_at > now() - interval '24 hours' GROUP BY route`, func(v []any) {
		out = append(out, gauge(s.inboxRows, num(v[1]), str(v[0])))
	})
	rows(`SELECT count(*) FROM inbox i
	       WHERE i.route = 'mpesa.stk' AND i.received_at > now() - interval '24 hours'
	         AND i.received_at < now() - interval '5 minutes'
	         AND NOT EXISTS (SELECT 1 FROM payment_callbacks c WHERE c.inbox_id = i.id)`, func(v []any) {
		out = append(out, gauge(s.inboxStuck, num(v[0])))
	})
	rows(`SELECT count(*) FROM inbox_quarantine`, func(v []any) {
		out = append(out, gauge(s.quarantine, num(v[0])))
	})
	rows(`SELECT status, CASE WHEN status = 'failed' THEN coalesce(failure_reason, '') ELSE '' END, count(*)
	        FROM payments WHERE created_at > now() - interval '24 hours' GROUP BY 1, 2`, func(v []any) {
		out = append(out, gauge(s.payments, num(v[2]), str(v[0]), str(v[1])))
	})
	rows(`SELECT coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY d), 0)::float8,
	             coalesce(percentile_cont(0.95) WITHIN GROUP (ORDER BY d), 0)::float8
	        FROM (SELECT extract(epoch FROM p.updated_at - min(i.received_at)) AS d
	                FROM payments p JOIN inbox i ON i.route = 'mpesa.stk' AND i.natural_key = p.checkout_request_id
	               WHERE p.status = 'paid' AND p.updated_at > now() - interval '15 minutes'
	               GROUP BY p.id, p.updated_at) x`, func(v []any) {
		out = append(out, gauge(s.callbackToPaid, num(v[0]), "0.5"), gauge(s.callbackToPaid, num(v[1]), "0.95"))
	})
	rows(`SELECT platform, status, count(*) FROM notification_deliveries
	       WHERE created_at > now() - interval '24 hours' GROUP BY 1, 2`, func(v []any) {
		out = append(out, gauge(s.pushes, num(v[2]), str(v[0]), str(v[1])))
	})
	return out, failed
}

// Scheduler reads the leader lease and every schedule's record at scrape time.
type Scheduler struct {
	pool       *pgxpool.Pool
	rdb        redis.UniversalClient
	leaseKey   string
	instanceID string
	leader     *prometheus.Desc
	present    *prometheus.Desc
	lastTick   *prometheus.Desc
	lag        *prometheus.Desc
	lastRunOK  *prometheus.Desc
	errs       *prometheus.Desc
}

// NewScheduler collects the scheduler's lease (instanceID is this replica's
// lease owner id) and the schedules table.
func NewScheduler(pool *pgxpool.Pool, rdb redis.UniversalClient, leaseKey, instanceID string) *Scheduler {
	return &Scheduler{pool: pool, rdb: rdb, leaseKey: leaseKey, instanceID: instanceID,
		leader:    desc("fundigo_scheduler_is_leader", "1 when this scheduler replica holds the leader lease."),
		present:   desc("fundigo_scheduler_leader_present", "1 when some replica holds the scheduler leader lease."),
		lastTick:  desc("fundigo_scheduler_last_tick_timestamp_seconds", "Unix time of the schedule's last tick (0 before the first).", "schedule"),
		lag:       desc("fundigo_scheduler_lag_seconds", "How far the schedule's next tick is overdue (0 when on time).", "schedule"),
		errs:      errorsDesc("scheduler"),
		lastRunOK: desc("fundigo_scheduler_last_run_success", "1 when the schedule's last run succeeded, 0 when it failed (absent before the first finished run).", "schedule"),
	}
}

func (s *Scheduler) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{s.leader, s.present, s.lastTick, s.lag, s.lastRunOK, s.errs} {
		ch <- d
	}
}

func (s *Scheduler) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), collectTimeout)
	defer cancel()
	failed := 0.0
	owner, err := s.rdb.Get(ctx, s.leaseKey).Result()
	switch {
	case err == nil || errors.Is(err, redis.Nil):
		ch <- gauge(s.present, b2f(owner != ""))
		ch <- gauge(s.leader, b2f(owner != "" && owner == s.instanceID))
	default:
		failed = 1
	}
	rs, err := s.pool.Query(ctx, `SELECT name, coalesce(extract(epoch FROM last_tick), 0)::float8,
	        greatest(coalesce(extract(epoch FROM now() - next_run), 0), 0)::float8, last_run_status FROM schedules`)
	if err != nil {
		failed = 1
	} else {
		for rs.Next() {
			var name string
			var tick, lag float64
			var status *string
			if err := rs.Scan(&name, &tick, &lag, &status); err != nil {
				failed = 1
				break
			}
			ch <- gauge(s.lastTick, tick, name)
			ch <- gauge(s.lag, lag, name)
			if status != nil && *status != "running" {
				ch <- gauge(s.lastRunOK, b2f(*status == "succeeded"), name)
			}
		}
		rs.Close()
		if rs.Err() != nil {
			failed = 1
		}
	}
	ch <- gauge(s.errs, failed)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
