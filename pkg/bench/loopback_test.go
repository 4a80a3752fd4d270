package bench

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCheckLoopback(t *testing.T) {
	t.Parallel()
	lookup := func(_ context.Context, _, host string) ([]netip.Addr, error) {
		switch host {
		case "localhost":
			return []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")}, nil
		case "sneaky.test":
			return []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("10.0.0.7")}, nil
		case "empty.test":
			return nil, nil
		}
		return nil, errors.New("no such host")
	}
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:8080", true},
		{"http://127.9.9.9:8080/v1", true},
		{"http://[::1]:8080", true},
		{"http://localhost:8080", true},
		{"postgres://postgres@127.0.0.1:5432/test?sslmode=disable", true},
		{"postgres:///test?host=/var/run/postgresql", true},
		{"redis://127.0.0.1:6379/0", true},
		{"amqp://guest:guest@localhost:5672/", true},
		{"http://[::ffff:127.0.0.1]:80", true},

		{"http://10.0.0.1:8080", false},
		{"http://192.168.1.5", false},
		{"http://[2001:db8::1]:8080", false},
		{"http://0.0.0.0:8080", false},
		{"http://example.com", false},
		{"http://sneaky.test", false},
		{"http://empty.test", false},
		{"postgres://postgres@127.0.0.1/test?host=db.internal", false},
		{"postgres://postgres@db.internal/test", false},
		{"amqp://guest:secret@203.0.113.9:5672/", false},
		{"127.0.0.1:8080", false},
		{"http:///nohost", false},
	} {
		err := checkLoopback(context.Background(), tc.url, lookup)
		if tc.ok {
			require.NoError(t, err, tc.url)
			continue
		}
		require.ErrorIs(t, err, ErrNotLoopback, tc.url)
		require.NotContains(t, err.Error(), "secret", "errors never echo credentials")
	}
}

func TestCheckLoopbackResolvesWithTheSystemResolver(t *testing.T) {
	t.Parallel()
	require.NoError(t, CheckLoopback(context.Background(), "http://127.0.0.1:1"))
	require.ErrorIs(t, CheckLoopback(context.Background(), "http://8.8.8.8"), ErrNotLoopback)
}
