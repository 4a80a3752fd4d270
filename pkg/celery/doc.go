// Package celery speaks Celery's wire formats so Go workers can stand in for
// Python ones without a change on the Django side:
//
//   - the task message of protocol v2 with the JSON serializer (AMQP
//     properties, the application headers task/id/retries/eta/expires/
//     timelimit/root_id/parent_id/group, and the body [args, kwargs, embed]),
//     decoded by [Decode] and encoded by [Message.Publishing];
//   - kombu's JSON type wrappers ({"__type__": "datetime", "__value__": …}
//     and friends, kombu ≥ 5.3), unwrapped by [Unmarshal] and emitted by
//     [Marshal];
//   - the Redis result backend: key celery-task-meta-<id>, a JSON [Meta],
//     SETEX with the result expiry plus a PUBLISH of the same value on the
//     channel of the same name ([Backend.Store]), never overwriting a stored
//     SUCCESS;
//   - exceptions as Celery's JSON result serializer encodes them
//     ({exc_type, exc_message, exc_module}, [Exception]), naming classes that
//     a Python client resolves from sys.modules (builtins, celery.exceptions,
//     kombu.exceptions).
//
// The package carries no workflow: consuming, retrying and parking ETA tasks
// live in workers/celerycompat.
package celery
