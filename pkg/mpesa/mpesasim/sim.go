// Package mpesasim simulates the parts of Safaricom's Daraja API that FundiGO
// uses (OAuth, STK Push, STK Push Query), with Daraja's request validation and
// error bodies, and sends STK callbacks to each request's CallBackURL.
//
// The outcome of a push depends on the phone number, like a payment
// provider's test cards (see BehaviourFor); Faults switch on delays, duplicate
// callbacks, 5xx answers, hung answers and early token expiry. It runs as an
// http.Handler, so tests mount it on httptest.Server and `fundigo mpesa-sim`
// or `fundigo all` serve it for development.
package mpesasim

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"fundigo/pkg/logging"
	"fundigo/pkg/mpesa"
)

// Config configures a Sim. Zero values get defaults (see setDefaults).
type Config struct {
	ConsumerKey    string // default "sim-consumer-key"
	ConsumerSecret string // default "sim-consumer-secret"
	ShortCode      string // default "174379"
	Passkey        string // default "sim-passkey"
	// InitiatorName and InitiatorPassword are the B2C / Transaction Status
	// initiator it accepts (defaults "sim-initiator", "sim-initiator-pass#1").
	InitiatorName     string
	InitiatorPassword string
	// CallbackDelay is how long the simulated customer takes to answer the
	// prompt (default 1s).
	CallbackDelay time.Duration
	// TokenExpiresIn is the expires_in reported for tokens (default 3599s).
	TokenExpiresIn time.Duration
	// HTTPClient sends the callbacks (default: 10s timeout).
	HTTPClient *http.Client
	Log        zerolog.Logger
	NowFunc    func() time.Time
}

func (c *Config) setDefaults() {
	if c.ConsumerKey == "" {
		c.ConsumerKey = "sim-consumer-key"
	}
	if c.ConsumerSecret == "" {
		c.ConsumerSecret = "sim-consumer-secret"
	}
	if c.ShortCode == "" {
		c.ShortCode = "174379"
	}
	if c.Passkey == "" {
		c.Passkey = "sim-passkey"
	}
	if c.InitiatorName == "" {
		c.InitiatorName = "sim-initiator"
	}
	if c.InitiatorPassword == "" {
		c.InitiatorPassword = "sim-initiator-pass#1"
	}
	if c.CallbackDelay == 0 {
		c.CallbackDelay = time.Second
	}
	if c.TokenExpiresIn <= 0 {
		c.TokenExpiresIn = 3599 * time.Second
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if c.NowFunc == nil {
		c.NowFunc = time.Now
	}
}

// Sim is the simulated Daraja. It is safe for concurrent use. Close stops
// pending callbacks.
type Sim struct {
	cfg Config
	mux *http.ServeMux
	log zerolog.Logger

	// ctx is cancelled by Close; callback goroutines watch it and wg tracks them.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	keysOnce sync.Once
	keys     *keys // set once by keyPair

	mu     sync.Mutex // guards everything below
	faults Faults
	token  string    // the only valid token: each issue revokes the previous
	tokExp time.Time // when token stops working
	txns   map[string]*txn
	seq    int
	stats  Stats
	// payouts are the accepted B2C requests by OriginatorConversationID.
	payouts map[string]*payout
	c2b     c2bURLs
}

// Stats counts what the simulator did, for tests.
type Stats struct {
	TokensIssued    int
	Pushes          int // accepted STK pushes
	PushesByPhone   map[string]int
	Queries         int
	CallbacksSent   int // delivered with a 2xx answer
	CallbacksFailed int // not delivered or answered non-2xx
	// B2CRequests counts every B2C request received (duplicates and
	// refused ones too); B2CByOriginator per OriginatorConversationID, so a
	// test can assert that no payout was sent twice.
	B2CRequests     int
	B2CByOriginator map[string]int
	StatusQueries   int
}

// New returns a simulator.
func New(cfg Config) *Sim {
	cfg.setDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	s := &Sim{
		cfg:     cfg,
		log:     cfg.Log.With().Str(logging.FieldComponent, "mpesasim").Logger(),
		ctx:     ctx,
		cancel:  cancel,
		txns:    map[string]*txn{},
		stats:   Stats{PushesByPhone: map[string]int{}, B2CByOriginator: map[string]int{}},
		payouts: map[string]*payout{},
	}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("/oauth/v1/generate", s.handleOAuth)
	s.mux.HandleFunc("/mpesa/stkpush/v1/processrequest", s.handleSTKPush)
	s.mux.HandleFunc("/mpesa/stkpushquery/v1/query", s.handleSTKQuery)
	s.mux.HandleFunc("/mpesa/b2c/v1/paymentrequest", s.handleB2C)
	s.mux.HandleFunc(mpesa.PathB2C, s.handleB2C)
	s.mux.HandleFunc(mpesa.PathTxStatus, s.handleTxStatus)
	s.mux.HandleFunc("/mpesa/c2b/v1/registerurl", s.handleRegisterC2B)
	s.mux.HandleFunc(mpesa.PathRegisterC2B, s.handleRegisterC2B)
	s.mux.HandleFunc(mpesa.PathSimulateC2B, s.handleSimulateC2B)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "404.001.01", "Resource not found")
	})
	return s
}

// ServeHTTP implements http.Handler.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Config returns the effective configuration (credentials included, for
// wiring a client to this simulator).
func (s *Sim) Config() Config { return s.cfg }

// Close cancels callbacks not yet sent and waits for those in flight.
func (s *Sim) Close() {
	s.cancel()
	s.wg.Wait()
}

// Stats returns a snapshot of the counters.
func (s *Sim) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.PushesByPhone = make(map[string]int, len(s.stats.PushesByPhone))
	for k, v := range s.stats.PushesByPhone {
		st.PushesByPhone[k] = v
	}
	st.B2CByOriginator = make(map[string]int, len(s.stats.B2CByOriginator))
	for k, v := range s.stats.B2CByOriginator {
		st.B2CByOriginator[k] = v
	}
	return st
}
