// Package livefeed is the worker-side adapter of live updates: one consumer
// bound to the domain events clients watch (payment.*, notification.requested,
// review.created, rating.updated) that appends each event to its owner's
// stream through pkg/live, which fans it out to every API replica.
//
// Ownership comes from fields the events carry (pkg/events): a payment event
// belongs to its customer_id, a notification to each of its user_ids (each
// recipient gets the notification without the list of the others), a review
// and a rating update to the technician_id. Task progress is not published
// as an event yet, so it is not forwarded.
package livefeed
