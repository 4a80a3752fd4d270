package payments

import (
	"github.com/hibiken/asynq"

	"fundigo/pkg/amqpx"
	"fundigo/pkg/events"
	"fundigo/pkg/tasks"
)

// Register adds the payments task handlers to mux. It panics on invalid deps
// (a wiring bug at startup).
func Register(mux *asynq.ServeMux, deps Deps) {
	deps.setDefaults()
	if err := deps.validate(); err != nil {
		panic(err)
	}
	mux.Handle(tasks.TypeSTKPush, handleSTKPush(deps))
	mux.Handle(tasks.TypePaymentsReconcile, handleReconcile(deps))
}

// CallbackQueue is the AMQP queue of the STK callback consumer.
func CallbackQueue(prefix string) string { return prefix + "payments.stk_callbacks" }

// Consumers returns the RabbitMQ consumers of the payments domain: the
// applier of stored STK callbacks.
func Consumers(deps Deps) []amqpx.ConsumerSpec {
	deps.setDefaults()
	if err := deps.validate(); err != nil {
		panic(err)
	}
	return []amqpx.ConsumerSpec{{
		Queue:         CallbackQueue(deps.QueuePrefix),
		Exchange:      deps.Exchange,
		Bindings:      []string{events.RoutingKeySTKCallbackReceived},
		Concurrency:   deps.Concurrency,
		DeliveryLimit: deps.DeliveryLimit,
		Handler:       handleCallbackNotice(deps),
	}}
}
