package storetest

import (
	"context"
	"fmt"
	"testing"
)

// Example runs fn with a testing.TB for a runnable example (func ExampleX
// has no *testing.T), so an example gets its resources from the same
// helpers as the tests (NewPool, taskstest, amqpxtest) and leaves nothing
// behind: the cleanups run when fn returns, and a failure panics, which
// fails the example.
func Example(name string, fn func(t testing.TB)) {
	t := &exampleTB{name: name}
	defer t.cleanup()
	fn(t)
}

// exampleTB implements the testing.TB methods the helpers call; the
// embedded TB is nil, so any other method panics.
type exampleTB struct {
	testing.TB
	name     string
	cleanups []func()
}

func (t *exampleTB) Helper()           {}
func (t *exampleTB) Name() string      { return t.name }
func (t *exampleTB) Cleanup(fn func()) { t.cleanups = append(t.cleanups, fn) }
func (t *exampleTB) Failed() bool      { return false }

func (t *exampleTB) Context() context.Context { return context.Background() }

func (t *exampleTB) Log(args ...any)                 {}
func (t *exampleTB) Logf(format string, args ...any) {}
func (t *exampleTB) Error(args ...any)               { panic(fmt.Sprint(args...)) }
func (t *exampleTB) Errorf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}
func (t *exampleTB) Fatal(args ...any) { panic(fmt.Sprint(args...)) }
func (t *exampleTB) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}
func (t *exampleTB) FailNow() { panic("example failed") }

func (t *exampleTB) cleanup() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}
