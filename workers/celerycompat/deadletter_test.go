package celerycompat_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/celery"
	"fundigo/workers/celerycompat"
)

func TestUnknownTaskIsDeadLetteredAndReplayable(t *testing.T) {
	t.Parallel()
	for _, broker := range brokers {
		t.Run(broker, func(t *testing.T) {
			t.Parallel()
			testUnknownTaskIsDeadLetteredAndReplayable(t, broker == "redis")
		})
	}
}

// A dead-letter queue nobody has written to yet lists empty on both brokers
// (no raw AMQP 404).
func TestMissingDeadLetterQueueListsEmpty(t *testing.T) {
	t.Parallel()
	for _, broker := range brokers {
		t.Run(broker, func(t *testing.T) {
			t.Parallel()
			b := setup(t, options{redis: broker == "redis"})
			require.Empty(t, b.listDeadLetters(t))
			replayed := b.replayDeadLetters(t, func(celerycompat.DeadLetter) bool { return true })
			require.Empty(t, replayed)
		})
	}
}

func testUnknownTaskIsDeadLetteredAndReplayable(t *testing.T, onRedis bool) {
	b := setup(t, options{redis: onRedis})
	rec, stop := b.startAdd(t)

	m := newMessage(t, "billing.tasks.not_moved_yet", 1, 2)
	b.send(t, m)
	meta := b.waitState(t, m.ID, celery.StateFailure, 10*time.Second)
	exc, err := meta.Exception()
	require.NoError(t, err)
	require.Equal(t, celery.NotRegistered("billing.tasks.not_moved_yet"), exc,
		"AsyncResult.get() raises NotRegistered instead of hanging")
	require.Eventually(t, func() bool { return b.ready(t, b.dlq) == 1 && b.ready(t, b.queue) == 0 },
		5*time.Second, 20*time.Millisecond, "the message is kept, never dropped")

	listed := b.listDeadLetters(t)
	require.Len(t, listed, 1)
	require.Equal(t, m.ID, listed[0].ID)
	require.Equal(t, "billing.tasks.not_moved_yet", listed[0].Task)
	require.Equal(t, b.queue, listed[0].Queue)
	require.Contains(t, listed[0].Reason, "unknown task")
	require.NotEmpty(t, listed[0].DeadLetteredAt)
	require.Eventually(t, func() bool { return b.ready(t, b.dlq) == 1 }, 5*time.Second, 20*time.Millisecond,
		"listing leaves the message in place")
	stop()

	// The task moves to Go: replaying runs it and its result replaces the FAILURE.
	b.start(t, map[string]celerycompat.HandlerFunc{"billing.tasks.not_moved_yet": rec.wrap(add)})
	other := newMessage(t, "billing.tasks.other", 1) // dead-lettered too, but not replayed below
	b.send(t, other)
	require.Eventually(t, func() bool { return b.ready(t, b.dlq) == 2 }, 10*time.Second, 20*time.Millisecond)
	replayed := b.replayDeadLetters(t, func(d celerycompat.DeadLetter) bool { return d.Task == "billing.tasks.not_moved_yet" })
	require.Len(t, replayed, 1)
	require.Equal(t, m.ID, replayed[0].ID)
	meta = b.waitState(t, m.ID, celery.StateSuccess, 10*time.Second)
	require.JSONEq(t, `3`, string(meta.Result))
	require.Eventually(t, func() bool { return b.ready(t, b.dlq) == 1 }, 5*time.Second, 20*time.Millisecond,
		"the unmatched dead letter stays")
	for _, c := range rec.calls() {
		require.NotContains(t, c.Extra, celerycompat.HeaderDeadLetterReason, "replay strips the dead-letter headers")
	}
}

func TestReplayOfStillUnknownTaskDoesNotLoop(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	b.start(t, map[string]celerycompat.HandlerFunc{"tests.add": add})
	m := newMessage(t, "billing.tasks.not_moved_yet")
	b.send(t, m)
	require.Eventually(t, func() bool { return b.ready(t, b.dlq) == 1 }, 10*time.Second, 20*time.Millisecond)

	// The worker still does not know the task: each replayed copy is
	// dead-lettered again at once, and must not be picked up by the same replay.
	replayed, err := celerycompat.ReplayDeadLetters(context.Background(), b.conn, b.pub, b.dlq, 100,
		func(celerycompat.DeadLetter) bool { return true })
	require.NoError(t, err)
	require.Len(t, replayed, 1)
	require.Eventually(t, func() bool { return b.ready(t, b.dlq) == 1 && b.ready(t, b.queue) == 0 },
		10*time.Second, 20*time.Millisecond, "the message is back in the dead-letter queue, once")
}

func TestUnrunnableMessagesAreDeadLettered(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	rec, _ := b.startAdd(t)
	ctx := context.Background()

	pickled := "7d9a1b2c-3e4f-4a5b-8c6d-" + randomHex(6)
	b.track(pickled)
	require.NoError(t, b.pub.Publish(ctx, "", b.queue, amqp.Publishing{
		ContentType: "application/x-python-serialize", ContentEncoding: "binary", CorrelationId: pickled,
		Headers: amqp.Table{"task": "tests.add", "id": pickled, "retries": int32(0)}, Body: []byte{0x80, 0x04, 0x95},
	}))
	meta := b.waitState(t, pickled, celery.StateFailure, 10*time.Second)
	exc, err := meta.Exception()
	require.NoError(t, err)
	require.Equal(t, "kombu.exceptions", exc.Module)
	require.Equal(t, "ContentDisallowed", exc.Type)

	chained := newMessage(t, "tests.add", 1)
	chained.Embed.Chain = json.RawMessage(`[{"task": "tests.add", "args": [2], "kwargs": {}, "options": {}, "subtask_type": null, "immutable": false}]`)
	b.send(t, chained)
	meta = b.waitState(t, chained.ID, celery.StateFailure, 10*time.Second)
	exc, err = meta.Exception()
	require.NoError(t, err)
	require.Equal(t, "NotImplementedError", exc.Type)
	require.Contains(t, exc.Message[0], "chain")

	// Not a Celery message at all: no id, no result, but still kept.
	require.NoError(t, b.pub.Publish(ctx, "", b.queue, amqp.Publishing{ContentType: "text/plain", Body: []byte("hello")}))

	require.Eventually(t, func() bool { return b.ready(t, b.dlq) == 3 && b.ready(t, b.queue) == 0 },
		10*time.Second, 20*time.Millisecond)
	require.Empty(t, rec.calls(), "nothing unrunnable reaches a handler")
	listed, err := celerycompat.ListDeadLetters(ctx, b.conn, b.dlq, 10)
	require.NoError(t, err)
	require.Len(t, listed, 3)
	require.Contains(t, listed[0].Reason, "content type")
	require.Contains(t, listed[1].Reason, "canvas chain")
	require.Contains(t, listed[2].Reason, "no task header")
}
