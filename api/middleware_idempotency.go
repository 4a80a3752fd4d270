package api

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
)

// staleClaim is how long an unfinished idempotency claim blocks a retry; after
// that a crashed request's key may be taken over by the next attempt.
const staleClaim = 30 * time.Second

// idempotent makes a POST replayable under an Idempotency-Key header:
//   - first use: the key is claimed, the handler runs, a non-5xx answer is stored;
//   - same key, same body: the stored answer is returned (Idempotent-Replayed: true);
//   - same key, different body: 409;
//   - same key while the first request is still running: 409 (retry later);
//   - the handler failed with 5xx: the claim is released so a retry runs again.
//
// Keys are scoped by principal, method and path, so two clients (or two
// resources) cannot collide.
// Requests without the header pass through unchanged.
func idempotent(pool *pgxpool.Pool) echo.MiddlewareFunc {
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
			sum := sha256.Sum256(body)
			// The real path, not the route pattern: the same key on two resources
			// (e.g. /admin/schedules/a/run and /b/run) must not replay each other.
			scope := principalName(c) + " " + c.Request().Method + " " + c.Request().URL.Path
			ctx := c.Request().Context()

			replay, err := claimKey(ctx, pool, scope, key, sum[:])
			if err != nil {
				return err
			}
			if replay != nil {
				h := c.Response().Header()
				h.Set("Idempotent-Replayed", "true")
				return c.Blob(replay.status, replay.contentType, replay.body)
			}

			rec := &recorder{ResponseWriter: c.Response().Writer}
			c.Response().Writer = rec
			herr := next(c)
			if herr != nil {
				c.Error(herr) // render now so the stored answer is the real one
			}
			status := c.Response().Status
			bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if status >= 500 {
				_, err = pool.Exec(bg, `DELETE FROM idempotency_keys WHERE scope=$1 AND key=$2 AND completed_at IS NULL`, scope, key)
			} else {
				_, err = pool.Exec(bg, `UPDATE idempotency_keys SET status_code=$3, content_type=$4, body=$5, completed_at=now()
					WHERE scope=$1 AND key=$2`, scope, key, status, c.Response().Header().Get(echo.HeaderContentType), rec.buf.Bytes())
			}
			if err != nil {
				// The answer is already on the wire; a lost record only means a
				// retry with this key is treated as in progress until staleClaim.
				zerologCtx(c).Warn().Err(err).Msg("store idempotent response")
			}
			return nil
		}
	}
}

type storedResponse struct {
	status      int
	contentType string
	body        []byte
}

func claimKey(ctx context.Context, pool *pgxpool.Pool, scope, key string, hash []byte) (*storedResponse, error) {
	tag, err := pool.Exec(ctx, `INSERT INTO idempotency_keys (scope, key, request_hash) VALUES ($1,$2,$3)
		ON CONFLICT (scope, key) DO UPDATE SET created_at = now()
		WHERE idempotency_keys.completed_at IS NULL AND idempotency_keys.created_at < now() - $4::interval
		  AND idempotency_keys.request_hash = EXCLUDED.request_hash`,
		scope, key, hash, staleClaim.String())
	if err != nil {
		return nil, err
	}
	if tag.RowsAffected() == 1 {
		return nil, nil // claimed (new, or taken over from a crashed request)
	}
	var (
		storedHash []byte
		status     *int
		ct         *string
		body       []byte
	)
	err = pool.QueryRow(ctx, `SELECT request_hash, status_code, content_type, body FROM idempotency_keys WHERE scope=$1 AND key=$2`,
		scope, key).Scan(&storedHash, &status, &ct, &body)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, NewProblem(http.StatusConflict, "a request with this Idempotency-Key was just released; retry")
	}
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(storedHash, hash) {
		return nil, NewProblem(http.StatusConflict, "this Idempotency-Key was already used with a different request body")
	}
	if status == nil {
		return nil, NewProblem(http.StatusConflict, "a request with this Idempotency-Key is still in progress").WithHeader("Retry-After", "1")
	}
	out := &storedResponse{status: *status, body: body, contentType: "application/json"}
	if ct != nil && *ct != "" {
		out.contentType = *ct
	}
	return out, nil
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
