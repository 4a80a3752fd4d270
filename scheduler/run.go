package scheduler

import (
	"context"
	"time"
)

// Run takes part in the leader election and, while leading, enqueues every
// due tick. It returns nil when ctx is cancelled, after releasing the lease if
// it held it (so a successor need not wait for the TTL). Errors talking to
// Redis or Postgres are logged and retried: a scheduler replica never exits
// on its own. Call Run at most once per Scheduler.
func (s *Scheduler) Run(ctx context.Context) error {
	s.log.Info().Str("instance", s.cfg.InstanceID).Int("schedules", len(s.entries)).
		Strs("disabled", s.cfg.Disabled).Msg("scheduler started")
	var (
		validUntil time.Time // real time until which this replica may lead
		loaded     bool      // state reloaded since leadership was gained
		beat       = time.NewTimer(0)
	)
	defer beat.Stop()
	for {
		var wake <-chan time.Time
		if loaded && time.Now().Before(validUntil) {
			if d, ok := s.untilNextDue(); ok {
				wake = s.clock.After(d)
			}
		}
		select {
		case <-ctx.Done():
			if !validUntil.IsZero() {
				s.resign(ctx)
			}
			s.log.Info().Msg("scheduler stopped")
			return nil
		case <-beat.C:
			beat.Reset(s.cfg.RenewInterval)
			validUntil = s.keepLease(ctx, validUntil)
			if validUntil.IsZero() {
				loaded = false
			}
		case <-wake:
		}
		if validUntil.IsZero() || !time.Now().Before(validUntil) {
			continue
		}
		if !loaded {
			loaded = s.load(ctx)
		}
		if loaded {
			s.fireDue(ctx, validUntil)
		}
	}
}

// keepLease acquires or renews the lease and returns the new validity (zero
// when this replica does not lead). A Redis error keeps the current validity:
// the replica leads until it runs out, then stops.
func (s *Scheduler) keepLease(ctx context.Context, validUntil time.Time) time.Time {
	leading := !validUntil.IsZero()
	var (
		until time.Time
		err   error
	)
	if leading {
		until, err = s.lease.renew(ctx)
	} else {
		until, err = s.lease.acquire(ctx)
	}
	switch {
	case err != nil && ctx.Err() == nil:
		s.log.Warn().Err(err).Bool("leading", leading).Msg("leader lease unreachable")
		if time.Now().Before(validUntil) {
			return validUntil
		}
		if leading {
			s.log.Warn().Msg("leadership expired")
		}
		return time.Time{}
	case err != nil:
		return validUntil
	case !leading && !until.IsZero():
		s.log.Info().Str("instance", s.cfg.InstanceID).Msg("became leader")
	case leading && until.IsZero():
		s.log.Warn().Str("instance", s.cfg.InstanceID).Msg("lost leadership")
	case !leading && until.IsZero() && !s.standbyNoted:
		s.noteStandby(ctx)
	}
	return until
}

// noteStandby warns, once, that another instance holds the lease under this
// key: expected for a scheduler replica, and a sign of two development
// instances sharing Redis when it is not (README: a second instance).
func (s *Scheduler) noteStandby(ctx context.Context) {
	s.standbyNoted = true
	holder, err := s.lease.holder(ctx)
	if err != nil || holder == "" {
		return
	}
	s.log.Warn().Str("instance", s.cfg.InstanceID).Str("leader", holder).Str("lease_key", s.lease.key).
		Msg("another scheduler instance holds the leader lease under this key prefix: this one stands by. " +
			"Expected for a replica; if it is a second instance on this machine, give it its own " +
			"FUNDIGO_REDIS_KEY_PREFIX, FUNDIGO_TASKS_QUEUE_PREFIX, FUNDIGO_AMQP_QUEUE_PREFIX and database")
}

// resign releases the lease on shutdown, under a short context that outlives
// the cancelled one.
func (s *Scheduler) resign(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := s.lease.release(ctx); err != nil {
		s.log.Warn().Err(err).Msg("release leader lease")
	}
}

// load declares the table in Postgres and rebuilds the in-memory view of
// every schedule from its record; false (retried on the next beat) if
// Postgres is unreachable.
func (s *Scheduler) load(ctx context.Context) bool {
	now := s.clock.Now()
	if err := s.records.Declare(ctx, s.definitions(), now); err != nil {
		s.log.Warn().Err(err).Msg("declare schedules")
		return false
	}
	for _, e := range s.entries {
		if e.disabled {
			continue // no state: never due (fireDue, untilNextDue)
		}
		rec, err := s.records.Get(ctx, e.Name)
		if err != nil {
			s.log.Warn().Err(err).Msg("load schedule record")
			return false
		}
		s.state[e.Name] = &entryState{next: e.cron.Next(baseOf(rec.CreatedAt, rec.LastTick))}
	}
	return true
}

// baseOf is the instant after which ticks are still to be handled.
func baseOf(created time.Time, lastTick *time.Time) time.Time {
	if lastTick != nil && lastTick.After(created) {
		return *lastTick
	}
	return created
}

// untilNextDue is the schedule-clock wait until the earliest next tick;
// schedules that failed are retried on the lease beat instead.
func (s *Scheduler) untilNextDue() (time.Duration, bool) {
	var earliest time.Time
	for _, st := range s.state {
		if st.failed || st.next.IsZero() {
			continue
		}
		if earliest.IsZero() || st.next.Before(earliest) {
			earliest = st.next
		}
	}
	if earliest.IsZero() {
		return 0, false
	}
	return earliest.Sub(s.clock.Now()), true
}
