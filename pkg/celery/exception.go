package celery

import (
	"fmt"
	"strings"
)

// Exception is a Python exception as Celery's JSON result serializer encodes
// it: the class name, its module and the constructor arguments. On read,
// Celery looks the module up in sys.modules (it never imports) and walks the
// dotted type name; a class it cannot find is synthesized under that name,
// and an object that is not an exception class raises SecurityError. So use
// modules every Celery client has loaded: builtins, celery.exceptions,
// kombu.exceptions.
//
// Exception is also an error: a task handler returns one to fail the task
// with exactly that class, e.g. ValueError("amount must be positive").
type Exception struct {
	Type    string `json:"exc_type"`
	Message []any  `json:"exc_message"`
	Module  string `json:"exc_module"`
}

// NewException builds module.typ(args...).
func NewException(module, typ string, args ...any) *Exception {
	if args == nil {
		args = []any{}
	}
	return &Exception{Type: typ, Message: args, Module: module}
}

// Error renders it like Python's traceback last line: "ValueError: msg".
func (e *Exception) Error() string {
	parts := make([]string, len(e.Message))
	for i, a := range e.Message {
		parts[i] = fmt.Sprint(a)
	}
	return e.Type + ": " + strings.Join(parts, ", ")
}

// Traceback is the text stored in the result's traceback field. Go has no
// Python frames to show; the last line has Python's shape.
func (e *Exception) Traceback() string {
	return "Traceback (most recent call last):\n  (raised by a FundiGO Go worker)\n" + e.qualified() + "\n"
}

func (e *Exception) qualified() string {
	if e.Module == "" || e.Module == "builtins" {
		return e.Error()
	}
	return e.Module + "." + e.Error()
}

// ValueError is builtins.ValueError: an argument has the right type but a
// bad value. Not retried.
func ValueError(msg string) *Exception { return NewException("builtins", "ValueError", msg) }

// TypeError is builtins.TypeError: a missing, extra or mistyped argument, as
// Python raises for a bad call. Not retried.
func TypeError(msg string) *Exception { return NewException("builtins", "TypeError", msg) }

// RuntimeError is builtins.RuntimeError: an internal failure.
func RuntimeError(msg string) *Exception { return NewException("builtins", "RuntimeError", msg) }

// NotImplementedError is builtins.NotImplementedError: a Celery feature the
// Go workers do not support (canvas, protocol v1).
func NotImplementedError(msg string) *Exception {
	return NewException("builtins", "NotImplementedError", msg)
}

// NotRegistered is what Celery stores for a task name no worker knows.
func NotRegistered(task string) *Exception {
	return NewException("celery.exceptions", "NotRegistered", task)
}

// TaskRevokedError is the result of a revoked task; reason "expired" for a
// task that arrived after its expires time.
func TaskRevokedError(reason string) *Exception {
	return NewException("celery.exceptions", "TaskRevokedError", reason)
}

// TimeLimitExceeded is the result of a task killed by its hard time limit.
func TimeLimitExceeded(seconds float64) *Exception {
	return NewException("celery.exceptions", "TimeLimitExceeded", seconds)
}

// ContentDisallowed is what kombu raises for a serializer the worker does not
// accept (pickle, yaml, msgpack…).
func ContentDisallowed(msg string) *Exception {
	return NewException("kombu.exceptions", "ContentDisallowed", msg)
}
