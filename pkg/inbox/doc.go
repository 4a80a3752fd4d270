// Package inbox is the durable intake for webhooks (ARCHITECTURE.md
// guarantee 1): a delivery is acknowledged only after its raw bytes are
// committed to PostgreSQL.
//
// # Group commit
//
// Writer.Write groups concurrent deliveries into one transaction: the first
// caller of a batch waits up to Window (a few ms) or until MaxBatch callers
// joined, then commits for all of them; each caller returns only after its own
// row is committed (or with the batch's error). One fsync thus covers many
// deliveries, so intake is not capped by the disk's fsync rate. There is no
// background goroutine: batches are led by their first caller, so Write
// needs no Run and stops with the HTTP server that calls it.
//
// One bad delivery never fails its batch-mates: a batch the database refuses
// deterministically (SQLSTATE class 22/23/54, e.g. a NUL or an oversize key)
// is split and committed in halves until the bad deliveries are isolated;
// they fail with ErrRejected (the caller answers 400 and quarantines), the
// others commit. Keys that could never be stored are refused before joining.
//
// # Idempotency
//
// Rows are unique on (route, natural key, sha256(body)): an identical
// redelivery is a no-op reported as Duplicate, and publishes nothing. A
// different body for the same key (Daraja resending with other content) is a
// new row: consumers dedupe on their own domain keys.
//
// # Relay
//
// Each new row is written with an outbox message in the same transaction
// (routing key chosen by the caller, payload Notice), so the outbox relay
// publishes it to RabbitMQ with confirms; consumers load the body with Get.
// A route whose applier claims its rows straight from the table (the STK
// callbacks) sets Entry.Notify instead: no outbox row, and a batch of such
// entries is one autocommitted insert, a single round trip per grouped
// commit, after which the appliers are woken (store.Notify, outside the
// commit: see pkg/store/notify.go).
//
// # Quarantine
//
// Bodies that cannot be parsed are kept by Quarantine in a capped table for
// operators; they are never processed.
package inbox
