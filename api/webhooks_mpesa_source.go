package api

import (
	"net"
	"net/http"
	"strings"

	"fundigo/pkg/config"
)

// sourceFilter decides whether a webhook's source address is allowed. The
// source is the TCP peer, unless the peer is a trusted proxy: then
// X-Forwarded-For is walked from the right, skipping trusted proxies, and the
// first untrusted hop is the source. Addresses added by anyone else are
// never believed.
type sourceFilter struct {
	allow   []*net.IPNet // empty = allow all
	proxies []*net.IPNet
}

func newSourceFilter(allowed, proxies []string) (sourceFilter, error) {
	var f sourceFilter
	for _, s := range allowed {
		n, err := config.ParseCIDROrIP(s)
		if err != nil {
			return f, err
		}
		f.allow = append(f.allow, n)
	}
	for _, s := range proxies {
		n, err := config.ParseCIDROrIP(s)
		if err != nil {
			return f, err
		}
		f.proxies = append(f.proxies, n)
	}
	return f, nil
}

// allowed returns the source address and whether it may call.
func (f sourceFilter) allowed(r *http.Request) (string, bool) {
	src := f.source(r)
	if len(f.allow) == 0 {
		return src, true
	}
	ip := net.ParseIP(src)
	return src, ip != nil && contains(f.allow, ip)
}

func (f sourceFilter) source(r *http.Request) string {
	peer, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		peer = r.RemoteAddr
	}
	ip := net.ParseIP(peer)
	if ip == nil || !contains(f.proxies, ip) {
		return peer
	}
	var hops []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		for _, part := range strings.Split(h, ",") {
			if p := strings.TrimSpace(part); p != "" {
				hops = append(hops, p)
			}
		}
	}
	for i := len(hops) - 1; i >= 0; i-- {
		hip := net.ParseIP(hops[i])
		if hip == nil {
			return hops[i] // garbage from an untrusted hop: refused by the allowlist
		}
		if !contains(f.proxies, hip) {
			return hops[i]
		}
	}
	if len(hops) > 0 {
		return hops[0]
	}
	return peer
}

func contains(nets []*net.IPNet, ip net.IP) bool {
	for _, n := range nets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}
