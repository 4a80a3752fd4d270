// Package ratings adapts the ratings domain (pkg/rating) to its worker
// transports: review.created events (rating.AcceptReview), the debounced
// ratings:recompute_technician task (rating.RecomputeTechnician) and the
// resumable ratings:recompute_all task (rating.RecomputeAll, with progress
// written to the task result, the commands row and the log). It decodes,
// calls one domain function and classifies the outcome; the rules and the
// SQL live in pkg/rating.
package ratings
