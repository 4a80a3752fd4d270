// Package tasks is the registry of Asynq task types: type names, payload
// structs and constructors, one file per domain, as in asynq's README. It also
// fixes the queue layout (critical/default/low), the retry policy and the error
// classes every handler uses:
//
//   - return nil: done, or already done (duplicate, stale transition);
//   - return Permanent(err): will never succeed, no retry (archived);
//   - return any other error: retried with backoff, up to the task's MaxRetry.
package tasks

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/hibiken/asynq"
)

// Queues names the three priority queues. Names are configurable so that
// deployments (and tests) can share one Redis without seeing each other's work.
type Queues struct {
	Critical string
	Default  string
	Low      string
}

// NewQueues returns the queue names under prefix ("" gives critical, default, low).
func NewQueues(prefix string) Queues {
	return Queues{Critical: prefix + "critical", Default: prefix + "default", Low: prefix + "low"}
}

// Priorities is the weighted map for asynq.Config.Queues: critical work is
// picked six times as often as low.
func (q Queues) Priorities() map[string]int {
	return map[string]int{q.Critical: 6, q.Default: 3, q.Low: 1}
}

// All lists the queue names.
func (q Queues) All() []string { return []string{q.Critical, q.Default, q.Low} }

// Permanent marks err as final: Asynq archives the task without retrying.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w (%w)", err, asynq.SkipRetry)
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool { return errors.Is(err, asynq.SkipRetry) }

// RetryDelay is the retry policy for every task: exponential from 1 s,
// doubling, capped at 5 minutes, with full jitter in the upper half so a
// burst of failures does not retry in lockstep.
func RetryDelay(n int, _ error, _ *asynq.Task) time.Duration {
	if n < 0 {
		n = 0
	}
	if n > 9 {
		n = 9
	}
	d := time.Second << n
	if d > 5*time.Minute {
		d = 5 * time.Minute
	}
	half := d / 2
	return half + rand.N(half+1)
}
