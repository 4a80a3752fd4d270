package inbox

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"fundigo/pkg/outbox"
	"fundigo/pkg/store"
)

// Entry is one delivery to store.
type Entry struct {
	Route string // which webhook, e.g. "mpesa.stk"
	Key   string // its natural key, e.g. the CheckoutRequestID
	Body  []byte // raw bytes as received
	// RoutingKey of the outbox message announcing a new row; empty for a
	// route whose applier claims its rows straight from the table (then
	// Notify wakes it).
	RoutingKey string
	// Notify, if set, is a PostgreSQL channel notified (store.Notify,
	// after the commit) when the batch holding a new row of this entry
	// has committed.
	Notify string
	// Trusted records that the sender was a trusted source (source_trusted).
	Trusted bool
	// Trace is the delivery's W3C trace context (tracing.Headers of the
	// request), stored as trace_context so whoever applies the row continues
	// the delivery's trace, and carried by its outbox notice. Nil: none.
	Trace map[string]string
}

// MaxKeyLen is the longest natural key Write accepts; longer keys could not
// be held by the unique index (btree rows are limited to ~2.7 KB) and no
// webhook's natural key comes close.
const MaxKeyLen = 255

// ErrRejected means the delivery itself cannot be stored and retrying it
// would fail the same way: its key is unstorable (too long, NUL, not UTF-8)
// or the database refused its row deterministically (SQLSTATE class 22, 23 or
// 54, see store.IsDeterministic). Callers answer 400 and quarantine the body;
// its batch-mates are unaffected.
var ErrRejected = errors.New("inbox: delivery rejected")

// Result says what Write did.
type Result struct {
	ID        int64 // inbox row id (of the existing row for a duplicate)
	Duplicate bool  // an identical delivery was already stored
}

// Notice is the payload of the outbox message written for each new row.
type Notice struct {
	InboxID int64  `json:"inbox_id"`
	Route   string `json:"route"`
	Key     string `json:"key"`
}

// MessageID is the outbox/AMQP message id of the notice for inbox row id.
func MessageID(id int64) string { return "inbox:" + strconv.FormatInt(id, 10) }

// WriterConfig configures a Writer.
type WriterConfig struct {
	// Window is how long the first delivery of a batch waits for others
	// (default 2ms).
	Window time.Duration
	// MaxBatch closes a batch early when this many deliveries joined (default 256).
	MaxBatch int
	// CommitTimeout bounds one batch's transaction (default 5s).
	CommitTimeout time.Duration
}

func (c *WriterConfig) setDefaults() {
	if c.Window <= 0 {
		c.Window = 2 * time.Millisecond
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = 256
	}
	if c.CommitTimeout <= 0 {
		c.CommitTimeout = 5 * time.Second
	}
}

// Writer stores deliveries with group commit (store.Group: the deliveries
// that arrive within Window share one transaction). Safe for concurrent use.
type Writer struct {
	pool  *pgxpool.Pool
	cfg   WriterConfig
	group store.Group[Entry, Result]
}

// NewWriter returns a Writer over pool.
func NewWriter(pool *pgxpool.Pool, cfg WriterConfig) (*Writer, error) {
	cfg.setDefaults()
	if pool == nil {
		return nil, errors.New("inbox writer: nil pool")
	}
	w := &Writer{pool: pool, cfg: cfg}
	w.group = store.Group[Entry, Result]{Window: cfg.Window, MaxBatch: cfg.MaxBatch, Timeout: cfg.CommitTimeout,
		Run: w.commitIsolating}
	return w, nil
}

// Write stores e durably and returns once the transaction holding it
// committed. An error wrapping ErrRejected means e can never be stored
// (answer 400, quarantine); any other error means it is not stored this time
// (answer 503). A cancelled ctx returns early, though the row may still
// commit with its batch. One rejected delivery never fails the others of its
// batch: a group commit that fails deterministically is split and retried
// until the bad deliveries are isolated.
func (w *Writer) Write(ctx context.Context, e Entry) (Result, error) {
	if e.Route == "" || e.Key == "" || (e.RoutingKey == "" && e.Notify == "") || e.Body == nil {
		return Result{}, errors.New("inbox write: route, key, routing key or notify channel, and body are required")
	}
	if err := storableText(e.Key, MaxKeyLen); err != nil {
		return Result{}, fmt.Errorf("%w: key: %w", ErrRejected, err)
	}
	if err := storableText(e.Route, MaxKeyLen); err != nil {
		return Result{}, fmt.Errorf("%w: route: %w", ErrRejected, err)
	}
	res, err := w.group.Do(ctx, e)
	if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
		return Result{}, fmt.Errorf("inbox write: %w", err)
	}
	return res, err
}

// commitIsolating commits entries as one batch; if the database refuses the
// batch deterministically (a bad row: NUL, oversize index key, check), it
// splits the batch in halves and commits each, recursively, so only the
// deliveries that fail alone fail (ErrRejected), in O(bad·log n) commits.
// Other errors (connection lost, timeout) fail every entry: retrying one by
// one could not help and would only hold the callers longer.
func (w *Writer) commitIsolating(ctx context.Context, entries []Entry) ([]Result, []error) {
	errs := make([]error, len(entries))
	results, err := w.commit(ctx, entries)
	if err == nil {
		return results, errs
	}
	switch {
	case !store.IsDeterministic(err):
		for i := range errs {
			errs[i] = err
		}
		return make([]Result, len(entries)), errs
	case len(entries) == 1:
		errs[0] = fmt.Errorf("%w: %w", ErrRejected, err)
		return make([]Result, 1), errs
	}
	mid := len(entries) / 2
	lr, le := w.commitIsolating(ctx, entries[:mid])
	rr, re := w.commitIsolating(ctx, entries[mid:])
	return append(lr, rr...), append(le, re...)
}

// storableText checks that s fits a text column and the unique index.
func storableText(s string, max int) error {
	switch {
	case len(s) > max:
		return fmt.Errorf("%d bytes, at most %d", len(s), max)
	case strings.IndexByte(s, 0) >= 0:
		return errors.New("contains NUL")
	case !utf8.ValidString(s):
		return errors.New("not UTF-8")
	}
	return nil
}

const insertSQL = `
INSERT INTO inbox (route, natural_key, body_hash, body, source_trusted, trace_context)
SELECT r, k, h, b, t, tc::jsonb FROM unnest($1::text[], $2::text[], $3::bytea[], $4::bytea[], $5::bool[], $6::text[])
    AS u(r, k, h, b, t, tc)
ON CONFLICT ON CONSTRAINT inbox_dedupe DO NOTHING
RETURNING id, route, natural_key, body_hash`

const existingSQL = `
SELECT i.id, i.route, i.natural_key, i.body_hash
FROM inbox i
JOIN unnest($1::text[], $2::text[], $3::bytea[]) AS k(route, natural_key, body_hash)
  ON i.route = k.route AND i.natural_key = k.natural_key AND i.body_hash = k.body_hash`

type dedupeKey struct{ route, key, hash string }

// commit stores one batch in one transaction: the new rows, their outbox
// notices, and the ids of rows that already existed.
func (w *Writer) commit(ctx context.Context, entries []Entry) ([]Result, error) {
	keys := make([]dedupeKey, len(entries))
	first := map[dedupeKey]int{} // identical deliveries inside one batch insert once
	var routes, nks []string
	var hashes, bodies [][]byte
	var trusted []bool
	var traces []*string
	for i, e := range entries {
		h := sha256.Sum256(e.Body)
		keys[i] = dedupeKey{e.Route, e.Key, string(h[:])}
		if _, dup := first[keys[i]]; dup {
			continue
		}
		first[keys[i]] = i
		routes, nks = append(routes, e.Route), append(nks, e.Key)
		hashes, bodies = append(hashes, h[:]), append(bodies, e.Body)
		trusted = append(trusted, e.Trusted)
		traces = append(traces, traceJSON(e.Trace))
	}
	ids := map[dedupeKey]int64{}
	inserted := map[dedupeKey]bool{}
	if channels, ok := notifyOnly(entries); ok {
		// No outbox notice to write: one autocommitted statement, and the
		// appliers are woken after it (store.Notify: never inside the
		// commit, which would queue it behind every other notifying one).
		if err := scanIDs(ctx, w.pool, ids, inserted, true, insertSQL, routes, nks, hashes, bodies, trusted, traces); err != nil {
			return nil, fmt.Errorf("inbox commit of %d deliveries: %w", len(entries), err)
		}
		if len(inserted) > 0 {
			for _, ch := range channels {
				store.Notify(w.pool, ch)
			}
		}
		if len(inserted) < len(routes) {
			// The rows that were there already are committed (ON CONFLICT
			// waited for them), so a plain read finds them.
			if err := scanIDs(ctx, w.pool, ids, inserted, false, existingSQL, routes, nks, hashes); err != nil {
				return nil, fmt.Errorf("find existing inbox rows: %w", err)
			}
		}
		return results(entries, keys, first, ids, inserted), nil
	}
	err := store.WithTx(ctx, w.pool, func(tx pgx.Tx) error {
		if err := scanIDs(ctx, tx, ids, inserted, true, insertSQL, routes, nks, hashes, bodies, trusted, traces); err != nil {
			return fmt.Errorf("insert inbox rows: %w", err)
		}
		if len(inserted) < len(routes) {
			if err := scanIDs(ctx, tx, ids, inserted, false, existingSQL, routes, nks, hashes); err != nil {
				return fmt.Errorf("find existing inbox rows: %w", err)
			}
		}
		msgs := make([]outbox.Message, 0, len(inserted))
		var channels []string
		for k := range inserted {
			e := entries[first[k]]
			if e.Notify != "" && !slices.Contains(channels, e.Notify) {
				channels = append(channels, e.Notify)
			}
			if e.RoutingKey == "" {
				continue
			}
			payload, err := json.Marshal(Notice{InboxID: ids[k], Route: e.Route, Key: e.Key})
			if err != nil {
				return err
			}
			msgs = append(msgs, outbox.Message{
				ID: MessageID(ids[k]), RoutingKey: e.RoutingKey,
				Type: e.RoutingKey, Payload: payload, Headers: noticeHeaders(e.Trace),
			})
		}
		for _, ch := range channels {
			if err := store.NotifyOnCommit(ctx, tx, ch); err != nil {
				return fmt.Errorf("notify inbox appliers: %w", err)
			}
		}
		return outbox.WriteBatch(ctx, tx, msgs)
	})
	if err != nil {
		return nil, fmt.Errorf("inbox commit of %d deliveries: %w", len(entries), err)
	}
	return results(entries, keys, first, ids, inserted), nil
}

// traceJSON is the trace_context of a row: the carrier as a JSON object,
// nil (SQL NULL) for none or one that is implausibly large.
func traceJSON(h map[string]string) *string {
	if len(h) == 0 {
		return nil
	}
	b, err := json.Marshal(h)
	if err != nil || len(b) > maxTraceContext {
		return nil
	}
	s := string(b)
	return &s
}

// maxTraceContext bounds a stored trace context (W3C limits traceparent to
// 55 bytes and tracestate to 32 members; baggage is ours).
const maxTraceContext = 4096

// noticeHeaders are the outbox headers of a row's notice: its delivery's
// trace context (a notice without one gets the context of the commit, see
// outbox.WriteBatch).
func noticeHeaders(h map[string]string) map[string]string {
	if len(h) == 0 {
		return nil
	}
	return maps.Clone(h)
}

// notifyOnly reports whether no entry needs an outbox notice (every one
// names a Notify channel instead) and returns the channels.
func notifyOnly(entries []Entry) ([]string, bool) {
	var channels []string
	for _, e := range entries {
		if e.RoutingKey != "" {
			return nil, false
		}
		if !slices.Contains(channels, e.Notify) {
			channels = append(channels, e.Notify)
		}
	}
	return channels, true
}

func results(entries []Entry, keys []dedupeKey, first map[dedupeKey]int, ids map[dedupeKey]int64,
	inserted map[dedupeKey]bool) []Result {
	results := make([]Result, len(entries))
	for i, k := range keys {
		results[i] = Result{ID: ids[k], Duplicate: !inserted[k] || first[k] != i}
	}
	return results
}

// querier is a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func scanIDs(ctx context.Context, tx querier, ids map[dedupeKey]int64, inserted map[dedupeKey]bool,
	markInserted bool, sql string, args ...any) error {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var route, key string
		var hash []byte
		if err := rows.Scan(&id, &route, &key, &hash); err != nil {
			return err
		}
		k := dedupeKey{route, key, string(hash)}
		ids[k] = id
		if markInserted {
			inserted[k] = true
		}
	}
	return rows.Err()
}
