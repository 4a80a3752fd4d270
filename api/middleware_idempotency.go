package api

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"

	"fundigo/pkg/store"
)

// claimLease is how long an in-flight claim blocks other requests with the
// same key without its owner renewing it. The owner renews it every
// claimLease/3 while its handler runs, so only a crashed (or cut-off) owner's
// key is ever taken over.
const claimLease = 30 * time.Second

// idempotent makes a POST replayable under an Idempotency-Key header:
//   - first use: the key is claimed by this request (a random owner token
//     with a lease it renews while running), the handler runs, and a non-5xx
//     answer is stored;
//   - same key, same request: the stored answer is returned
//     (Idempotent-Replayed: true);
//   - same key, different request: 409 Conflict (the IETF
//     draft-ietf-httpapi-idempotency-key-header allows 422; we answer 409,
//     as for a key in use, because the request is not malformed);
//   - same key while the first request is still running: 409 with
//     Retry-After, however long it runs; the key is taken over only when its
//     owner stopped renewing the lease (crashed);
//   - the handler failed with 5xx, or answered 429 (a limit such as the
//     per-phone STK caps, which lifts later): the owner releases the claim so
//     a retry runs again.
//
// The stored record keeps a SHA-256 of the request: method, path (the real
// one, not the route pattern), caller (authenticated principal) and the body
// **byte-exact** — a retry must resend the same bytes; re-serialised JSON with
// another key order or spacing is a different request. The record is also
// keyed by (caller, method, path), so two clients or two resources never
// share a key. Requests without the header pass through unchanged.
//
// Records are deleted after their retention (workers/maintenance); the
// resources created under a key (payments, notifications) therefore keep
// enough of their request to refuse a reused key with a different request
// (409), see idempotency_match.go.
func idempotent(pool *pgxpool.Pool) echo.MiddlewareFunc {
	return idempotentWithLease(pool, claimLease)
}

// idempotentWithLease is idempotent with the claim lease given (tests).
func idempotentWithLease(pool *pgxpool.Pool, lease time.Duration) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			key := c.Request().Header.Get("Idempotency-Key")
			if key == "" {
				return next(c)
			}
			if len(key) > 255 {
				return Validation(FieldError{Field: "Idempotency-Key", Message: "at most 255 characters"})
			}
			body, err := io.ReadAll(c.Request().Body)
			if err != nil {
				return err // body limit → 413 via the error handler
			}
			c.Request().Body = io.NopCloser(bytes.NewReader(body))
			req := c.Request()
			caller := principalName(c)
			// The real path, not the route pattern: the same key on two resources
			// (e.g. /admin/schedules/a/run and /b/run) must not replay each other.
			scope := caller + " " + req.Method + " " + req.URL.Path
			cl := claim{pool: pool, IdempotencyClaim: store.IdempotencyClaim{Scope: scope, Key: key, Owner: uuid.New(), Lease: lease,
				Hash: requestHash(req.Method, req.URL.Path, caller, body), LegacyHash: legacyRequestHash(body)}}
			ctx := req.Context()

			replay, err := cl.take(ctx)
			if err != nil {
				return err
			}
			if replay != nil {
				c.Response().Header().Set("Idempotent-Replayed", "true")
				if replay.location != "" {
					c.Response().Header().Set(echo.HeaderLocation, replay.location)
				}
				return c.Blob(replay.status, replay.contentType, replay.body)
			}

			stopRenew := cl.renew(ctx)
			rec := &recorder{ResponseWriter: c.Response().Writer}
			c.Response().Writer = rec
			herr := next(c)
			if herr != nil {
				c.Error(herr) // render now so the stored answer is the real one
			}
			stopRenew()
			h := c.Response().Header()
			if err := cl.finish(ctx, c.Response().Status, h.Get(echo.HeaderContentType), h.Get(echo.HeaderLocation), rec.buf.Bytes()); err != nil {
				// The answer is already on the wire; a lost record only means a
				// retry with this key waits until the lease lapses.
				zerologCtx(c).Warn().Err(err).Msg("store idempotent response")
			}
			return nil
		}
	}
}

// requestHash is SHA-256 over the length-prefixed method, path, caller and
// raw body bytes.
func requestHash(method, path, caller string, body []byte) []byte {
	h := sha256.New()
	for _, part := range [][]byte{[]byte(method), []byte(path), []byte(caller), body} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(part)))
		h.Write(n[:])
		h.Write(part)
	}
	return h.Sum(nil)
}

// legacyRequestHash is what records written before the hash covered method,
// path and caller hold (the body only; those were already in the scope).
// Accepted as equal so a retry spanning the upgrade still replays.
func legacyRequestHash(body []byte) []byte {
	s := sha256.Sum256(body)
	return s[:]
}

type storedResponse struct {
	status      int
	contentType string
	location    string
	body        []byte
}

// claim is one request's hold on (scope, key) (the SQL is in pkg/store).
type claim struct {
	pool *pgxpool.Pool
	store.IdempotencyClaim
}

// take claims the key for this request (nil, nil), or returns the stored
// answer to replay, or a 409 problem.
func (cl claim) take(ctx context.Context) (*storedResponse, error) {
	ok, err := cl.Claim(ctx, cl.pool)
	if err != nil || ok {
		return nil, err // ok: claimed (new, or taken over from a crashed owner)
	}
	rec, err := cl.Record(ctx, cl.pool)
	if errors.Is(err, store.ErrNotFound) {
		return nil, NewProblem(http.StatusConflict, "a request with this Idempotency-Key was just released; retry").WithHeader("Retry-After", "1")
	}
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(rec.Hash, cl.Hash) && !bytes.Equal(rec.Hash, cl.LegacyHash) {
		return nil, NewProblem(http.StatusConflict, "this Idempotency-Key was already used with a different request")
	}
	if rec.Status == nil {
		return nil, NewProblem(http.StatusConflict, "a request with this Idempotency-Key is still in progress").WithHeader("Retry-After", "1")
	}
	out := &storedResponse{status: *rec.Status, body: rec.Body, contentType: "application/json"}
	if rec.ContentType != nil && *rec.ContentType != "" {
		out.contentType = *rec.ContentType
	}
	if rec.Location != nil {
		out.location = *rec.Location
	}
	return out, nil
}

// renew extends the lease every lease/3 until the returned stop is called.
// Renewal stops by itself once the claim is no longer ours.
func (cl claim) renew(ctx context.Context) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(cl.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cl.Lease/3)
			ours, err := cl.Renew(rctx, cl.pool)
			cancel()
			if err == nil && !ours {
				return // taken over or released: nothing left to renew
			}
		}
	}()
	return func() { close(done); <-finished }
}

// finish stores the answer, or releases the claim after a 5xx or a 429 so a
// retry runs again; either only while this request still owns the claim.
func (cl claim) finish(ctx context.Context, status int, contentType, location string, body []byte) error {
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if status >= 500 || status == http.StatusTooManyRequests {
		return cl.Release(bg, cl.pool)
	}
	return cl.Complete(bg, cl.pool, status, contentType, location, body)
}

// recorder tees the response body so it can be stored for replays.
type recorder struct {
	http.ResponseWriter
	buf bytes.Buffer
}

func (r *recorder) Write(b []byte) (int, error) {
	r.buf.Write(b)
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(r.ResponseWriter).Hijack()
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
