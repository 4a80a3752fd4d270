// Package notifications is the push notification domain: it fans requested
// notifications out to users' devices, sends them through Expo (and FCM for
// native tokens) and follows up on receipts.
//
// # Flow
//
//  1. A notification arrives as a notification.requested event (from the API,
//     through the outbox) or is created here from a domain event
//     (payment.paid, payment.failed). Either way it is stored once per source
//     key (Idempotency-Key, or event + entity + recipient).
//  2. Fan-out writes one delivery row per (notification, active device):
//     pending, deferred (quiet hours, normal priority) or muted (category
//     muted by the user). The unique (notification, device) key makes a
//     replayed fan-out a no-op.
//  3. push:send tasks claim up to 100 due rows each with a conditional
//     update (pending/deferred → sending), render them in the device's
//     locale, send them and settle them from the tickets. A claimed row is
//     handed to a provider at most once: a temporary refusal (429/5xx after
//     the client's own retries) releases the rows for the task's retry; a
//     worker that dies mid-send leaves them claimed, and push:receipts later
//     fails them as "outcome_unknown" rather than risk a second send.
//  4. push:receipts (every 5 minutes) fetches receipts of tickets older than
//     the receipt delay, in batches of at most 1000, deactivates
//     DeviceNotRegistered tokens, and picks up due deferred deliveries.
//
// Time comes from Deps.NowFunc, so tests move quiet hours and receipt delays
// without sleeping.
package notifications
