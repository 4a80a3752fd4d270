package scheduler

import "time"

// Clock is the scheduler's source of schedule time. Tests inject a clock they
// move by hand; production uses RealClock. Implementations must be safe for
// concurrent use. After(d) with d <= 0 must fire promptly.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// After returns time.After(d).
func (RealClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
