package amqpx

import (
	"net"

	amqp "github.com/rabbitmq/amqp091-go"
)

// WithDial returns cfg with its TCP dialer replaced, so a test can cut the
// socket under a live connection.
func WithDial(cfg ConnConfig, dial func(network, addr string) (net.Conn, error)) ConnConfig {
	cfg.dial = dial
	return cfg
}

// Underlying is the current amqp connection, or nil while reconnecting.
func (c *Conn) Underlying() *amqp.Connection {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conn
}
