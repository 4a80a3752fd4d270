package amqpx_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/amqpx"
	"fundigo/pkg/amqpx/amqpxtest"
)

// sockets remembers every TCP connection a Conn dialled, so a test can cut
// them the way a dead network or a killed broker would.
type sockets struct {
	mu    sync.Mutex
	conns []net.Conn
}

func (s *sockets) dial(network, addr string) (net.Conn, error) {
	c, err := amqp.DefaultDial(5*time.Second)(network, addr)
	if err == nil {
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
	}
	return c, err
}

func (s *sockets) cutAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		_ = c.Close()
	}
}

func dialWithSockets(t *testing.T, log zerolog.Logger) (*amqpx.Conn, *sockets) {
	t.Helper()
	s := &sockets{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := amqpx.Dial(ctx, log, amqpx.WithDial(amqpx.ConnConfig{
		URL:               amqpxtest.URL(),
		Name:              t.Name(),
		MinReconnectDelay: 10 * time.Millisecond,
		MaxReconnectDelay: 200 * time.Millisecond,
	}, s.dial))
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, conn.Close(ctx))
	})
	return conn, s
}

// publishUntilConfirmed retries like every caller of Publish must.
func publishUntilConfirmed(t *testing.T, pub *amqpx.Publisher, exchange, id string) {
	t.Helper()
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return pub.Publish(ctx, exchange, "k", amqp.Publishing{MessageId: id, Body: []byte(id)}) == nil
	}, 15*time.Second, 10*time.Millisecond)
}

func TestConnRecoversAfterSocketCut(t *testing.T) {
	t.Parallel()
	b := setup(t)
	conn, socks := dialWithSockets(t, b.log)
	b.conn = conn // consumer and publisher on the connection we will cut
	col := newCollector()
	spec := b.spec("cut", col.handle)
	b.start(t, spec)
	pub := b.publisher(t, amqpx.PublisherConfig{Mandatory: true})

	publishUntilConfirmed(t, pub, b.exchange, "before")
	require.Eventually(t, func() bool { return col.count() == 1 }, 10*time.Second, 10*time.Millisecond)

	// A topology object deleted behind our back must come back on reconnect.
	extra := b.names.Exchange("extra")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, conn.Declare(ctx, amqpx.Topology{Exchanges: []amqpx.Exchange{{Name: extra}}}))
	other := amqpxtest.Conn(t, zerolog.Nop())
	ch, err := other.Channel(ctx)
	require.NoError(t, err)
	require.NoError(t, ch.ExchangeDelete(extra, false, false))

	first := conn.Underlying()
	socks.cutAll()
	require.Eventually(t, func() bool {
		u := conn.Underlying()
		return u != nil && u != first && conn.Ping(ctx) == nil
	}, 10*time.Second, 10*time.Millisecond, "conn must reconnect by itself")

	err = ch.ExchangeDeclarePassive(extra, amqp.ExchangeTopic, true, false, false, false, nil)
	require.NoError(t, err, "topology re-declared after reconnect")

	for i := range 20 {
		publishUntilConfirmed(t, pub, b.exchange, fmt.Sprintf("after-%d", i))
	}
	require.Eventually(t, func() bool { return col.count() == 21 }, 15*time.Second, 10*time.Millisecond,
		"consumer resumes after reconnect")
}

func TestConnRecoversAfterUnderlyingClose(t *testing.T) {
	t.Parallel()
	b := setup(t)
	col := newCollector()
	b.start(t, b.spec("close", col.handle))
	pub := b.publisher(t, amqpx.PublisherConfig{})

	first := b.conn.Underlying()
	require.NotNil(t, first)
	require.NoError(t, first.Close()) // a clean close we did not ask the Conn for
	require.Eventually(t, func() bool {
		u := b.conn.Underlying()
		return u != nil && u != first
	}, 10*time.Second, 10*time.Millisecond)
	publishUntilConfirmed(t, pub, b.exchange, "x")
	require.Eventually(t, func() bool { return col.count() == 1 }, 15*time.Second, 10*time.Millisecond)
}

func TestDeclareMismatchIsReportedAndNotKept(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	q := b.names.Queue("classic")
	ch, err := b.conn.Channel(ctx)
	require.NoError(t, err)
	_, err = ch.QueueDeclare(q, true, false, false, false, nil) // classic queue
	require.NoError(t, err)
	require.NoError(t, ch.Close())

	err = b.conn.Declare(ctx, amqpx.Topology{Queues: []amqpx.Queue{{Name: q}}})
	require.Error(t, err)
	var amqpErr *amqp.Error
	require.ErrorAs(t, err, &amqpErr)
	require.Equal(t, amqp.PreconditionFailed, amqpErr.Code)
	require.NoError(t, b.conn.Ping(ctx), "a channel error leaves the connection usable")

	// The rejected topology is not replayed: a reconnect still succeeds.
	first := b.conn.Underlying()
	require.NoError(t, first.Close())
	require.Eventually(t, func() bool { return b.conn.Ping(ctx) == nil && b.conn.Underlying() != first },
		10*time.Second, 10*time.Millisecond)
}

func TestDialUnreachableReportsCause(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := amqpx.Dial(ctx, zerolog.Nop(), amqpx.ConnConfig{URL: "amqp://guest:guest@127.0.0.1:1/"})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "connection refused")
	require.NotContains(t, err.Error(), "guest:guest")
}

func TestConnConfigValidate(t *testing.T) {
	t.Parallel()
	_, err := amqpx.NewConn(zerolog.Nop(), amqpx.ConnConfig{})
	require.ErrorContains(t, err, "amqp url is empty")
	_, err = amqpx.NewConn(zerolog.Nop(), amqpx.ConnConfig{URL: "http://secret@x"})
	require.ErrorContains(t, err, "malformed")
	require.NotContains(t, err.Error(), "secret")
}

func TestConnClose(t *testing.T) {
	t.Parallel()
	conn := amqpxtest.Conn(t, zerolog.Nop())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, conn.Ping(ctx))
	require.NoError(t, conn.Close(ctx))
	require.NoError(t, conn.Close(ctx), "Close is idempotent")
	require.ErrorIs(t, conn.Ping(ctx), amqpx.ErrClosed)
	_, err := conn.Channel(ctx)
	require.ErrorIs(t, err, amqpx.ErrClosed)
}
