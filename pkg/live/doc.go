// Package live delivers domain events to connected clients in real time:
// the WebSocket (GET /v1/stream) and Server-Sent Events (GET /v1/events)
// routes of the API sit on it. It knows no domain: an event is a type, a
// commit time and a JSON body addressed to one owner (a user id).
//
// # Data flow
//
// A worker-side consumer (workers/live) turns each committed domain event
// (published through the outbox to RabbitMQ) into one Event per owner and
// calls Streams.Append, which in one Redis script
//
//   - appends it to the owner's capped stream (XADD MAXLEN ~ Config.MaxLen;
//     the key expires Config.Retention after its last event), so its stream
//     id ("<ms>-<seq>") is the message id clients resume from;
//   - skips it when the same (message id, owner) was appended within the
//     retention window (RabbitMQ delivers at least once);
//   - PUBLISHes it on one fan-out channel that every API replica's Hub
//     subscribes to.
//
// Each Hub dispatches a published event to the Subscriptions of its owner on
// that replica, never blocking: a subscription whose bounded buffer is full
// is dropped with ErrSlowConsumer (the client reconnects and resumes).
//
// # Resume
//
// A subscription opened with a resume id first replays the owner's stream
// after that id (XRANGE), then live messages newer than the replay. When
// the id is older than the retention window, or entries after it were
// trimmed (XINFO STREAM max-deleted-entry-id), or the stream is gone, the
// client gets a Refetch message instead: it must reload its state over
// REST. Every subscription starts with a Ready message carrying the stream's
// current id, so even a client that received nothing can resume.
//
// # Guarantees and limits
//
// Only committed changes are announced (the outbox). Within the retention
// window a client that resumes from the last id it saw receives every event
// of its owner once, in stream order. When a Hub's Redis subscription is
// re-established (Redis restart or failover), messages published meanwhile
// were not seen, so the Hub drops every subscription with ErrResync and
// clients resume from the stream. Every replica receives every event on the
// one channel (simple, and cheap at FundiGO's event rates; shard the channel
// by owner hash when one Redis shard's pub/sub becomes the limit).
package live
