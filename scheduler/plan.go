package scheduler

import "time"

// plan is what to do about a schedule at one instant.
type plan struct {
	// tick is the tick to act on; zero when none is due.
	tick time.Time
	// enqueue is false when the tick is dropped by MissedSkip.
	enqueue bool
	// missed is true when ticks passed unhandled (older ticks were dropped, or
	// tick itself is later than the grace period).
	missed bool
	// next is the first tick after tick (or after base when none is due).
	next time.Time
}

// planTick decides what a leader does at now for e, whose last handled tick
// (or creation time, if it never ticked) is base. At most one tick is ever
// acted on, so an outage never turns into a burst of catch-up runs:
//   - the due tick is on time (within grace) and none before it was missed:
//     enqueue it;
//   - ticks were missed, MissedRunOnce: enqueue the latest one only;
//   - ticks were missed, MissedSkip: enqueue the latest if it is itself on
//     time, else drop it (and everything before it).
func planTick(e entry, base, now time.Time, grace time.Duration) plan {
	first := e.cron.Next(base)
	if first.IsZero() || first.After(now) {
		return plan{next: first}
	}
	latest, ok := prevTick(e.cron, now)
	if !ok || latest.Before(first) {
		latest = first
	}
	late := now.Sub(latest) > grace
	p := plan{tick: latest, next: e.cron.Next(latest), missed: late || first.Before(latest)}
	p.enqueue = !p.missed || e.Missed == MissedRunOnce || !late
	return p
}
