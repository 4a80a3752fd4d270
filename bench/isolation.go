package bench

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"fundigo/pkg/amqpx"
	kit "fundigo/pkg/bench"
	"fundigo/pkg/config"
	"fundigo/pkg/store"
)

// scratchSchema creates schema id in the configured database (creating the
// database if needed) and returns a URL whose search_path selects it.
func scratchSchema(ctx context.Context, dbURL, id string) (string, func(), error) {
	if err := store.EnsureDatabase(ctx, dbURL); err != nil {
		return "", nil, err
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return "", nil, fmt.Errorf("connect to postgres: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{id}.Sanitize()); err != nil {
		return "", nil, fmt.Errorf("create scratch schema: %w", err)
	}
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, dbURL); err == nil {
			_, _ = c.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{id}.Sanitize()+" CASCADE")
			_ = c.Close(ctx)
		}
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		drop()
		return "", nil, errors.New("parse FUNDIGO_DATABASE_URL: invalid")
	}
	q := u.Query()
	q.Set("search_path", id)
	u.RawQuery = q.Encode()
	return u.String(), drop, nil
}

// removeBrokerState deletes what an in-process system left in Redis (its
// Asynq queues and prefixed keys) and RabbitMQ (its consumers' queues with
// their dead-letter queues and exchanges, and its events exchange).
func removeBrokerState(cfg config.Config, redisOpt asynq.RedisConnOpt, asynqQueues, amqpQueues []string) {
	kit.DeleteAsynqQueues(redisOpt, asynqQueues...)
	if opt, err := redis.ParseURL(cfg.Redis.URL.Reveal()); err == nil {
		c := redis.NewClient(opt)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		iter := c.Scan(ctx, 0, cfg.Redis.KeyPrefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		cancel()
		_ = c.Close()
	}
	var qs, xs []string
	for _, q := range amqpQueues {
		qs = append(qs, amqpx.QueueNames(q)...)
		xs = append(xs, amqpx.DLXName(q))
	}
	_ = kit.RemoveRabbit(cfg.AMQP.URL.Reveal(), qs, append(xs, cfg.AMQP.Exchange))
}
