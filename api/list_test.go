package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// listCase is one cursor-paginated list: seed inserts n rows (with many
// ties on the sort key) and returns their ids; insert adds one more row
// with a sort key anywhere in the list (i is unique per call); id reads a
// result's id.
type listCase struct {
	path    string
	seed    string // SQL with $1 = n
	insert  string // SQL with $1 = a unique number
	results string // the body field holding the page's rows
	idField string
}

var listCases = map[string]listCase{
	"payments by customer": {
		path: "/v1/payments?customer_id=cust-L",
		seed: `INSERT INTO payments (id, job_id, customer_id, phone, amount, created_at)
			SELECT gen_random_uuid(), 'job-' || (i % 7), 'cust-L', '254712345678', 10,
			       timestamptz '2026-01-01' + (i / 25) * interval '1 minute'
			FROM generate_series(1, $1) i RETURNING id::text`,
		insert: `INSERT INTO payments (id, job_id, customer_id, phone, amount, created_at)
			VALUES (gen_random_uuid(), 'job-x', 'cust-L', '254712345678', 10,
			        timestamptz '2026-01-01' + ($1::int % 50) * interval '1 minute')`,
		results: "results", idField: "id",
	},
	"a user's devices": {
		path: "/v1/users/u-L/devices",
		seed: `INSERT INTO devices (token, user_id, platform, created_at)
			SELECT 'ExponentPushToken[L' || i || ']', 'u-L', 'expo', timestamptz '2026-01-01' + (i / 25) * interval '1 minute'
			FROM generate_series(1, $1) i RETURNING token`,
		insert: `INSERT INTO devices (token, user_id, platform, created_at)
			VALUES ('ExponentPushToken[N' || $1::int || ']', 'u-L', 'expo', timestamptz '2026-01-01' + ($1::int % 50) * interval '1 minute')`,
		results: "results", idField: "token",
	},
	"a user's notifications": {
		path: "/v1/users/u-L/notifications",
		seed: `INSERT INTO notifications (id, source_key, user_ids, title, body, created_at)
			SELECT gen_random_uuid(), 'seed-' || i, ARRAY['other', 'u-L'], 't', 'b',
			       timestamptz '2026-01-01' + (i / 25) * interval '1 minute'
			FROM generate_series(1, $1) i RETURNING id::text`,
		insert: `INSERT INTO notifications (id, source_key, user_ids, title, body, created_at)
			VALUES (gen_random_uuid(), 'new-' || $1::int, ARRAY['u-L'], 't', 'b', timestamptz '2026-01-01' + ($1::int % 50) * interval '1 minute')`,
		results: "results", idField: "id",
	},
	"a technician's reviews": {
		path: "/v1/technicians/tech-L/reviews",
		seed: `INSERT INTO reviews (job_id, technician_id, customer_id, rating, created_at)
			SELECT 'job-' || i, 'tech-L', 'c', 1 + i % 5, timestamptz '2026-01-01' + (i / 25) * interval '1 minute'
			FROM generate_series(1, $1) i RETURNING id::text`,
		insert: `INSERT INTO reviews (job_id, technician_id, customer_id, rating, created_at)
			VALUES ('new-' || $1::int, 'tech-L', 'c', 3, timestamptz '2026-01-01' + ($1::int % 50) * interval '1 minute')`,
		results: "results", idField: "id",
	},
	"the top technicians": {
		path: "/v1/technicians/top",
		seed: `INSERT INTO technician_ratings (technician_id, review_count, rating_sum, mean, bayesian_average, last_review_at)
			SELECT 'tech-' || i, 1 + i % 3, 5, 4.5, 3 + (i % 20) * 0.0625, now()
			FROM generate_series(1, $1) i RETURNING technician_id`,
		insert: `INSERT INTO technician_ratings (technician_id, review_count, rating_sum, mean, bayesian_average, last_review_at)
			VALUES ('new-' || $1::int, 1 + $1::int % 3, 5, 4.5, 3 + ($1::int % 20) * 0.0625, now())`,
		results: "technicians", idField: "technician_id",
	},
}

// TestListsPageWithoutDuplicatesOrGaps: every list pages through 1,000
// rows (sort keys with many ties) following its next links while rows are
// inserted all along the order: each seeded row is seen exactly once, no
// row twice; then the previous links lead back through every row once.
func TestListsPageWithoutDuplicatesOrGaps(t *testing.T) {
	t.Parallel()
	const n = 1000
	for name, lc := range listCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newTestServer(t, nil)
			ctx := context.Background()
			rows, err := s.deps.Pool.Query(ctx, lc.seed, n)
			require.NoError(t, err)
			seeded := map[string]bool{}
			for rows.Next() {
				var id string
				require.NoError(t, rows.Scan(&id))
				seeded[id] = true
			}
			require.NoError(t, rows.Err())
			require.Len(t, seeded, n)

			// Insert rows all along the order while the client pages: one
			// every few milliseconds (at most 2,000), so the walk races
			// the inserts without loading the database for the other tests.
			stop := make(chan struct{})
			var inserted atomic.Int64
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				pace := time.NewTicker(3 * time.Millisecond)
				defer pace.Stop()
				for i := int64(1); i <= 2000; i++ {
					select {
					case <-stop:
						return
					case <-pace.C:
					}
					if _, err := s.deps.Pool.Exec(ctx, lc.insert, i); err != nil {
						t.Errorf("concurrent insert: %v", err)
						return
					}
					inserted.Add(1)
				}
			}()

			seen := map[string]int{}
			pages := 0
			next := withQuery(lc.path, "page_size=37")
			var last string
			for next != "" {
				ids, nx, _ := getPage(t, s, next, lc)
				for _, id := range ids {
					seen[id]++
				}
				pages++
				require.Less(t, pages, 200, "the walk ends")
				last, next = next, nx
			}
			close(stop)
			wg.Wait()
			for id, c := range seen {
				require.Equal(t, 1, c, "row %s was listed %d times", id, c)
			}
			for id := range seeded {
				require.Contains(t, seen, id, "a seeded row was skipped")
			}
			require.Positive(t, inserted.Load(), "rows were inserted while paging")

			// Back from the last page: every row once more, in reverse.
			back := map[string]int{}
			ids, _, prev := getPage(t, s, last, lc)
			for _, id := range ids {
				back[id]++
			}
			for prev != "" {
				ids, _, prev = getPage(t, s, prev, lc)
				for _, id := range ids {
					back[id]++
				}
			}
			for id, c := range back {
				require.Equal(t, 1, c, "row %s was listed %d times going back", id, c)
			}
			for id := range seeded {
				require.Contains(t, back, id, "a seeded row was skipped going back")
			}
		})
	}
}

// getPage GETs one page and returns its ids and its next and previous
// links ("" for none).
func getPage(t *testing.T, s *testServer, path string, lc listCase) (ids []string, next, prev string) {
	t.Helper()
	r := s.do(t, http.MethodGet, path, nil, serviceAuth())
	require.Equal(t, http.StatusOK, r.Code, string(r.Body))
	var body map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(r.Body, &body))
	var items []map[string]any
	require.NoError(t, json.Unmarshal(body[lc.results], &items))
	for _, it := range items {
		ids = append(ids, fmt.Sprint(it[lc.idField]))
	}
	_ = json.Unmarshal(body["next"], &next)
	_ = json.Unmarshal(body["previous"], &prev)
	return ids, next, prev
}

func withQuery(path, q string) string {
	if strings.Contains(path, "?") {
		return path + "&" + q
	}
	return path + "?" + q
}

// TestListQueryRefusals: an unknown or repeated query parameter, a page
// size out of bounds and a forged cursor are refused with problems that
// say why.
func TestListQueryRefusals(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	for _, tc := range []struct {
		path   string
		status int
		detail string
	}{
		{"/v1/payments?job=1", http.StatusBadRequest, "unknown query parameter job; this list takes cursor, customer_id, job_id, page_size, status"},
		{"/v1/users/u1/devices?limit=5", http.StatusBadRequest, "unknown query parameter limit"},
		{"/v1/payments?job_id=a&job_id=b", http.StatusBadRequest, "more than once"},
		{"/v1/payments?page_size=101", http.StatusUnprocessableEntity, ""},
		{"/v1/payments?page_size=0", http.StatusUnprocessableEntity, ""},
		{"/v1/payments?status=lost", http.StatusUnprocessableEntity, ""},
		{"/v1/payments?cursor=" + url.QueryEscape("not-a-cursor!"), http.StatusBadRequest, "cursor"},
		{"/v1/technicians/top?cursor=eyJrIjoieCIsImkiOiJhIn0", http.StatusBadRequest, "cursor"}, // {"k":"x","i":"a"}
		{"/v1/technicians/top?limit=5&page_size=5", http.StatusUnprocessableEntity, ""},
		{"/v1/technicians/x/reviews?sort=asc", http.StatusBadRequest, "unknown query parameter sort"},
		{"/v1/users/u1/notifications?page_size=x", http.StatusUnprocessableEntity, ""},
	} {
		r := s.do(t, http.MethodGet, tc.path, nil, serviceAuth())
		require.Equal(t, tc.status, r.Code, "%s: %s", tc.path, r.Body)
		require.Contains(t, r.JSON(t)["detail"].(string)+string(r.Body), tc.detail, tc.path)
	}
}

// TestListsKeepUsersToThemselves: a user lists only their own devices and
// notifications.
func TestListsKeepUsersToThemselves(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	auth := userAuth(t, "u1")
	require.Equal(t, http.StatusOK, s.do(t, http.MethodGet, "/v1/users/u1/devices", nil, auth).Code)
	require.Equal(t, http.StatusForbidden, s.do(t, http.MethodGet, "/v1/users/u2/devices", nil, auth).Code)
	require.Equal(t, http.StatusOK, s.do(t, http.MethodGet, "/v1/users/u1/notifications", nil, auth).Code)
	require.Equal(t, http.StatusForbidden, s.do(t, http.MethodGet, "/v1/users/u2/notifications", nil, auth).Code)
	r := s.do(t, http.MethodGet, "/v1/users/u1/notifications", nil, auth)
	require.JSONEq(t, `{"next":null,"previous":null,"results":[]}`, string(r.Body))
}
