package store

import (
	"context"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// A pool that cannot hand out a connection before the caller's context ends
// (every connection stuck on a black-holed server, say) returns the bare
// context error: nothing in it says PostgreSQL was what the caller waited
// for. WatchPoolWaits lets a caller find out afterwards.

type poolWaitKey struct{}

// WatchPoolWaits returns a context whose pool acquisitions are watched, and a
// function reporting whether any of them failed (timed out or was refused) on
// a pool opened with NewPoolConfig. The API's request deadline uses it to name
// PostgreSQL in its 503 when a request ran out of time waiting for a
// connection.
func WatchPoolWaits(ctx context.Context) (context.Context, func() bool) {
	failed := new(atomic.Bool)
	return context.WithValue(ctx, poolWaitKey{}, failed), failed.Load
}

// poolWaitTracer records failed acquisitions in a watched context. It is the
// pool's connection tracer (no-op per query); PoolConfig.Tracer combines another
// tracer with it.
type poolWaitTracer struct{}

var _ pgxpool.AcquireTracer = poolWaitTracer{}

func (poolWaitTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}

func (poolWaitTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (poolWaitTracer) TraceAcquireStart(ctx context.Context, _ *pgxpool.Pool, _ pgxpool.TraceAcquireStartData) context.Context {
	return ctx
}

func (poolWaitTracer) TraceAcquireEnd(ctx context.Context, _ *pgxpool.Pool, data pgxpool.TraceAcquireEndData) {
	if data.Err == nil {
		return
	}
	if failed, ok := ctx.Value(poolWaitKey{}).(*atomic.Bool); ok {
		failed.Store(true)
	}
}
