// Package notification is the one home of the push notification domain:
// its types (Request, Notification, Device, Preferences), the one Validate
// per input that every entry point uses, its commands (Create, Lookup,
// RegisterDevice, DeleteDevice, PutPreferences, GetPreferences; each owns
// its transaction), its SQL (store.go) and the delivery workflow (Pipeline:
// fan-out, sending through Expo and FCM, receipts, quiet hours, templates).
// The REST handlers (api/notifications.go, devices.go, preferences.go), the
// event and task handlers (workers/notifications) and the Celery task
// (workers/celerycompat) only decode their transport, call one function
// here and map the outcome.
//
// # Flow
//
//  1. A notification is created by Create (POST /v1/notifications, the
//     Celery send_notification_async task), which stores it and writes its
//     notification.requested event to the outbox in one transaction; or it
//     arrives as a notification.requested event from another system, or is
//     made here from a domain event (payment.paid, payment.failed:
//     NotifyPayment). Pipeline.Accept stores it once per source key
//     (Idempotency-Key, Celery task id, or event + entity + recipient) and
//     fans it out.
//  2. Fan-out writes one delivery row per (notification, active device):
//     pending, deferred (quiet hours, normal priority) or muted (category
//     muted by the user). The unique (notification, device) key makes a
//     replayed fan-out a no-op.
//  3. The sender loop (Pipeline.RunSender, run by every worker process;
//     PipelineConfig.SendLoop) claims due rows of any notifications, up to
//     1000 at a time, in one conditional update (pending/deferred → sending,
//     FOR UPDATE SKIP LOCKED), renders them in the device's locale, packs
//     them into full Expo requests (100 messages whoever they are for,
//     several in flight) and FCM requests, settles the batch in one
//     transaction and completes the notifications it emptied in one
//     statement. push:send tasks (Pipeline.Send: up to 100 rows of one
//     notification) remain for the receipts run's resumes and for a
//     pipeline without the loop. A claimed row is handed to a provider at
//     most once: a temporary refusal (429/5xx after the client's own
//     retries) releases the rows for a later claim (the loop backs off; a
//     task is retried); a worker that dies mid-send leaves them claimed, and
//     push:receipts later fails them as "outcome_unknown" rather than risk a
//     second send.
//  4. push:receipts (Pipeline.CheckReceipts, every 5 minutes) fetches
//     receipts of tickets older than the receipt delay, in batches of at
//     most 1000, deactivates DeviceNotRegistered tokens, and picks up due
//     deferred deliveries.
//
// Time comes from PipelineConfig.NowFunc, so tests move quiet hours and
// receipt delays without sleeping.
package notification
