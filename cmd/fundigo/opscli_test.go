package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/amqpx"
	"fundigo/pkg/amqpx/amqpxtest"
	"fundigo/pkg/dlq"
	"fundigo/pkg/tasks"
	"fundigo/pkg/tasks/taskstest"
)

func runCLI(t *testing.T, getenv func(string) string, args ...string) (string, error) {
	t.Helper()
	out, logs := &lockedBuffer{}, &lockedBuffer{} // connections log from their own goroutines
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := run(ctx, args, getenv, out, logs)
	return out.String(), err
}

// A message dead-lettered behind a domain queue is listed, inspected (and
// left in place), replayed into its queue, and a purge empties the DLQ.
func TestDLQCommands(t *testing.T) {
	t.Parallel()
	getenv, _ := testEnv(t, map[string]string{"FUNDIGO_SIMULATORS": "true"})
	stop, _ := startRole(t, getenv, "worker") // declares every queue
	require.NoError(t, stop())                // nothing consumes from here on

	out, err := runCLI(t, getenv, "dlq", "list", "--json")
	require.NoError(t, err)
	var depths []dlq.Depth
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var d dlq.Depth
		require.NoError(t, json.Unmarshal([]byte(line), &d))
		depths = append(depths, d)
	}
	require.NotEmpty(t, depths)
	queue := depths[0].Queue
	require.Equal(t, 0, depths[0].DeadLetters)

	ch, err := amqp.Dial(amqpxtest.URL())
	require.NoError(t, err)
	defer ch.Close()
	c, err := ch.Channel()
	require.NoError(t, err)
	publish := func(id string) {
		require.NoError(t, c.Publish("", amqpx.DLQName(queue), false, false, amqp.Publishing{
			MessageId: id, Type: "payment.paid", Body: []byte(`{"phone":"254712345678"}`),
			Headers: amqp.Table{"x-first-death-reason": "rejected"}}))
	}
	publish("msg-1")
	count := func(name string) int {
		st, err := c.QueueDeclarePassive(name, true, false, false, false, nil)
		require.NoError(t, err)
		return st.Messages
	}
	require.Eventually(t, func() bool { return count(amqpx.DLQName(queue)) == 1 }, 10*time.Second, 50*time.Millisecond)

	out, err = runCLI(t, getenv, "dlq", "list", queue)
	require.NoError(t, err)
	require.Regexp(t, queue+`\s+0\s+1`, out)

	out, err = runCLI(t, getenv, "dlq", "inspect", queue)
	require.NoError(t, err)
	require.Contains(t, out, "msg-1")
	require.Contains(t, out, "rejected")
	require.NotContains(t, out, "254712345678", "bodies are not printed")
	require.Eventually(t, func() bool { return count(amqpx.DLQName(queue)) == 1 }, 10*time.Second, 50*time.Millisecond, "inspect leaves it")

	_, err = runCLI(t, getenv, "dlq", "inspect", "not-a-queue")
	require.ErrorContains(t, err, "unknown queue")

	out, err = runCLI(t, getenv, "dlq", "replay", queue)
	require.NoError(t, err)
	require.Contains(t, out, "msg-1")
	require.Equal(t, 0, count(amqpx.DLQName(queue)))
	require.Equal(t, 1, count(queue))

	publish("msg-2")
	_, err = runCLI(t, getenv, "dlq", "purge", queue)
	require.ErrorContains(t, err, "--yes")
	out, err = runCLI(t, getenv, "dlq", "purge", queue, "--yes")
	require.NoError(t, err)
	require.Contains(t, out, "purged 1")
	require.Equal(t, 0, count(amqpx.DLQName(queue)))
}

// Archived Asynq tasks are listed without payloads, retried, and purged.
func TestTasksArchivedCommands(t *testing.T) {
	t.Parallel()
	getenv, _ := testEnv(t, nil)
	q := tasks.NewQueues(getenv("FUNDIGO_TASKS_QUEUE_PREFIX")).Default
	client := asynq.NewClient(taskstest.RedisOpt())
	defer client.Close()
	insp := asynq.NewInspector(taskstest.RedisOpt())
	defer insp.Close()
	archive := func(id string) {
		_, err := client.Enqueue(asynq.NewTask("ops:test", []byte(`{"secret":"payload-secret"}`)), asynq.Queue(q), asynq.TaskID(id))
		require.NoError(t, err)
		require.NoError(t, insp.ArchiveTask(q, id))
	}
	t.Cleanup(func() { _ = insp.DeleteQueue(q, true) })
	archive("task-a")

	out, err := runCLI(t, getenv, "tasks", "archived", "list")
	require.NoError(t, err)
	require.Contains(t, out, "task-a")
	require.Contains(t, out, "ops:test")
	require.NotContains(t, out, "payload-secret")

	out, err = runCLI(t, getenv, "tasks", "archived", "retry", "--queue", q, "task-a")
	require.NoError(t, err)
	require.Contains(t, out, "retrying 1")
	info, err := insp.GetTaskInfo(q, "task-a")
	require.NoError(t, err)
	require.Equal(t, asynq.TaskStatePending, info.State)

	require.NoError(t, insp.ArchiveTask(q, "task-a"))
	archive("task-b")
	_, err = runCLI(t, getenv, "tasks", "archived", "purge", "--queue", q)
	require.ErrorContains(t, err, "--yes")
	out, err = runCLI(t, getenv, "tasks", "archived", "purge", "--queue", q, "--yes")
	require.NoError(t, err)
	require.Contains(t, out, "deleted 2")
	_, err = runCLI(t, getenv, "tasks", "archived", "list", "--queue", "nope")
	require.ErrorContains(t, err, "unknown queue")
}
