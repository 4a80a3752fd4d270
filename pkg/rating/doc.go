// Package rating is the one home of the ratings domain: reviews (one per
// job), technician ratings (count, mean, Bayesian average, distribution,
// categories) and how they move.
//
//   - review.go: the Review type, the limits, Normalize and the one Validate
//     of a review, whatever its entry point.
//   - accept.go: AcceptReview (normalize → validate → insert → debounced
//     recompute), called by POST /v1/reviews and the review.created consumer.
//   - recompute.go: RecomputeTechnician (one technician + cache
//     invalidation) and StartRecompute (the commands row + the
//     ratings:recompute_all task), called by the API, the worker, the Celery
//     task and the CLI.
//   - recompute_all.go: RecomputeAll, the resumable keyset-batch recompute.
//   - cache.go: the Redis cache in front of the reads.
//   - store.go, store_runs.go, store_seed.go: all the SQL, set-based.
//
// Entry points (api, workers/ratings, workers/celerycompat, cmd/fundigo)
// decode their transport, call one function here and map the outcome. The
// published contract (routing keys and payloads Django consumes) stays in
// pkg/events.
package rating
