package exposim

import (
	"crypto/rsa"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"fundigo/pkg/expo"
)

// Options configures a Sim. Zero values are fine for tests.
type Options struct {
	// NowFunc is the clock used for the per-second counters; default time.Now.
	NowFunc func() time.Time
	// FCMPublicKey, when set, verifies the signature of OAuth assertions;
	// otherwise their claims are checked but not the signature.
	FCMPublicKey *rsa.PublicKey
	// FCMTokenTTL is the lifetime of issued access tokens; default 1h.
	FCMTokenTTL time.Duration
}

// Received is one message as the simulator received it.
type Received struct {
	Provider   string         `json:"provider"` // "expo" or "fcm"
	Token      string         `json:"token"`
	Title      string         `json:"title"`
	Body       string         `json:"body"`
	Data       map[string]any `json:"data,omitempty"`
	Priority   string         `json:"priority,omitempty"`
	CollapseID string         `json:"collapse_id,omitempty"`
	At         time.Time      `json:"at"`
}

// MaxRecent is how many of the last messages (all tokens) GET /_sim/messages
// can show.
const MaxRecent = 100

// MaxPerToken is how many of a token's last messages Received returns. The
// per-token counts (Stats.PerToken) stay exact; only the bodies are
// bounded, so a long-running simulator does not keep every message.
const MaxPerToken = 50

// Stats are the simulator's counters. Only accepted requests (answered 200)
// count in Messages, PerSecond and RequestSizes.
type Stats struct {
	SendRequests    int            `json:"send_requests"` // Expo send requests answered 200
	Rejected        int            `json:"rejected"`      // Expo send requests answered 4xx/5xx
	Gzipped         int            `json:"gzipped"`       // Expo send requests with a gzip body
	Messages        int            `json:"messages"`      // Expo messages that got a ticket
	TicketErrors    int            `json:"ticket_errors"` // of which error tickets
	PerToken        map[string]int `json:"per_token"`     // Expo and FCM messages per token
	PerSecond       map[int64]int  `json:"per_second"`    // Expo messages per Unix second of arrival
	RequestSizes    []int          `json:"request_sizes"` // messages per accepted Expo request, in order
	ReceiptRequests int            `json:"receipt_requests"`
	ReceiptIDs      int            `json:"receipt_ids"`
	FCMMessages     int            `json:"fcm_messages"`   // FCM messages accepted
	FCMRejected     int            `json:"fcm_rejected"`   // FCM requests answered with an error
	TokenRequests   int            `json:"token_requests"` // OAuth token grants issued
}

// MaxPerSecond is the highest PerSecond value.
func (s Stats) MaxPerSecond() int {
	m := 0
	for _, n := range s.PerSecond {
		m = max(m, n)
	}
	return m
}

// MaxRequestSize is the largest accepted Expo request, in messages.
func (s Stats) MaxRequestSize() int {
	if len(s.RequestSizes) == 0 {
		return 0
	}
	return slices.Max(s.RequestSizes)
}

// failure is a queued injected answer.
type failure struct {
	status     int
	retryAfter time.Duration
}

// Sim is the simulator. All methods are safe for concurrent use.
type Sim struct {
	opts Options
	mux  *http.ServeMux

	mu        sync.Mutex // guards everything below
	stats     Stats
	received  map[string][]Received // each token's last MaxPerToken messages, oldest first
	recent    [MaxRecent]Received   // ring of the last messages: recent[(recentAt-1)%MaxRecent] is the newest
	recentAt  int                   // messages ever put in recent
	tickets   ticketIDs
	receipts  map[string]expo.Receipt // the receipts that are not ok, by ticket id
	expoFails []failure
	fcmFails  []failure
	delay     time.Duration
	rate      int // Expo messages per second accepted; 0 = unlimited
	fcmTokens map[string]time.Time
	fcmSeq    int
}

// New returns a simulator.
func New(opts Options) *Sim {
	if opts.NowFunc == nil {
		opts.NowFunc = time.Now
	}
	if opts.FCMTokenTTL == 0 {
		opts.FCMTokenTTL = time.Hour
	}
	s := &Sim{
		opts:      opts,
		received:  make(map[string][]Received),
		receipts:  make(map[string]expo.Receipt),
		fcmTokens: make(map[string]time.Time),
		tickets:   newTicketIDs(),
	}
	s.stats.PerToken = make(map[string]int)
	s.stats.PerSecond = make(map[int64]int)
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+expo.SendPath, s.handleSend)
	mux.HandleFunc("POST "+expo.ReceiptsPath, s.handleReceipts)
	mux.HandleFunc("POST /v1/projects/{project}/messages:send", s.handleFCMSend)
	mux.HandleFunc("POST /token", s.handleToken)
	mux.HandleFunc("GET /_sim/stats", s.handleStats)
	mux.HandleFunc("GET /_sim/messages", s.handleMessages)
	mux.HandleFunc("POST /_sim/fail", s.handleFail)
	s.mux = mux
	return s
}

// ServeHTTP implements http.Handler.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// FailNext makes the next count Expo send requests fail with status (429 or
// 5xx; other codes answer as given). retryAfter > 0 adds a Retry-After header
// in whole seconds (rounded up).
func (s *Sim) FailNext(count, status int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range count {
		s.expoFails = append(s.expoFails, failure{status, retryAfter})
	}
}

// FailNextFCM makes the next count FCM sends fail with status: 429
// (QUOTA_EXCEEDED), 500 (INTERNAL), 503 (UNAVAILABLE) or 401.
func (s *Sim) FailNextFCM(count, status int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range count {
		s.fcmFails = append(s.fcmFails, failure{status, retryAfter})
	}
}

// SetDelay makes every answer wait d first (slow provider).
func (s *Sim) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// SetRateLimit makes Expo answer 429 TOO_MANY_REQUESTS (Retry-After: 1) to a
// request that would take the messages of the current second over perSecond,
// as Expo does at 600/s. 0 turns enforcement off.
func (s *Sim) SetRateLimit(perSecond int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rate = perSecond
}

// Stats returns a copy of the counters.
func (s *Sim) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.PerToken = maps.Clone(s.stats.PerToken)
	st.PerSecond = maps.Clone(s.stats.PerSecond)
	st.RequestSizes = slices.Clone(s.stats.RequestSizes)
	return st
}

// receiveLocked records one accepted message; s.mu is held.
func (s *Sim) receiveLocked(m Received) {
	got := s.received[m.Token]
	if len(got) == MaxPerToken {
		got = append(got[:0], got[1:]...)
	}
	s.received[m.Token] = append(got, m)
	s.recent[s.recentAt%MaxRecent] = m
	s.recentAt++
}

// Recent returns up to n of the last messages received (any token), newest
// first.
func (s *Sim) Recent(n int) []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	n = min(n, s.recentAt, MaxRecent)
	out := make([]Received, 0, n)
	for i := range n {
		out = append(out, s.recent[(s.recentAt-1-i)%MaxRecent])
	}
	return out
}

// MessageCount is Stats().Messages + Stats().FCMMessages without copying
// the per-token and per-second counters: cheap enough to poll.
func (s *Sim) MessageCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats.Messages + s.stats.FCMMessages
}

// Received returns the last messages (at most MaxPerToken) received for
// token, oldest first.
func (s *Sim) Received(token string) []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.received[token])
}

func (s *Sim) takeFailure(fcm bool) (failure, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := &s.expoFails
	if fcm {
		q = &s.fcmFails
	}
	if len(*q) == 0 {
		return failure{}, false
	}
	f := (*q)[0]
	*q = (*q)[1:]
	return f, true
}

// wait applies the configured delay; false when the client went away.
func (s *Sim) wait(r *http.Request) bool {
	s.mu.Lock()
	d := s.delay
	s.mu.Unlock()
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}
