package notification

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/tasks"
	"fundigo/pkg/tasks/taskstest"
)

// BenchmarkPushThroughWorkers measures notifications per second through the
// whole worker path of one process: fan-out into delivery rows, push:send
// tasks on an Asynq server (concurrency 20, the worker default), claims,
// rendering, the Expo client (6 requests in flight, gzip, the Redis rate
// limiter set far above the load so it only costs its round trip) and
// settling the tickets, against the in-memory simulator. Each iteration is
// one notification to 1,000 users with one device each; all are requested
// at once and the figure is messages received by the simulator per second.
//
//	go test -run '^$' -bench PushThroughWorkers -benchtime 20x ./pkg/notification/
func BenchmarkPushThroughWorkers(b *testing.B) {
	const n = 1000
	bb := setup(b, options{ratePerSecond: 10_000_000})
	bb.p.cfg.NowFunc = time.Now
	bb.addDevices(b, 0, n, "en", expoToken)
	srv := asynq.NewServer(taskstest.RedisOpt(), asynq.Config{
		Concurrency: 20, Queues: bb.p.cfg.Queues.Priorities(), RetryDelayFunc: tasks.RetryDelay,
		DelayedTaskCheckInterval: 100 * time.Millisecond, Logger: quietAsynq{},
	})
	require.NoError(b, srv.Start(pushMux(bb.p)))
	b.Cleanup(srv.Shutdown)

	ids := users(0, n)
	b.ResetTimer()
	start := time.Now()
	// All b.N notifications are requested at once, as a burst of traffic
	// would be: the workers stay busy (an idle Asynq processor polls only
	// once a second, which would otherwise dominate).
	notificationIDs := make([]string, b.N)
	for i := range notificationIDs {
		notificationIDs[i] = uuid.NewString()
		require.NoError(b, bb.p.Accept(b.Context(), Request{
			ID: notificationIDs[i], UserIDs: ids, Template: "job_assigned", Params: map[string]any{"job_id": "J-1"},
		}))
	}
	for _, id := range notificationIDs {
		for bb.status(b, id) != StatusDone {
			time.Sleep(5 * time.Millisecond) // polling the benchmark's own end, not synchronising a test
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N*n)/elapsed.Seconds(), "notifications/s")
	require.Equal(b, b.N*n, bb.sim.Stats().Messages)
}

type quietAsynq struct{}

func (quietAsynq) Debug(...any) {}
func (quietAsynq) Info(...any)  {}
func (quietAsynq) Warn(...any)  {}
func (quietAsynq) Error(...any) {}
func (quietAsynq) Fatal(...any) {}
