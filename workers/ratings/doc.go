// Package ratings is the ratings worker: it accepts reviews arriving as
// review.created events, recomputes one technician's rating after a burst of
// reviews (debounced task ratings:recompute_technician) and recomputes
// everything in keyset batches (ratings:recompute_all, nightly and on
// demand), resumable after a crash. All arithmetic is set-based SQL in
// pkg/store; this package decides when to run it, reports progress,
// invalidates the Redis cache and classifies errors.
package ratings
