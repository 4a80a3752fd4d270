package scheduler

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"fundigo/pkg/logging"
	"fundigo/pkg/store"
)

// Deps are the scheduler's collaborators, built by cmd.
type Deps struct {
	Log       zerolog.Logger
	Pool      *pgxpool.Pool         // schedules table
	Redis     redis.UniversalClient // leader lease
	Tasks     *asynq.Client         // enqueues ticks
	Inspector *asynq.Inspector      // overlap check
	Clock     Clock                 // nil means RealClock
}

// Config configures a Scheduler. Zero values get the defaults of setDefaults.
type Config struct {
	// Schedules is the table to run, normally Table(queues).
	Schedules []Schedule
	// TimeZone is the zone of schedules that name none (Africa/Nairobi).
	TimeZone string
	// LeaseKey is the Redis key of the leader lease; replicas that share it
	// elect one leader.
	LeaseKey string
	// LeaseTTL is how long a leader that stopped renewing (killed, cut off)
	// keeps the lease; a successor takes over within LeaseTTL+RenewInterval.
	LeaseTTL time.Duration
	// RenewInterval is how often the leader renews and followers try to
	// acquire (LeaseTTL/3).
	RenewInterval time.Duration
	// MissedGrace is how late a tick may be handled and still count as on
	// time rather than missed (30s).
	MissedGrace time.Duration
	// HasHandlerFunc reports whether the worker registers a handler for a
	// task type; listings show schedules without one. Nil: none known.
	HasHandlerFunc func(taskType string) bool
	// InstanceID names this replica in the lease (random by default).
	InstanceID string
	// Disabled names schedules of the table whose ticks are not enqueued
	// (say, while Celery beat still sends the same task). They stay
	// declared, are listed as disabled and can still be run by hand
	// (RunNow). A name that is not in Schedules is an error. Turned back
	// on, a schedule's missed ticks are handled by its Missed policy, as
	// after any outage: MissedRunOnce runs the latest one at once.
	Disabled []string
}

func (c *Config) setDefaults() {
	if c.TimeZone == "" {
		c.TimeZone = "Africa/Nairobi"
	}
	if c.LeaseKey == "" {
		c.LeaseKey = "fundigo:scheduler:leader"
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = 15 * time.Second
	}
	if c.RenewInterval == 0 {
		c.RenewInterval = c.LeaseTTL / 3
	}
	if c.MissedGrace == 0 {
		c.MissedGrace = 30 * time.Second
	}
	if c.HasHandlerFunc == nil {
		c.HasHandlerFunc = func(string) bool { return false }
	}
	if c.InstanceID == "" {
		c.InstanceID = uuid.NewString()
	}
}

// Validate checks a defaulted Config, every schedule included.
func (c *Config) Validate() error {
	var errs []error
	if c.LeaseTTL < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("lease ttl %s is below 100ms", c.LeaseTTL))
	}
	if c.RenewInterval <= 0 || c.RenewInterval >= c.LeaseTTL {
		errs = append(errs, fmt.Errorf("renew interval %s must be in (0, lease ttl)", c.RenewInterval))
	}
	if c.MissedGrace < 0 {
		errs = append(errs, errors.New("missed grace must not be negative"))
	}
	seen := map[string]bool{}
	names := make([]string, 0, len(c.Schedules))
	for _, s := range c.Schedules {
		if _, err := compile(s, c.TimeZone); err != nil {
			errs = append(errs, err)
		}
		if seen[s.Name] {
			errs = append(errs, fmt.Errorf("schedule %q declared twice", s.Name))
		}
		seen[s.Name] = true
		names = append(names, s.Name)
	}
	for _, name := range c.Disabled {
		if !seen[name] {
			errs = append(errs, fmt.Errorf("disable %q: %w (known: %s)", name, ErrUnknownSchedule, strings.Join(names, ", ")))
		}
	}
	return errors.Join(errs...)
}

// Scheduler enqueues the ticks of its schedules while it holds the leader
// lease. Run any number of replicas with the same LeaseKey, Postgres schema
// and Asynq Redis: each tick is enqueued once.
type Scheduler struct {
	log     zerolog.Logger
	records *store.Schedules
	tasks   *asynq.Client
	inspect *asynq.Inspector
	clock   Clock
	cfg     Config
	lease   lease
	entries []entry

	// Owned by the Run goroutine.
	state map[string]*entryState
	// standbyNoted: the "another instance leads" warning was logged.
	standbyNoted bool
}

// entryState is the leader's in-memory view of one schedule, reloaded from
// the record whenever this replica becomes leader.
type entryState struct {
	next   time.Time // the next tick to look at
	failed bool      // last attempt errored; retried on the next lease beat
}

// New validates cfg and returns a Scheduler; it does no I/O.
func New(deps Deps, cfg Config) (*Scheduler, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("scheduler config: %w", err)
	}
	if deps.Pool == nil || deps.Redis == nil || deps.Tasks == nil || deps.Inspector == nil {
		return nil, errors.New("scheduler deps: pool, redis, tasks and inspector are required")
	}
	if deps.Clock == nil {
		deps.Clock = RealClock{}
	}
	s := &Scheduler{
		log:     deps.Log.With().Str(logging.FieldComponent, "scheduler").Logger(),
		records: store.NewSchedules(deps.Pool),
		tasks:   deps.Tasks,
		inspect: deps.Inspector,
		clock:   deps.Clock,
		cfg:     cfg,
		lease:   lease{rdb: deps.Redis, key: cfg.LeaseKey, owner: cfg.InstanceID, ttl: cfg.LeaseTTL},
		state:   map[string]*entryState{},
	}
	for _, sc := range cfg.Schedules {
		e, _ := compile(sc, cfg.TimeZone) // validated above
		e.disabled = slices.Contains(cfg.Disabled, sc.Name)
		s.entries = append(s.entries, e)
	}
	return s, nil
}

// definitions returns the table as stored in the schedules table.
func (s *Scheduler) definitions() []store.ScheduleDefinition {
	defs := make([]store.ScheduleDefinition, 0, len(s.entries))
	for _, e := range s.entries {
		defs = append(defs, store.ScheduleDefinition{
			Name: e.Name, Spec: e.Spec, TimeZone: e.TimeZone, TaskType: e.TaskType,
			Queue: e.Queue, Timeout: e.Timeout, MaxRetry: e.MaxRetry,
			Overlap: string(e.Overlap), Missed: string(e.Missed),
			HandlerRegistered: s.cfg.HasHandlerFunc(e.TaskType),
		})
	}
	return defs
}
