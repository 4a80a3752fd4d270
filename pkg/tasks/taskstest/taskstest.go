// Package taskstest isolates Redis and Asynq for tests: unique queue names and
// key prefixes per test on the real Redis, cleaned up afterwards (never a
// FLUSHDB). Import it only from _test.go files.
package taskstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"fundigo/pkg/tasks"
)

// URL is the Redis the tests use: FUNDIGO_TEST_REDIS_URL or local DB 1.
func URL() string {
	if u := os.Getenv("FUNDIGO_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/1"
}

// RedisOpt is the Asynq connection option for URL.
func RedisOpt() asynq.RedisConnOpt {
	opt, err := asynq.ParseRedisURI(URL())
	if err != nil {
		panic("taskstest: bad FUNDIGO_TEST_REDIS_URL: " + err.Error())
	}
	return opt
}

// Redis returns a client for URL, closed in Cleanup.
func Redis(t testing.TB) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(URL())
	if err != nil {
		t.Fatalf("taskstest: parse redis url: %v", err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Prefix returns a unique key prefix; keys under it are deleted in Cleanup.
func Prefix(t testing.TB) string {
	t.Helper()
	p := "test:" + randomHex(6) + ":"
	c := Redis(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, p+"*", 500).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	})
	return p
}

// Queues returns unique Asynq queue names for the test; the queues are
// deleted in Cleanup.
func Queues(t testing.TB) tasks.Queues {
	t.Helper()
	return tasks.NewQueues(QueuePrefix(t))
}

// QueuePrefix returns a unique Asynq queue-name prefix (for code under test
// that builds its own queue names, e.g. run() via FUNDIGO_TASKS_QUEUE_PREFIX);
// the queues under it are deleted in Cleanup.
func QueuePrefix(t testing.TB) string {
	t.Helper()
	prefix := "t" + randomHex(5) + ":"
	q := tasks.NewQueues(prefix)
	t.Cleanup(func() {
		insp := asynq.NewInspector(RedisOpt())
		defer insp.Close()
		for _, name := range q.All() {
			_ = insp.DeleteQueue(name, true)
		}
	})
	return prefix
}

// Client returns an Asynq client, closed in Cleanup.
func Client(t testing.TB) *asynq.Client {
	t.Helper()
	c := asynq.NewClient(RedisOpt())
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Inspector returns an Asynq inspector, closed in Cleanup.
func Inspector(t testing.TB) *asynq.Inspector {
	t.Helper()
	i := asynq.NewInspector(RedisOpt())
	t.Cleanup(func() { _ = i.Close() })
	return i
}

// Serve runs an Asynq server for the test's queues with handler (behind
// tasks.Classify, as in the workers) until Cleanup.
// Delayed and retried tasks are checked every 100 ms, so tests do not wait
// asynq's default 5 s.
func Serve(t testing.TB, q tasks.Queues, handler asynq.Handler) {
	t.Helper()
	srv := asynq.NewServer(RedisOpt(), asynq.Config{
		Concurrency:              8,
		Queues:                   q.Priorities(),
		RetryDelayFunc:           func(int, error, *asynq.Task) time.Duration { return 100 * time.Millisecond },
		DelayedTaskCheckInterval: 100 * time.Millisecond,
		ShutdownTimeout:          5 * time.Second,
		Logger:                   quietLogger{},
	})
	if err := srv.Start(tasks.Classify()(handler)); err != nil {
		t.Fatalf("taskstest: start asynq server: %v", err)
	}
	t.Cleanup(srv.Shutdown)
}

type quietLogger struct{}

func (quietLogger) Debug(...any) {}
func (quietLogger) Info(...any)  {}
func (quietLogger) Warn(...any)  {}
func (quietLogger) Error(...any) {}
func (quietLogger) Fatal(...any) {}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
