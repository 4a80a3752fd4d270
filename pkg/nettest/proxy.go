// Package nettest is a test helper (imported only by _test.go files): a TCP
// proxy in front of a real service (PostgreSQL, Redis, RabbitMQ) that a test
// can break for the one client it serves, without stopping the shared
// service the other tests use. Two failures: Blackhole (the dependency hangs:
// connections stay open and nothing is answered, the worst case for
// timeouts) and Cut (the dependency is down: connections are closed and new
// ones refused at once).
package nettest

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Proxy forwards a loopback port to a target address. Its methods are safe
// for concurrent use; everything it opened is closed when the test ends.
type Proxy struct {
	ln     net.Listener
	target string
	dial   func(network, address string) (net.Conn, error)

	// mu guards the fields below; the forwarding goroutines read the mode.
	mu        sync.Mutex
	blackhole bool
	cut       bool
	conns     map[net.Conn]struct{}
}

// NewProxy listens on 127.0.0.1:0 and forwards every connection to target.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	// Not t.Context(): the test's cleanups may still use the proxy after it
	// is cancelled; the listener's cleanup ends the proxy.
	ctx := context.Background()
	d := &net.Dialer{Timeout: 5 * time.Second}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{},
		dial: func(network, address string) (net.Conn, error) { return d.DialContext(ctx, network, address) }}
	go p.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		p.closeAll()
	})
	return p
}

// Addr is the proxy's address ("127.0.0.1:port"), to give the client in
// place of the target's.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Blackhole stops forwarding (true) without closing anything: open
// connections stay open and their bytes are read and dropped, new
// connections are accepted and held. That is a partitioned or hung
// dependency as a client sees it (no RST, no answer). Blackhole(false)
// forwards again on the connections opened since.
func (p *Proxy) Blackhole(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.blackhole = on
}

// Cut closes every open connection and refuses new ones (true): a
// dependency that is down. Cut(false) lets new connections through again.
func (p *Proxy) Cut(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = down
	if down {
		p.closeAll()
	}
}

func (p *Proxy) closeAll() {
	for c := range p.conns {
		_ = c.Close()
	}
	clear(p.conns)
}

func (p *Proxy) mode() (blackhole, cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.blackhole, p.cut
}

// track records c for Cut and cleanup; false means the proxy was cut
// meanwhile and c was closed instead.
func (p *Proxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		for _, c := range cs {
			_ = c.Close()
		}
		return false
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *Proxy) forget(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		_ = c.Close()
		delete(p.conns, c)
	}
}

func (p *Proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.handle(c)
	}
}

func (p *Proxy) handle(c net.Conn) {
	if !p.track(c) {
		return
	}
	if hole, _ := p.mode(); hole {
		p.swallow(c) // held, never answered
		return
	}
	up, err := p.dial("tcp", p.target)
	if err != nil {
		p.forget(c)
		return
	}
	if !p.track(up) {
		p.forget(c)
		return
	}
	go p.pipe(up, c)
	p.pipe(c, up)
}

// swallow reads and drops everything c sends until it closes.
func (p *Proxy) swallow(c net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		if _, err := c.Read(buf); err != nil {
			p.forget(c)
			return
		}
	}
}

// pipe copies src to dst, dropping what arrives while black-holed. When src
// ends, both ends are closed, unless the proxy is black-holed (a hung
// dependency closes nothing).
func (p *Proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			if hole, _ := p.mode(); !hole {
				p.forget(src, dst)
			}
			return
		}
		if hole, _ := p.mode(); hole {
			continue
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			p.forget(src, dst)
			return
		}
	}
}
