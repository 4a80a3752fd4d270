package store

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Wake-ups outside the commit path.
//
// PostgreSQL serialises the commits of every transaction that issued a
// NOTIFY: the notifying transaction takes a database-wide lock before its
// commit record and holds it until the commit is flushed (async.c,
// PreCommit_Notify). A NOTIFY inside each writing transaction therefore
// turns concurrent commits into a queue of one fsync at a time; measured on
// the payment path, a dozen backends at a time waited on that lock
// ("Lock: object", pg_database) while our process was 40% busy.
//
// So writers do not notify inside their transactions. They ask for a
// wake-up (NotifyOnCommit inside WithTx, or Notify after their own commit),
// and a per-pool, per-channel waker sends it in a transaction of its own:
// one pg_notify with synchronous_commit off (a wake-up needs no
// durability, so the lock is not held across a flush), never more than
// one in flight, and coalescing every request that arrives meanwhile into
// the next one (sent no sooner than notifyGap after the previous). Every
// commit is still followed by a notification sent after it. If the process
// dies between its commit and the wake-up, the listener's polling fallback
// finds the rows.

// Execer runs a statement outside any caller's transaction
// (*pgxpool.Pool satisfies it).
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// notifyTimeout bounds one wake-up; a lost one is covered by polling.
const notifyTimeout = 5 * time.Second

type wakerKey struct {
	db      Execer
	channel string
}

type waker struct {
	mu      sync.Mutex
	running bool // a goroutine is sending
	again   bool // a request arrived after the current send began
}

var wakers sync.Map // wakerKey → *waker

// Notify asks for a NOTIFY on channel through db, sent after every commit
// that precedes this call. It does not block: the notification goes out on
// its own goroutine, which exists only while notifications are owed.
func Notify(db Execer, channel string) {
	v, _ := wakers.LoadOrStore(wakerKey{db, channel}, &waker{})
	w := v.(*waker)
	w.mu.Lock()
	if w.running {
		w.again = true
		w.mu.Unlock()
		return
	}
	w.running = true
	w.mu.Unlock()
	go w.run(db, channel)
}

// notifyGap spaces the notifications of one waker that follow each other
// under load: a listener woken up more often than this claims smaller
// batches for the same work (an intake committing every few hundred
// microseconds would otherwise wake its appliers as often). A lone request
// is sent at once.
const notifyGap = 2 * time.Millisecond

func (w *waker) run(db Execer, channel string) {
	for {
		sent := time.Now()
		sendNotify(db, channel)
		w.mu.Lock()
		if !w.again {
			w.running = false
			w.mu.Unlock()
			return
		}
		w.mu.Unlock()
		time.Sleep(notifyGap - time.Since(sent)) // no-op when the send took longer
		w.mu.Lock()
		w.again = false
		w.mu.Unlock()
	}
}

// notifySQL commits asynchronously (set_config is transaction-local): the
// NOTIFY lock is released without waiting for a WAL flush.
const notifySQL = `SELECT set_config('synchronous_commit', 'off', true), pg_notify($1, '')`

func sendNotify(db Execer, channel string) {
	ctx, cancel := context.WithTimeout(context.Background(), notifyTimeout)
	defer cancel()
	// An error (pool closed, server away) is left to the listener's
	// polling fallback, which exists for exactly that.
	_, _ = db.Exec(ctx, notifySQL, channel)
}

// NotifyOnCommit asks for a NOTIFY on channel once tx commits. Inside
// WithTx (whose transactions carry the request) it is sent after the
// commit by Notify; in any other transaction it is issued inside tx, which
// is correct but serialises that commit with every other notifying one.
func NotifyOnCommit(ctx context.Context, tx pgx.Tx, channel string) error {
	if h, ok := tx.(*hookedTx); ok {
		if !slices.Contains(h.channels, channel) {
			h.channels = append(h.channels, channel)
		}
		return nil
	}
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, '')`, channel); err != nil {
		return fmt.Errorf("notify %s: %w", channel, err)
	}
	return nil
}

// hookedTx is the transaction WithTx hands to its function: a pgx.Tx that
// also collects the channels to notify after the commit.
type hookedTx struct {
	pgx.Tx
	channels []string
}
