package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// ErrNotLoopback is returned for a target outside the loopback range.
var ErrNotLoopback = errors.New("refusing a target outside the loopback range")

// LookupFunc resolves a host name to its addresses (net.Resolver.LookupNetIP).
type LookupFunc func(ctx context.Context, network, host string) ([]netip.Addr, error)

// CheckLoopback returns nil only when every host rawURL names is on the
// loopback range (127.0.0.0/8 or ::1): an IP literal, or a name whose every
// address is loopback. A PostgreSQL URL without a host (a Unix socket) is
// local and allowed. Errors name the host, never the whole URL (it may carry
// a password).
func CheckLoopback(ctx context.Context, rawURL string) error {
	return checkLoopback(ctx, rawURL, net.DefaultResolver.LookupNetIP)
}

func checkLoopback(ctx context.Context, rawURL string, lookup LookupFunc) error {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" {
		return fmt.Errorf("%w: not an absolute URL", ErrNotLoopback)
	}
	hosts := []string{u.Hostname()}
	if u.Scheme == "postgres" || u.Scheme == "postgresql" {
		// libpq also takes hosts (comma-separated) from the query string.
		for _, h := range strings.Split(u.Query().Get("host"), ",") {
			if h != "" {
				hosts = append(hosts, h)
			}
		}
		if u.Hostname() == "" {
			hosts = hosts[1:]
		}
	} else if u.Hostname() == "" {
		return fmt.Errorf("%w: %s URL without a host", ErrNotLoopback, u.Scheme)
	}
	for _, h := range hosts {
		if strings.HasPrefix(h, "/") {
			continue // Unix socket directory
		}
		if err := hostIsLoopback(ctx, h, lookup); err != nil {
			return err
		}
	}
	return nil
}

func hostIsLoopback(ctx context.Context, host string, lookup LookupFunc) error {
	if ip, err := netip.ParseAddr(host); err == nil {
		if !ip.Unmap().IsLoopback() {
			return fmt.Errorf("%w: %s", ErrNotLoopback, host)
		}
		return nil
	}
	addrs, err := lookup(ctx, "ip", host)
	if err != nil {
		return fmt.Errorf("%w: cannot resolve %s: %w", ErrNotLoopback, host, err)
	}
	if len(addrs) == 0 {
		return fmt.Errorf("%w: %s has no address", ErrNotLoopback, host)
	}
	for _, a := range addrs {
		if !a.Unmap().IsLoopback() {
			return fmt.Errorf("%w: %s resolves to %s", ErrNotLoopback, host, a)
		}
	}
	return nil
}
