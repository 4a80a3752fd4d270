package nettest_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/nettest"
)

// echoServer answers every line with the same line.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(c, c); _ = c.Close() }()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(c net.Conn, r *bufio.Reader, line string) (string, error) {
	if err := c.SetDeadline(time.Now().Add(300 * time.Millisecond)); err != nil {
		return "", err
	}
	if _, err := c.Write([]byte(line + "\n")); err != nil {
		return "", err
	}
	return r.ReadString('\n')
}

func TestProxyForwardsBlackholesAndCuts(t *testing.T) {
	t.Parallel()
	p := nettest.NewProxy(t, echoServer(t))
	c, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer c.Close()
	r := bufio.NewReader(c)
	got, err := roundTrip(c, r, "one")
	require.NoError(t, err)
	require.Equal(t, "one\n", got)

	// Black-holed: the connection stays open, nothing comes back.
	p.Blackhole(true)
	_, err = roundTrip(c, r, "two")
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	held, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err, "new connections are accepted and held")
	defer held.Close()
	_, err = roundTrip(held, bufio.NewReader(held), "three")
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)

	// Resumed: a new connection is forwarded again.
	p.Blackhole(false)
	c2, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer c2.Close()
	r2 := bufio.NewReader(c2)
	got, err = roundTrip(c2, r2, "four")
	require.NoError(t, err)
	require.Equal(t, "four\n", got)

	// Cut: open connections are closed, new ones too.
	p.Cut(true)
	_, err = roundTrip(c2, r2, "five")
	require.Error(t, err)
	require.False(t, errors.Is(err, os.ErrDeadlineExceeded), "closed, not hung: %v", err)
	c3, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer c3.Close()
	_, err = roundTrip(c3, bufio.NewReader(c3), "six")
	require.Error(t, err)
	require.False(t, errors.Is(err, os.ErrDeadlineExceeded), "refused at once: %v", err)

	p.Cut(false)
	c4, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer c4.Close()
	got, err = roundTrip(c4, bufio.NewReader(c4), "seven")
	require.NoError(t, err)
	require.Equal(t, "seven\n", got)
}
