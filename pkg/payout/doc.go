// Package payout is the one home of B2C payouts to technicians: their
// statuses, the create command every entry point calls, the submit command
// that sends a payout to Daraja at most once, the appliers of B2C results,
// queue timeouts and Transaction Status results, and reconciliation.
//
// # Statuses
//
//	pending   -> submitted (Daraja accepted it) | unknown (the answer was
//	             lost: it may have been sent) | failed (Daraja refused it)
//	submitted -> succeeded | failed | unknown (queue timeout) | needs_review
//	unknown   -> succeeded | failed | needs_review (final deadline)
//	succeeded | failed -> needs_review (a later answer contradicts it)
//
// # Sent at most once
//
// Submit commits submit_started_at before the request goes out; a payout
// found with it set and no answer recorded (a crash, a lost answer) is never
// sent again: it becomes unknown and is settled by Transaction Status, with
// backoff, until FUNDIGO_PAYOUTS_FINAL_DEADLINE sends it to needs_review.
//
// # Matching results
//
// A B2C result names the payout by OriginatorConversationID (ours) and
// ConversationID (Daraja's ack); both must agree with what was stored. A
// Transaction Status result's outer ids are those of the query: the payout
// is found through its ResultParameters (OriginatorConversationID, by
// normalised key), or else through the query ids stored on the payout.
//
// Every money movement is written to the one ledger (payment_ledger, unique
// on the M-Pesa receipt) in the transaction that records the success.
package payout
