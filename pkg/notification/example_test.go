package notification_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"fundigo/pkg/notification"
	"fundigo/pkg/store/storetest"
)

// Create is what POST /v1/notifications and the Celery
// send_notification_async task both call: it validates the request, stores
// the notification once per source key and writes its
// notification.requested event in the same transaction; the notifications
// worker then fans it out to the users' devices.
func ExampleCreate() {
	storetest.Example("ExampleCreate", func(t testing.TB) {
		ctx := context.Background()
		pool := storetest.NewPool(t)
		req := notification.Request{ID: "0b6f9a3e-8c1d-4e2f-9a7b-1c2d3e4f5a6b", SourceKey: "api:django:key-1",
			UserIDs: []string{"cust-7"}, Title: "Fundi on the way", Body: "Your plumber arrives at 10:00"}
		for range 2 { // a retried request is the same notification, announced once
			n, created, err := notification.Create(ctx, pool, req)
			fmt.Println(n.ID, created, err)
		}
		var events int
		_ = pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE routing_key = 'notification.requested'`).Scan(&events)
		fmt.Println("events:", events)

		_, _, err := notification.Create(ctx, pool, notification.Request{ID: "0b6f9a3e-8c1d-4e2f-9a7b-1c2d3e4f5a6c"})
		var invalid *notification.ValidationError
		fmt.Println("invalid:", errors.As(err, &invalid))
	})
	// Output:
	// 0b6f9a3e-8c1d-4e2f-9a7b-1c2d3e4f5a6b true <nil>
	// 0b6f9a3e-8c1d-4e2f-9a7b-1c2d3e4f5a6b false <nil>
	// events: 1
	// invalid: true
}
