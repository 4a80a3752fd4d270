package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/jackc/pgx/v5/pgconn"
)

// Dependency names used in problem bodies (Problem.Dependency) and logs.
const (
	depPostgres = "postgres"
	depRedis    = "redis"
)

// dependencyError marks err as a dependency that did not answer (down, too
// slow, refusing connections); the error handler answers 503 naming it.
type dependencyError struct {
	name string // "" when the request ran out of time on something unknown
	err  error
}

func (e *dependencyError) Error() string {
	if e.name == "" {
		return "request deadline exceeded: " + e.err.Error()
	}
	return e.name + " unavailable: " + e.err.Error()
}

func (e *dependencyError) Unwrap() error { return e.err }

// unavailable marks err as coming from dependency name.
func unavailable(name string, err error) error { return &dependencyError{name: name, err: err} }

// deadlineExceeded is the answer of a request that ran out of time: the
// dependency is named when err says which one it was waiting for.
func deadlineExceeded(err error) error {
	var de *dependencyError
	if errors.As(err, &de) {
		return err
	}
	return &dependencyError{name: dependencyOf(err), err: err}
}

// dependencyOf names the dependency err shows to be unreachable or too slow,
// or "" if err is not such an error (a normal answer, such as a unique
// violation, is not: only connection failures, timeouts, server shutdown,
// resource exhaustion and statement/lock timeouts are).
func dependencyOf(err error) string {
	var de *dependencyError
	if errors.As(err, &de) {
		return de.name
	}
	// A handler's own 503 that already names what it waited for (the STK
	// webhook's "not stored" answer names the inbox's postgres).
	var p *Problem
	if errors.As(err, &p) && p.Dependency != "" {
		return p.Dependency
	}
	var connErr *pgconn.ConnectError
	if pgconn.Timeout(err) || errors.As(err, &connErr) {
		return depPostgres
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && len(pgErr.Code) == 5 {
		switch {
		case pgErr.Code[:2] == "08", pgErr.Code[:2] == "53", pgErr.Code[:2] == "57", pgErr.Code == "55P03":
			return depPostgres
		}
	}
	return ""
}

// dependencyProblem maps a dependency failure to 503.
func dependencyProblem(err error) (*Problem, bool) {
	name := dependencyOf(err)
	var de *dependencyError
	isDep := errors.As(err, &de)
	if name == "" && !isDep {
		if !errors.Is(err, context.DeadlineExceeded) {
			return nil, false
		}
	}
	detail := "the request did not complete within its deadline"
	if name != "" {
		detail = fmt.Sprintf("a dependency (%s) is unavailable or too slow", name)
	}
	p := NewProblem(http.StatusServiceUnavailable, detail).WithHeader("Retry-After", "1")
	p.Dependency = name
	return p, true
}
