package celery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultResultExpires is Celery's result_expires default.
const DefaultResultExpires = 24 * time.Hour

// ResultKeyPrefix starts every task result key (before any global prefix).
const ResultKeyPrefix = "celery-task-meta-"

// BackendConfig configures a Backend.
type BackendConfig struct {
	// Expires is the result TTL (SETEX); 0 means DefaultResultExpires and a
	// negative value stores without expiry (plain SET), as result_expires=None.
	Expires time.Duration
	// KeyPrefix is Celery's result_backend_transport_options
	// global_keyprefix; empty by default.
	KeyPrefix string
}

// Backend is Celery's Redis result backend, written the way a Python worker
// writes it, so AsyncResult(id).get() in Django returns or raises. Safe for
// concurrent use.
type Backend struct {
	rdb *redis.Client
	cfg BackendConfig
}

// NewBackend returns a Backend over rdb (which should point at the database
// of Django's CELERY_RESULT_BACKEND URL).
func NewBackend(rdb *redis.Client, cfg BackendConfig) *Backend {
	if cfg.Expires == 0 {
		cfg.Expires = DefaultResultExpires
	}
	return &Backend{rdb: rdb, cfg: cfg}
}

// Key is the Redis key (and pub/sub channel) of task id's result.
func (b *Backend) Key(id string) string { return b.cfg.KeyPrefix + ResultKeyPrefix + id }

// storeScript writes the meta unless a SUCCESS is already stored, and
// publishes it on the channel named like the key: AsyncResult.get() does one
// GET and then only listens on that channel, so a write without a PUBLISH can
// leave it waiting until its timeout. Doing both in one script makes the
// "never overwrite SUCCESS" check race-free between workers.
var storeScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
  local ok, doc = pcall(cjson.decode, cur)
  if ok and type(doc) == 'table' and doc['status'] == 'SUCCESS' then
    return 0
  end
end
local ttl = tonumber(ARGV[2])
if ttl > 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ttl)
else
  redis.call('SET', KEYS[1], ARGV[1])
end
redis.call('PUBLISH', KEYS[1], ARGV[1])
return 1
`)

// Store writes meta as task meta.TaskID's result and publishes it. It
// reports stored=false, and changes nothing, when a SUCCESS is already stored
// (a redelivered task must not replace the result its first run produced).
func (b *Backend) Store(ctx context.Context, meta Meta) (stored bool, err error) {
	if meta.TaskID == "" {
		return false, errors.New("store celery result: empty task id")
	}
	value, err := json.Marshal(meta)
	if err != nil {
		return false, fmt.Errorf("encode celery result of task %s: %w", meta.TaskID, err)
	}
	ttl := int64(0)
	if b.cfg.Expires > 0 {
		ttl = max(1, int64(b.cfg.Expires/time.Second))
	}
	n, err := storeScript.Run(ctx, b.rdb, []string{b.Key(meta.TaskID)}, value, ttl).Int()
	if err != nil {
		return false, fmt.Errorf("store celery result of task %s: %w", meta.TaskID, err)
	}
	return n == 1, nil
}

// Get reads the stored result of task id; a missing key reads as PENDING,
// as it does for Celery.
func (b *Backend) Get(ctx context.Context, id string) (Meta, error) {
	raw, err := b.rdb.Get(ctx, b.Key(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return Meta{Status: StatePending, Result: json.RawMessage("null"), Children: []any{}, TaskID: id}, nil
	}
	if err != nil {
		return Meta{}, fmt.Errorf("get celery result of task %s: %w", id, err)
	}
	var meta Meta
	if err := json.Unmarshal(raw, &meta); err != nil {
		return Meta{}, fmt.Errorf("decode celery result of task %s: %w", id, err)
	}
	return meta, nil
}
