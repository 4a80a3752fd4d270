package rating

import (
	"context"
	"fmt"
	"math/big"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/config"
	"fundigo/pkg/store/storetest"
	"fundigo/pkg/tasks/taskstest"
)

type bundle struct {
	deps  Deps
	pool  *pgxpool.Pool
	redis *redis.Client
	ref   map[string]*ref
	total ref
}

type ref struct{ n, sum int64 }

func setup(t *testing.T) *bundle {
	t.Helper()
	pool := storetest.NewPool(t)
	rdb := taskstest.Redis(t)
	d := Deps{
		Pool:   pool,
		Cache:  NewCache(rdb, taskstest.Prefix(t), config.Ratings{CacheTTL: time.Minute, TopCacheTTL: time.Minute}),
		Tasks:  taskstest.Client(t),
		Queues: taskstest.Queues(t),
		Config: config.Ratings{
			PriorWeight: 10, Debounce: 500 * time.Millisecond, BatchSize: 7, Parallelism: 3,
			CacheTTL: time.Minute, TopCacheTTL: time.Minute,
		},
	}
	require.NoError(t, d.Validate())
	return &bundle{deps: d, pool: pool, redis: rdb, ref: map[string]*ref{}}
}

// seed inserts n random reviews over techs technicians, keeping a reference.
func (b *bundle) seed(t *testing.T, seed uint64, n, techs int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed+1))
	reviews := b.deps.Store()
	for i := range n {
		r := Review{
			JobID:        fmt.Sprintf("job-%d-%d", seed, i),
			TechnicianID: fmt.Sprintf("tech-%03d", rng.IntN(techs)),
			CustomerID:   "cust",
			Rating:       1 + rng.IntN(5),
		}
		_, err := reviews.InsertReview(context.Background(), r)
		require.NoError(t, err)
		b.record(r.TechnicianID, r.Rating)
	}
}

func (b *bundle) record(tech string, rating int) {
	if b.ref[tech] == nil {
		b.ref[tech] = &ref{}
	}
	b.ref[tech].n++
	b.ref[tech].sum += int64(rating)
	b.total.n++
	b.total.sum += int64(rating)
}

// round4 rounds a non-negative rational half away from zero to 4 decimals.
func round4(x *big.Rat) string {
	s := new(big.Rat).Mul(x, big.NewRat(10000, 1))
	num := new(big.Int).Add(new(big.Int).Mul(s.Num(), big.NewInt(2)), s.Denom())
	q := new(big.Int).Quo(num, new(big.Int).Mul(s.Denom(), big.NewInt(2)))
	return new(big.Rat).SetFrac(q, big.NewInt(10000)).FloatString(4)
}

// requireReference checks every technician's count, mean and Bayesian
// average against the Go reference (global mean over all seeded reviews).
func (b *bundle) requireReference(t *testing.T) {
	t.Helper()
	m := round4(big.NewRat(b.total.sum, b.total.n))
	mr, _ := new(big.Rat).SetString(m)
	c := int64(b.deps.Config.PriorWeight)
	ratings := b.deps.Store()
	for id, r := range b.ref {
		got, err := ratings.Get(context.Background(), id)
		require.NoError(t, err, id)
		require.Equal(t, int(r.n), got.Count, id)
		require.Equal(t, round4(big.NewRat(r.sum, r.n)), fmt.Sprintf("%.4f", got.Average), id)
		num := new(big.Rat).Add(new(big.Rat).Mul(mr, big.NewRat(c, 1)), big.NewRat(r.sum, 1))
		require.Equal(t, round4(num.Quo(num, big.NewRat(c+r.n, 1))), fmt.Sprintf("%.4f", got.BayesianAverage), id)
	}
}

func (b *bundle) outboxCount(t *testing.T, technicianID string) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(context.Background(), `
		SELECT count(*) FROM outbox WHERE routing_key = 'rating.updated'
		AND ($1 = '' OR convert_from(payload, 'UTF8')::jsonb->>'technician_id' = $1)`, technicianID).Scan(&n))
	return n
}
