package tasks_test

import (
	"context"
	"fmt"

	"github.com/hibiken/asynq"

	"fundigo/pkg/tasks"
)

// A typed task handler: the payload is decoded (and validated, when the
// payload type has a Validate method) before the handler runs, so the
// handler never sees the *asynq.Task; a payload that does not decode or
// validate is archived without a retry.
func ExampleJSON() {
	mux := asynq.NewServeMux()
	mux.Use(tasks.Classify())
	mux.Handle(tasks.TypeSTKPush, tasks.JSON(func(_ context.Context, p tasks.STKPushPayload) error {
		fmt.Println("push payment", p.PaymentID)
		return nil
	}))
	ctx := context.Background()
	fmt.Println(mux.ProcessTask(ctx, asynq.NewTask(tasks.TypeSTKPush, []byte(`{"payment_id":"p-1"}`))))
	err := mux.ProcessTask(ctx, asynq.NewTask(tasks.TypeSTKPush, []byte(`{}`)))
	fmt.Println(tasks.IsPermanent(err), err)
	// Output:
	// push payment p-1
	// <nil>
	// true permanent: invalid mpesa:stk_push payload: payment_id is required (skip retry for the task)
}
