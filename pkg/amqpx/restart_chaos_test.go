//go:build chaos

package amqpx_test

import (
	"context"
	"fmt"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/amqpx"
)

// rabbitmqctl runs one rabbitmqctl command against the local broker.
func rabbitmqctl(t *testing.T, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "rabbitmqctl", args...).CombinedOutput()
	require.NoError(t, err, "rabbitmqctl %v: %s", args, out)
}

// TestChaosBrokerRestart publishes confirmed messages continuously while the
// broker is stopped and started (rabbitmqctl stop_app / start_app). Every
// message whose Publish returned nil must be consumed after recovery; a
// publish during the outage must fail (or block and then succeed), never
// vanish. It stops RabbitMQ for everyone: run it alone,
//
//	go test -race -tags chaos -p 1 -run Chaos ./pkg/amqpx/
func TestChaosBrokerRestart(t *testing.T) {
	// Not parallel: the broker goes down for every test.
	b := setup(t)
	col := newCollector()
	spec := b.spec("chaos", col.handle)
	b.start(t, spec)
	pub := b.publisher(t, amqpx.PublisherConfig{Mandatory: true})
	// Registered last so it runs first: whatever happened, the broker is up
	// again before the other cleanups (and everyone else's tests) need it.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		_ = exec.CommandContext(ctx, "rabbitmqctl", "start_app").Run()
		_ = exec.CommandContext(ctx, "rabbitmqctl", "await_startup").Run()
	})

	var (
		mu        sync.Mutex
		confirmed = map[string]bool{}
		failed    atomic.Int64
		seq       atomic.Int64
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("g%d-%d", g, seq.Add(1))
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				err := pub.Publish(ctx, b.exchange, "chaos", amqp.Publishing{MessageId: id, Body: []byte(id)})
				cancel()
				if err != nil {
					failed.Add(1)
					continue
				}
				mu.Lock()
				confirmed[id] = true
				mu.Unlock()
			}
		})
	}
	confirmedCount := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(confirmed)
	}

	require.Eventually(t, func() bool { return confirmedCount() >= 500 }, 30*time.Second, 10*time.Millisecond)
	beforeStop := confirmedCount()
	t.Logf("confirmed before the outage: %d", beforeStop)

	rabbitmqctl(t, "stop_app")
	// The outage must be visible to publishers.
	require.Eventually(t, func() bool { return failed.Load() > 0 }, 30*time.Second, 10*time.Millisecond)
	duringOutage := confirmedCount()
	rabbitmqctl(t, "start_app")
	rabbitmqctl(t, "await_startup")

	// Publishing resumes by itself.
	require.Eventually(t, func() bool { return confirmedCount() >= duringOutage+500 }, 60*time.Second, 20*time.Millisecond)
	close(stop)
	wg.Wait()

	mu.Lock()
	want := make([]string, 0, len(confirmed))
	for id := range confirmed {
		want = append(want, id)
	}
	mu.Unlock()

	// Every confirmed message is consumed after recovery.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		seen, _ := col.snapshot()
		var missing []string
		for _, id := range want {
			if seen[id] == 0 {
				missing = append(missing, id)
			}
		}
		require.Empty(c, missing, "confirmed but never consumed")
	}, 2*time.Minute, 100*time.Millisecond)

	seen, _ := col.snapshot()
	var dups, unconfirmedDelivered int
	for id, n := range seen {
		if n > 1 {
			dups++
		}
		if !confirmed[id] {
			unconfirmedDelivered++
		}
	}
	t.Logf("published=%d confirmed=%d failed(visible to caller)=%d consumed=%d redelivered=%d delivered-though-unconfirmed=%d",
		seq.Load(), len(want), failed.Load(), len(seen), dups, unconfirmedDelivered)
}
