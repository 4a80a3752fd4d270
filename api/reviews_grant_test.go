package api

import (
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

// testJWTKey is FUNDIGO_JWT_SECRET of the test server: it signs user
// tokens and review grants alike.
const testJWTKey = "jwt-test-secret-0123456789"

// grantToken is a review grant as the Django app signs it (HS256, the JWT
// signing key); claims override the defaults
// (a nil claim is left out).
func grantToken(t *testing.T, key string, claims jwt.MapClaims) string {
	t.Helper()
	c := jwt.MapClaims{"exp": time.Now().Add(10 * time.Minute).Unix()}
	for k, v := range claims {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(key))
	require.NoError(t, err)
	return tok
}

// withGrant adds a valid review grant for (job, customer, technician).
func withGrant(t *testing.T, h map[string]string, job, customer, technician any) map[string]string {
	t.Helper()
	h["X-Review-Grant"] = grantToken(t, testJWTKey, jwt.MapClaims{"job_id": job, "customer_id": customer, "technician_id": technician})
	return h
}

func reviewBy(job, tech, customer string, rating int) map[string]any {
	return map[string]any{"job_id": job, "technician_id": tech, "customer_id": customer, "rating": rating}
}

func reviewCount(t *testing.T, s *testServer) int {
	t.Helper()
	var n int
	require.NoError(t, s.deps.Pool.QueryRow(t.Context(), `SELECT count(*) FROM reviews`).Scan(&n))
	return n
}

// Issue 18 row 2: user 300 posts one-star reviews of tech-victim for made-up
// job ids; today each is 201 and the victim's rating becomes 1.0.
func TestUserCannotReviewMadeUpJobs(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	for i, job := range []string{"fake-1", "fake-2", "fake-3", "fake-4", "fake-5"} {
		r := s.do(t, http.MethodPost, "/v1/reviews", reviewBy(job, "tech-victim", "300", 1), userAuth(t, "300"))
		require.Equal(t, http.StatusForbidden, r.Code, "review %d: %s", i, r.Body)
	}
	require.Zero(t, reviewCount(t, s))
	r := s.do(t, http.MethodGet, "/v1/technicians/tech-victim/rating", nil, serviceAuth())
	require.Equal(t, http.StatusNotFound, r.Code, "the victim has no rating")
}

// Issue 18 row 2: user 4242 reviews technician 4242 (today 201), with or
// without a grant; a service cannot post a self-review either.
func TestSelfReviewRefused(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	r := s.do(t, http.MethodPost, "/v1/reviews", reviewBy("job-self", "4242", "4242", 5), userAuth(t, "4242"))
	require.Contains(t, []int{http.StatusForbidden, http.StatusUnprocessableEntity}, r.Code, string(r.Body))
	r = s.do(t, http.MethodPost, "/v1/reviews", reviewBy("job-self", "4242", "4242", 5),
		withGrant(t, userAuth(t, "4242"), "job-self", "4242", "4242"))
	require.Contains(t, []int{http.StatusForbidden, http.StatusUnprocessableEntity}, r.Code, string(r.Body))
	r = s.do(t, http.MethodPost, "/v1/reviews", `{"job_id":"job-self","technician_id":4242,"customer_id":" 4242 ","rating":5}`, serviceAuth())
	require.Equal(t, http.StatusUnprocessableEntity, r.Code, string(r.Body))
	require.Zero(t, reviewCount(t, s))
}

// A valid grant lets its customer review its job (201); every way of
// stretching a grant is refused with 403 and stores nothing.
func TestReviewGrant(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	valid := jwt.MapClaims{"job_id": "job-77", "customer_id": "300", "technician_id": "tech-1"}
	with := func(claims jwt.MapClaims, key string) map[string]string {
		c := jwt.MapClaims{}
		for k, v := range valid {
			c[k] = v
		}
		for k, v := range claims {
			c[k] = v
		}
		h := userAuth(t, "300")
		h["X-Review-Grant"] = grantToken(t, key, c)
		return h
	}
	body := reviewBy("job-77", "tech-1", "300", 4)
	for name, h := range map[string]map[string]string{
		"no grant":         userAuth(t, "300"),
		"garbage grant":    func() map[string]string { h := userAuth(t, "300"); h["X-Review-Grant"] = "not-a-jwt"; return h }(),
		"wrong key":        with(nil, "another-secret-0123456789"),
		"expired":          with(jwt.MapClaims{"exp": time.Now().Add(-time.Minute).Unix()}, testJWTKey),
		"no expiry":        with(jwt.MapClaims{"exp": nil}, testJWTKey),
		"not short-lived":  with(jwt.MapClaims{"exp": time.Now().Add(30 * 24 * time.Hour).Unix()}, testJWTKey),
		"other job":        with(jwt.MapClaims{"job_id": "job-78"}, testJWTKey),
		"other customer":   with(jwt.MapClaims{"customer_id": "301"}, testJWTKey),
		"other technician": with(jwt.MapClaims{"technician_id": "tech-2"}, testJWTKey),
		"missing job":      with(jwt.MapClaims{"job_id": nil}, testJWTKey),
		"an access token":  with(jwt.MapClaims{"token_type": "access", "user_id": "300"}, testJWTKey),
		"access token instead": func() map[string]string {
			h := userAuth(t, "300")
			h["X-Review-Grant"] = h["Authorization"][len("Bearer "):]
			return h
		}(),
	} {
		r := s.do(t, http.MethodPost, "/v1/reviews", body, h)
		require.Equal(t, http.StatusForbidden, r.Code, "%s: %s", name, r.Body)
	}
	require.Zero(t, reviewCount(t, s))

	// A grant is not a bearer token.
	r := s.do(t, http.MethodPost, "/v1/reviews", body, map[string]string{"Authorization": "Bearer " + grantToken(t, testJWTKey, valid)})
	require.Equal(t, http.StatusUnauthorized, r.Code, string(r.Body))

	// Integer ids (Django primary keys) in the grant and the body match.
	r = s.do(t, http.MethodPost, "/v1/reviews", `{"job_id":77,"technician_id":1,"customer_id":300,"rating":5}`,
		withGrant(t, userAuth(t, "300"), 77, 300, 1))
	require.Equal(t, http.StatusCreated, r.Code, string(r.Body))

	r = s.do(t, http.MethodPost, "/v1/reviews", body, with(jwt.MapClaims{"token_type": "review_grant"}, testJWTKey))
	require.Equal(t, http.StatusCreated, r.Code, string(r.Body))
	require.Equal(t, "300", r.JSON(t)["customer_id"])
	require.Equal(t, 2, reviewCount(t, s))
}

// A user cannot take someone else's job id first (so that the real customer
// gets 409): its grant names its own job only.
func TestUserCannotTakeAnotherCustomersJob(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	// 300 holds a grant for its own job-a and tries job-b (customer 500's).
	r := s.do(t, http.MethodPost, "/v1/reviews", reviewBy("job-b", "tech-1", "300", 1),
		withGrant(t, userAuth(t, "300"), "job-a", "300", "tech-1"))
	require.Equal(t, http.StatusForbidden, r.Code, string(r.Body))
	r = s.do(t, http.MethodPost, "/v1/reviews", reviewBy("job-b", "tech-1", "500", 1),
		withGrant(t, userAuth(t, "300"), "job-b", "500", "tech-1"))
	require.Equal(t, http.StatusForbidden, r.Code, "a grant for another customer: %s", r.Body)
	r = s.do(t, http.MethodPost, "/v1/reviews", reviewBy("job-b", "tech-1", "500", 5),
		withGrant(t, userAuth(t, "500"), "job-b", "500", "tech-1"))
	require.Equal(t, http.StatusCreated, r.Code, "the real customer: %s", r.Body)
}
