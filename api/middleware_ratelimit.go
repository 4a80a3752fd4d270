package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"

	"fundigo/pkg/config"
	"fundigo/pkg/payment"
)

// Throttle scopes (the scalability guide's DRF scopes plus service and
// webhook). Each is one FUNDIGO_THROTTLE_* variable.
const (
	scopeAnon    = "anon"    // per client IP: unauthenticated routes, failed authentication
	scopeUser    = "user"    // per user id
	scopeService = "service" // per service key name
	scopePayment = "payment" // per customer, POST /v1/payments
	scopeOTP     = "otp"     // per phone, whatever sends codes
	scopeWebhook = "webhook" // per source IP, Daraja webhooks
)

// throttler applies GCRA limits kept in Redis, so every API replica shares
// one budget per scope and caller. Limits protect capacity and the
// customers' phones; they are not the only security boundary, so when Redis
// is slow or down the request is let through (fail open) within budget, and
// after repeated failures a circuit breaker skips Redis altogether for a
// while. A nil *throttler limits nothing.
type throttler struct {
	limiter *redis_rate.Limiter
	prefix  string
	budget  time.Duration
	limits  map[string]redis_rate.Limit // enabled scopes only
	breaker *gobreaker.CircuitBreaker[*redis_rate.Result]
	metrics *prometheus.CounterVec // nil: not exported
}

// errBudget is a limiter call that outlived its budget.
var errBudget = errors.New("rate limiter: redis did not answer within budget")

// newThrottler builds the limiter over rdb (nil: no limits). reg, when not
// nil, receives the decisions counter.
func newThrottler(rdb redis.UniversalClient, prefix string, cfg config.Throttle, reg prometheus.Registerer) *throttler {
	if rdb == nil {
		return nil
	}
	t := &throttler{
		limiter: redis_rate.NewLimiter(rdb),
		prefix:  prefix + "rl:",
		budget:  cfg.RedisBudget,
		limits:  map[string]redis_rate.Limit{},
	}
	if t.budget <= 0 {
		t.budget = 75 * time.Millisecond
	}
	for scope, r := range map[string]config.Rate{
		scopeAnon: cfg.Anon, scopeUser: cfg.User, scopeService: cfg.Service,
		scopePayment: cfg.Payment, scopeOTP: cfg.OTP, scopeWebhook: cfg.Webhook,
	} {
		if r.Enabled() {
			// Burst = N: the whole allowance may be used at once, then it
			// refills evenly (N per period), as DRF's window does.
			t.limits[scope] = redis_rate.Limit{Rate: r.N, Burst: r.N, Period: r.Period}
		}
	}
	t.breaker = gobreaker.NewCircuitBreaker[*redis_rate.Result](gobreaker.Settings{
		Name:     "ratelimit",
		Interval: 10 * time.Second,
		Timeout:  5 * time.Second, // open this long, then one probe
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= 5 || (c.Requests >= 20 && c.TotalFailures*2 >= c.Requests)
		},
	})
	if reg != nil {
		t.metrics = registerCounter(reg, newDecisionsCounter())
	}
	return t
}

func newDecisionsCounter() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "fundigo", Name: "ratelimit_decisions_total",
		Help: "Rate limiter decisions by scope: allowed, limited, or failed_open (Redis slow or down, breaker open).",
	}, []string{"scope", "decision"})
}

// registerCounter registers c, or returns the identical collector a
// previous server on the same registry registered.
func registerCounter(reg prometheus.Registerer, c *prometheus.CounterVec) *prometheus.CounterVec {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if prev, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return prev
			}
		}
		return nil
	}
	return c
}

func (t *throttler) count(scope, decision string) {
	if t.metrics != nil {
		t.metrics.WithLabelValues(scope, decision).Inc()
	}
}

// enabled reports whether scope limits anything.
func (t *throttler) enabled(scope string) bool {
	if t == nil {
		return false
	}
	_, ok := t.limits[scope]
	return ok
}

// allow takes one request from who's budget in scope. It returns a 429
// problem (Retry-After, DRF's detail) when the budget is spent, nil
// otherwise — also when the limiter cannot answer in time.
func (t *throttler) allow(c echo.Context, scope, who string) error {
	if !t.enabled(scope) {
		return nil
	}
	limit := t.limits[scope]
	key := t.prefix + scope + ":" + who
	res, err := t.breaker.Execute(func() (*redis_rate.Result, error) {
		return t.call(c.Request().Context(), key, limit)
	})
	if err != nil {
		t.count(scope, "failed_open")
		ev := zerologCtx(c).Warn()
		if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
			ev = zerologCtx(c).Debug()
		}
		ev.Err(err).Str("scope", scope).Msg("rate limiter unavailable; allowing")
		return nil
	}
	h := c.Response().Header()
	h.Set("RateLimit-Limit", strconv.Itoa(limit.Rate))
	h.Set("RateLimit-Remaining", strconv.Itoa(res.Remaining))
	if res.Allowed > 0 {
		t.count(scope, "allowed")
		return nil
	}
	t.count(scope, "limited")
	secs := int((res.RetryAfter + time.Second - 1) / time.Second) // round up: retrying earlier fails again
	if secs < 1 {
		secs = 1
	}
	return NewProblem(http.StatusTooManyRequests,
		fmt.Sprintf("Request was throttled. Expected available in %d second%s.", secs, plural(secs))).
		WithHeader("Retry-After", strconv.Itoa(secs))
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// call asks Redis within the budget. The Redis client may not honour context
// deadlines on socket reads, so the answer is awaited here with a timer; a
// late answer is dropped (its goroutine ends with the client's own timeout).
func (t *throttler) call(ctx context.Context, key string, limit redis_rate.Limit) (*redis_rate.Result, error) {
	type answer struct {
		res *redis_rate.Result
		err error
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), t.budget)
	done := make(chan answer, 1)
	go func() {
		res, err := t.limiter.Allow(ctx, key, limit)
		done <- answer{res, err}
	}()
	timer := time.NewTimer(t.budget)
	defer timer.Stop()
	select {
	case a := <-done:
		cancel()
		return a.res, a.err
	case <-timer.C:
		go func() { <-done; cancel() }()
		return nil, errBudget
	}
}

// caller throttles an authenticated principal: users per user id, services
// per key name.
func (t *throttler) caller(c echo.Context, p Principal) error {
	if p.Kind == "service" {
		return t.allow(c, scopeService, p.Name)
	}
	return t.allow(c, scopeUser, p.Name)
}

// anon charges the client IP's anonymous budget: unauthenticated routes and
// every failed authentication.
func (t *throttler) anon(c echo.Context) error {
	return t.allow(c, scopeAnon, ipKey(c.RealIP()))
}

// phoneKey names a phone in Redis keys without storing the number.
func phoneKey(msisdn string) string {
	sum := sha256.Sum256([]byte("fundigo-phone\x00" + msisdn))
	return "phone:" + hex.EncodeToString(sum[:12])
}

// otp charges a phone's budget for one code sent. No route sends codes
// yet: the scope is reserved, and a handler that sends one calls this with
// the normalized MSISDN before sending.
func (t *throttler) otp(c echo.Context, msisdn string) error {
	return t.allow(c, scopeOTP, phoneKey(msisdn))
}

// anonOnUnknownPath charges the anonymous budget of a client asking for an
// unknown /v1 path (scanners), before it gets its 404. A known path with
// another method (405) is not charged.
func (t *throttler) anonOnUnknownPath() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if c.Path() == "" && strings.HasPrefix(c.Request().URL.Path, "/v1/") {
				if err := t.anon(c); err != nil {
					return err
				}
			}
			return next(c)
		}
	}
}

// limitAnonRoute throttles an unauthenticated route by client IP.
func (t *throttler) limitAnonRoute() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := t.anon(c); err != nil {
				return err
			}
			return next(c)
		}
	}
}

// limitPayment throttles POST /v1/payments per customer: the Django app
// calls with its service key on behalf of customers, so the key does not
// exempt it. The customer is the body's customer_id (as the handler reads it,
// trimmed); a body without one passes here and is refused by the handler.
func (t *throttler) limitPayment() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if !t.enabled(scopePayment) {
				return next(c)
			}
			req := c.Request()
			// The whole body (capped by the body-limit middleware): any body
			// the handler accepts, however padded, is charged.
			body, err := io.ReadAll(req.Body)
			if err != nil {
				return decodeProblem(err)
			}
			req.Body = io.NopCloser(bytes.NewReader(body))
			var peek struct {
				CustomerID string `json:"customer_id"`
			}
			if json.Unmarshal(body, &peek) == nil {
				if cust := strings.TrimSpace(peek.CustomerID); cust != "" && len(cust) <= payment.MaxIDLen {
					if err := t.allow(c, scopePayment, "customer:"+cust); err != nil {
						return err
					}
				}
			}
			return next(c)
		}
	}
}
