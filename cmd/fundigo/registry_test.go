package main

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/config"
	"fundigo/pkg/tasks"
	"fundigo/scheduler"
	"fundigo/workers/maintenance"
	"fundigo/workers/notifications"
	"fundigo/workers/payments"
	"fundigo/workers/ratings"
)

// The scheduler's static list of handled task types says what the worker's
// real mux says, for every scheduled type and every type a domain lists; a
// type nobody registers is not handled.
func TestHandledTaskTypesMatchTheWorker(t *testing.T) {
	t.Parallel()
	getenv, _ := testEnv(t, nil)
	cfg, err := config.Load(getenv)
	require.NoError(t, err)
	in, err := openInfra(context.Background(), cfg, zerolog.Nop(), "test-registry")
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		in.close(ctx)
	})
	w, err := registryWorkers(in) // built in memory, never run: nothing declared
	require.NoError(t, err)

	handled := handledTaskTypes()
	types := []string{"test:nobody-handles-this"}
	for _, s := range scheduler.Table(in.queues) {
		types = append(types, s.TaskType)
	}
	for _, list := range [][]string{payments.TaskTypes(), notifications.TaskTypes(), ratings.TaskTypes(), maintenance.TaskTypes()} {
		types = append(types, list...)
	}
	for _, typ := range types {
		require.Equal(t, w.HasHandler(typ), handled(typ), typ)
	}
	require.True(t, handled(tasks.TypePaymentsReconcile))
	require.False(t, handled("test:nobody-handles-this"))
}
