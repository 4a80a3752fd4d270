package config

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Scheduler configures the cron scheduler role and the retention rules its
// maintenance:cleanup job applies.
type Scheduler struct {
	// TimeZone is the zone of cron specs that name none.
	TimeZone string `env:"FUNDIGO_SCHEDULER_TIME_ZONE" envDefault:"Africa/Nairobi"`
	// LeaseTTL is how long a leader that stopped renewing (crashed, cut off)
	// blocks a successor; it renews every third of it.
	LeaseTTL time.Duration `env:"FUNDIGO_SCHEDULER_LEASE_TTL" envDefault:"15s"`
	// MissedGrace is how late a tick may still be enqueued as on time;
	// later, it counts as missed and the schedule's missed-tick policy applies.
	MissedGrace time.Duration `env:"FUNDIGO_SCHEDULER_MISSED_GRACE" envDefault:"30s"`
	// Disable names schedules (comma separated, as `fundigo scheduler list`
	// names them) whose ticks are not enqueued, e.g. while Django's Celery
	// beat still sends the same task. The scheduler rejects a name its table
	// does not declare, listing the known ones.
	Disable []string `env:"FUNDIGO_SCHEDULER_DISABLE" envSeparator:","`

	Retention Retention
}

// Retention says how long maintenance:cleanup keeps finished rows; 0 keeps
// them forever (that rule is skipped).
type Retention struct {
	// Outbox: outbox rows already published to RabbitMQ.
	Outbox time.Duration `env:"FUNDIGO_RETENTION_OUTBOX" envDefault:"168h"`
	// Inbox: webhook inbox rows already processed (raw callbacks are payment
	// evidence, so they are kept longer).
	Inbox time.Duration `env:"FUNDIGO_RETENTION_INBOX" envDefault:"2160h"`
	// IdempotencyKeys: stored responses for Idempotency-Key replays.
	IdempotencyKeys time.Duration `env:"FUNDIGO_RETENTION_IDEMPOTENCY_KEYS" envDefault:"24h"`
	// PushTickets: settled push deliveries (ticket and receipt checked or
	// failed); the notification itself stays.
	PushTickets time.Duration `env:"FUNDIGO_RETENTION_PUSH_TICKETS" envDefault:"720h"`
	// PaymentOrphans: callbacks that matched no payment (their raw body
	// stays in the inbox for FUNDIGO_RETENTION_INBOX).
	PaymentOrphans time.Duration `env:"FUNDIGO_RETENTION_PAYMENT_ORPHANS" envDefault:"720h"`
	// PaymentOrphansCap: at most this many orphans are kept; the oldest
	// beyond it go at each cleanup, whatever their age.
	PaymentOrphansCap int `env:"FUNDIGO_PAYMENT_ORPHANS_CAP" envDefault:"100000"`
	// TaskOwners: who may read a task (GET /v1/tasks/{id}).
	TaskOwners time.Duration `env:"FUNDIGO_RETENTION_TASK_OWNERS" envDefault:"720h"`
	// BatchSize is how many rows one DELETE statement removes.
	BatchSize int `env:"FUNDIGO_RETENTION_BATCH_SIZE" envDefault:"5000"`
}

func (c Scheduler) validate() []error {
	var errs []error
	if _, err := time.LoadLocation(c.TimeZone); err != nil || c.TimeZone == "" {
		errs = append(errs, fmt.Errorf("FUNDIGO_SCHEDULER_TIME_ZONE %q: not a known IANA time zone", c.TimeZone))
	}
	if c.LeaseTTL < time.Second {
		errs = append(errs, errors.New("FUNDIGO_SCHEDULER_LEASE_TTL must be at least 1s"))
	}
	if c.MissedGrace < 0 {
		errs = append(errs, errors.New("FUNDIGO_SCHEDULER_MISSED_GRACE must not be negative"))
	}
	seen := map[string]bool{}
	for _, name := range c.Disable {
		switch {
		case strings.TrimSpace(name) != name || name == "":
			errs = append(errs, fmt.Errorf("FUNDIGO_SCHEDULER_DISABLE: schedule name %q is empty or padded with spaces", name))
		case seen[name]:
			errs = append(errs, fmt.Errorf("FUNDIGO_SCHEDULER_DISABLE: %q named twice", name))
		}
		seen[name] = true
	}
	r := c.Retention
	for _, kv := range []struct {
		key string
		d   time.Duration
	}{
		{"FUNDIGO_RETENTION_OUTBOX", r.Outbox}, {"FUNDIGO_RETENTION_INBOX", r.Inbox},
		{"FUNDIGO_RETENTION_IDEMPOTENCY_KEYS", r.IdempotencyKeys},
		{"FUNDIGO_RETENTION_PUSH_TICKETS", r.PushTickets},
		{"FUNDIGO_RETENTION_PAYMENT_ORPHANS", r.PaymentOrphans}, {"FUNDIGO_RETENTION_TASK_OWNERS", r.TaskOwners},
	} {
		if kv.d < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative (0 keeps rows forever)", kv.key))
		}
	}
	if r.PaymentOrphansCap < 1 {
		errs = append(errs, errors.New("FUNDIGO_PAYMENT_ORPHANS_CAP must be at least 1"))
	}
	if r.BatchSize < 1 || r.BatchSize > 100_000 {
		errs = append(errs, errors.New("FUNDIGO_RETENTION_BATCH_SIZE must be between 1 and 100000"))
	}
	return errs
}
