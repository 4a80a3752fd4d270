package mpesa

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"
)

// tokenSource hands out the Daraja OAuth token shared by every process.
//
// Each new token request invalidates the previous token at Safaricom, so a
// token per worker would have workers knock each other's tokens out. The
// token lives in a Redis hash (fields t = token, e = expiry in unix ms) with a
// TTL of its lifetime. When it is within margin of expiry, one process (the
// holder of a short Redis lock) fetches a new one while the others keep using
// the old, still valid one; when there is none, the others wait for the lock
// holder's result. In-process callers are collapsed with singleflight.
type tokenSource struct {
	rdb       redis.UniversalClient
	key       string
	lockKey   string
	margin    time.Duration
	lockTTL   time.Duration
	pollEvery time.Duration
	nowFunc   func() time.Time
	fetchFunc func(ctx context.Context) (token string, expiresIn time.Duration, err error)
	group     singleflight.Group
}

type cachedToken struct {
	token     string
	expiresAt time.Time
}

// releaseScript deletes the lock only if we still hold it.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

// invalidateScript deletes the cached token only if it is the one refused,
// so a token another process just refreshed survives.
var invalidateScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 't') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

// Token returns a valid token. It is safe for concurrent use.
func (s *tokenSource) Token(ctx context.Context) (string, error) {
	ch := s.group.DoChan("token", func() (any, error) {
		// Detached from the first caller's cancellation so that one cancelled
		// caller does not fail the others waiting on the same refresh.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.lockTTL)
		defer cancel()
		return s.token(fctx)
	})
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case r := <-ch:
		if r.Err != nil {
			return "", r.Err
		}
		return r.Val.(string), nil
	}
}

func (s *tokenSource) token(ctx context.Context) (string, error) {
	for {
		cur, haveCur, err := s.load(ctx)
		if err != nil {
			return "", err
		}
		now := s.nowFunc()
		if haveCur && now.Before(cur.expiresAt.Add(-s.margin)) {
			return cur.token, nil
		}
		tok, refreshed, err := s.tryRefresh(ctx)
		if err != nil {
			if haveCur && now.Before(cur.expiresAt) {
				return cur.token, nil // refresh failed; the old token still works
			}
			return "", err
		}
		if refreshed {
			return tok, nil
		}
		// Someone else is refreshing.
		if haveCur && now.Before(cur.expiresAt) {
			return cur.token, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("wait for token refresh: %w", ctx.Err())
		case <-time.After(s.pollEvery):
		}
	}
}

// tryRefresh fetches a new token if it wins the refresh lock. refreshed is
// false when another process holds the lock.
func (s *tokenSource) tryRefresh(ctx context.Context) (token string, refreshed bool, err error) {
	owner := randomHex(16)
	ok, err := s.rdb.SetNX(ctx, s.lockKey, owner, s.lockTTL).Result()
	if err != nil {
		return "", false, fmt.Errorf("take token refresh lock: %w", err)
	}
	if !ok {
		return "", false, nil
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = releaseScript.Run(rctx, s.rdb, []string{s.lockKey}, owner).Err()
	}()
	// Another process may have refreshed between our read and the lock.
	if cur, have, err := s.load(ctx); err == nil && have && s.nowFunc().Before(cur.expiresAt.Add(-s.margin)) {
		return cur.token, true, nil
	}
	start := s.nowFunc()
	tok, expiresIn, err := s.fetchFunc(ctx)
	if err != nil {
		return "", false, err
	}
	if expiresIn <= 0 {
		return "", false, errors.New("daraja returned a token with no lifetime")
	}
	expiresAt := start.Add(expiresIn)
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, s.key, "t", tok, "e", strconv.FormatInt(expiresAt.UnixMilli(), 10))
		p.PExpire(ctx, s.key, expiresIn)
		return nil
	})
	if err != nil {
		return "", false, fmt.Errorf("cache access token: %w", err)
	}
	return tok, true, nil
}

// Invalidate drops token from the cache if it is still the cached one, after
// Daraja refused it. The next Token call fetches a new one.
func (s *tokenSource) Invalidate(ctx context.Context, token string) error {
	if err := invalidateScript.Run(ctx, s.rdb, []string{s.key}, token).Err(); err != nil {
		return fmt.Errorf("invalidate access token: %w", err)
	}
	return nil
}

func (s *tokenSource) load(ctx context.Context) (cachedToken, bool, error) {
	vals, err := s.rdb.HMGet(ctx, s.key, "t", "e").Result()
	if err != nil {
		return cachedToken{}, false, fmt.Errorf("read cached access token: %w", err)
	}
	tok, _ := vals[0].(string)
	exp, _ := vals[1].(string)
	ms, err := strconv.ParseInt(exp, 10, 64)
	if tok == "" || err != nil {
		return cachedToken{}, false, nil
	}
	return cachedToken{token: tok, expiresAt: time.UnixMilli(ms)}, true, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}
