package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// NoopTaskType is the task type of the no-op round trips.
const NoopTaskType = "bench:noop"

// AsynqNoop measures raw Asynq no-op round trips: each operation enqueues a
// task on a scratch queue with a plain asynq.Client and waits until a plain
// asynq.Server (serverConcurrency goroutines, a bare ServeMux, no
// middleware) ran its handler. The queue is deleted afterwards.
func AsynqNoop(ctx context.Context, redis asynq.RedisConnOpt, serverConcurrency int, opts Options) (Result, error) {
	const name = "baseline.asynq_noop"
	queue := ScratchName("bench")
	var waiters Waiters
	mux := asynq.NewServeMux()
	mux.HandleFunc(NoopTaskType, func(ctx context.Context, _ *asynq.Task) error {
		id, _ := asynq.GetTaskID(ctx)
		waiters.Done(id)
		return nil
	})
	srv := asynq.NewServer(redis, asynq.Config{
		Concurrency: serverConcurrency,
		Queues:      map[string]int{queue: 1},
		Logger:      quietAsynq{},
		LogLevel:    asynq.FatalLevel,
	})
	if err := srv.Start(mux); err != nil {
		return Result{Name: name}, fmt.Errorf("start asynq server: %w", err)
	}
	client := asynq.NewClient(redis)
	defer func() {
		srv.Shutdown()
		_ = client.Close()
		DeleteAsynqQueues(redis, queue)
	}()
	res, err := Run(ctx, name, opts, AsynqRoundTrip(client, &waiters, queue))
	res.Unit = "round trip"
	return res, err
}

// AsynqRoundTrip is the operation of a no-op round trip: enqueue a
// NoopTaskType task with a fresh id on queue, then wait until the handler
// calls waiters.Done with that id (asynq.GetTaskID).
func AsynqRoundTrip(client *asynq.Client, waiters *Waiters, queue string) OpFunc {
	return func(ctx context.Context) error {
		id := uuid.NewString()
		done := waiters.Add(id)
		if _, err := client.EnqueueContext(ctx, asynq.NewTask(NoopTaskType, nil),
			asynq.Queue(queue), asynq.TaskID(id), asynq.MaxRetry(0)); err != nil {
			waiters.Forget(id)
			return fmt.Errorf("enqueue: %w", err)
		}
		return waiters.Wait(ctx, id, done)
	}
}

// DeleteAsynqQueues removes scratch queues and whatever tasks remain in them.
func DeleteAsynqQueues(redisOpt asynq.RedisConnOpt, queues ...string) {
	insp := asynq.NewInspector(redisOpt)
	defer insp.Close()
	for _, q := range queues {
		for range 3 { // a queue with active tasks refuses deletion until they finish
			if err := insp.DeleteQueue(q, true); err == nil || errors.Is(err, asynq.ErrQueueNotFound) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	// DeleteQueue leaves the queue's statistics (processed and failed
	// counters, total and per day), and a server still stopping may write
	// them after it: the rest of the queue's keys go here.
	c, ok := redisOpt.MakeRedisClient().(redis.UniversalClient)
	if !ok {
		return
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, q := range queues {
		iter := c.Scan(ctx, 0, "asynq:{"+q+"}:*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	}
}

type quietAsynq struct{}

func (quietAsynq) Debug(...any) {}
func (quietAsynq) Info(...any)  {}
func (quietAsynq) Warn(...any)  {}
func (quietAsynq) Error(...any) {}
func (quietAsynq) Fatal(...any) {}
