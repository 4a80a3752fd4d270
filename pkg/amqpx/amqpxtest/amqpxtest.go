// Package amqpxtest isolates tests that use the shared RabbitMQ: every test
// gets its own exchange and queue names (no vhost: the management API is not
// available here) and everything it named is deleted in t.Cleanup. Import it
// only from _test.go files.
package amqpxtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"fundigo/pkg/amqpx"
)

// URL is the broker tests use: $FUNDIGO_TEST_AMQP_URL, or the local default.
func URL() string {
	if u := os.Getenv("FUNDIGO_TEST_AMQP_URL"); u != "" {
		return u
	}
	return "amqp://guest:guest@127.0.0.1:5672/"
}

// Namespace hands out names unique to one test and deletes, in Cleanup, every
// exchange and queue (with its DLX and DLQ) it handed out. Names built by hand
// from Prefix are not tracked: use Queue and Exchange.
type Namespace struct {
	prefix string

	mu        sync.Mutex
	queues    []string
	exchanges []string
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9]+`)

// Names returns a fresh Namespace for t. Call it before creating consumers or
// connections so its Cleanup (deleting the broker objects) runs after theirs.
func Names(t testing.TB) *Namespace {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := strings.Trim(unsafeChars.ReplaceAllString(t.Name(), "-"), "-")
	if len(name) > 60 {
		name = name[len(name)-60:]
	}
	n := &Namespace{prefix: "test." + name + "." + hex.EncodeToString(b[:])}
	t.Cleanup(func() { n.cleanup(t) })
	return n
}

// Prefix is the unique prefix of this namespace.
func (n *Namespace) Prefix() string { return n.prefix }

// Queue returns a unique queue name and schedules the queue, its DLX, its
// DLQ and its retry queues for deletion.
func (n *Namespace) Queue(name string) string {
	full := n.prefix + "." + name
	n.mu.Lock()
	n.queues = append(n.queues, full)
	n.mu.Unlock()
	return full
}

// Exchange returns a unique exchange name and schedules it for deletion.
func (n *Namespace) Exchange(name string) string {
	full := n.prefix + "." + name
	n.mu.Lock()
	n.exchanges = append(n.exchanges, full)
	n.mu.Unlock()
	return full
}

func (n *Namespace) cleanup(t testing.TB) {
	n.mu.Lock()
	queues, exchanges := n.queues, n.exchanges
	n.mu.Unlock()
	if len(queues) == 0 && len(exchanges) == 0 {
		return
	}
	conn, err := amqp.DialConfig(URL(), amqp.Config{Dial: amqp.DefaultDial(5 * time.Second)})
	if err != nil {
		t.Logf("amqpxtest: cleanup skipped, dial: %v", err)
		return
	}
	defer conn.Close() //nolint:errcheck // test cleanup
	// Each delete gets its own channel: a failed one closes its channel.
	del := func(f func(ch *amqp.Channel) error) {
		ch, err := conn.Channel()
		if err != nil {
			t.Logf("amqpxtest: cleanup channel: %v", err)
			return
		}
		if err := f(ch); err != nil {
			t.Logf("amqpxtest: cleanup: %v", err)
			return
		}
		_ = ch.Close()
	}
	for _, q := range queues {
		for _, name := range amqpx.QueueNames(q) {
			del(func(ch *amqp.Channel) error { _, err := ch.QueueDelete(name, false, false, false); return err })
		}
		del(func(ch *amqp.Channel) error { return ch.ExchangeDelete(amqpx.DLXName(q), false, false) })
	}
	for _, e := range exchanges {
		del(func(ch *amqp.Channel) error { return ch.ExchangeDelete(e, false, false) })
	}
}

// Conn dials a Conn to URL() with short reconnect delays and closes it in
// Cleanup. log may be zerolog.Nop().
func Conn(t testing.TB, log zerolog.Logger) *amqpx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := amqpx.Dial(ctx, log, amqpx.ConnConfig{
		URL:               URL(),
		Name:              t.Name(),
		MinReconnectDelay: 20 * time.Millisecond,
		MaxReconnectDelay: time.Second,
	})
	if err != nil {
		t.Fatalf("amqpxtest: dial %s: %v", URL(), err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := conn.Close(ctx); err != nil {
			t.Errorf("amqpxtest: close conn: %v", err)
		}
	})
	return conn
}
