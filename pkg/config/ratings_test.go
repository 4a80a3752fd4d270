package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRatingsDefaultsAndValidation(t *testing.T) {
	t.Parallel()
	cfg, err := Load(envMap(nil))
	require.NoError(t, err)
	require.Equal(t, Ratings{PriorWeight: 10, Debounce: 5 * time.Second, BatchSize: 5000, Parallelism: 2,
		CacheTTL: 10 * time.Minute, TopCacheTTL: 5 * time.Minute, CacheBudget: 75 * time.Millisecond,
		CacheBreakerOpen: 5 * time.Second}, cfg.Ratings)

	_, err = Load(envMap(map[string]string{
		"FUNDIGO_RATINGS_PRIOR_WEIGHT":       "-1",
		"FUNDIGO_RATINGS_BATCH_SIZE":         "0",
		"FUNDIGO_RATINGS_PARALLELISM":        "0",
		"FUNDIGO_RATINGS_DEBOUNCE":           "-1s",
		"FUNDIGO_RATINGS_CACHE_TTL":          "0s",
		"FUNDIGO_RATINGS_TOP_CACHE_TTL":      "0s",
		"FUNDIGO_RATINGS_CACHE_BUDGET":       "10s",
		"FUNDIGO_RATINGS_CACHE_BREAKER_OPEN": "0s",
	}))
	require.Error(t, err)
	for _, key := range []string{"PRIOR_WEIGHT", "BATCH_SIZE", "PARALLELISM", "DEBOUNCE", "CACHE_TTL", "TOP_CACHE_TTL", "CACHE_BUDGET", "CACHE_BREAKER_OPEN"} {
		require.ErrorContains(t, err, "FUNDIGO_RATINGS_"+key)
	}
}
