package rating

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// blackhole is a TCP proxy in front of a real service that can stop
// forwarding without closing anything: connections stay open, bytes are
// read and dropped, new connections are accepted and held. That is what a
// partitioned or hung Redis looks like to a client (no RST, no answer), as
// opposed to a refused connection, which fails fast on its own.
type blackhole struct {
	ln      net.Listener
	target  string
	dropped atomic.Bool

	mu    sync.Mutex
	conns []net.Conn
}

func newBlackhole(t testing.TB, target string) *blackhole {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &blackhole{ln: ln, target: target}
	go p.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.conns {
			_ = c.Close()
		}
	})
	return p
}

func (p *blackhole) addr() string { return p.ln.Addr().String() }

// drop stops (true) or resumes (false) forwarding.
func (p *blackhole) drop(v bool) { p.dropped.Store(v) }

func (p *blackhole) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go p.pipe(up, c)
		go p.pipe(c, up)
	}
}

// pipe copies src to dst, dropping whatever arrives while black-holed.
func (p *blackhole) pipe(dst io.Writer, src io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			return
		}
		if p.dropped.Load() {
			continue
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			return
		}
	}
}
