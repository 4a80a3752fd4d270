package api

import (
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"

	"github.com/labstack/echo/v4"

	"fundigo/pkg/config"
)

// sourceFilter is the webhook source allowlist (FUNDIGO_MPESA_ALLOWED_CIDRS).
// The source address is c.RealIP(): the server's one trusted-proxy rule
// (FUNDIGO_TRUSTED_PROXIES), the same the throttles use.
type sourceFilter struct {
	allow []*net.IPNet // empty = allow all
}

func newSourceFilter(allowed []string) (sourceFilter, error) {
	var f sourceFilter
	for _, s := range allowed {
		n, err := config.ParseCIDROrIP(s)
		if err != nil {
			return f, err
		}
		f.allow = append(f.allow, n)
	}
	return f, nil
}

// listed reports whether src is inside a configured allowlist (false when
// there is none).
func (f sourceFilter) listed(src string) bool {
	ip := net.ParseIP(src)
	return ip != nil && contains(f.allow, ip)
}

// allowed reports whether src may call: anyone without an allowlist.
func (f sourceFilter) allowed(src string) bool {
	return len(f.allow) == 0 || f.listed(src)
}

func contains(nets []*net.IPNet, ip net.IP) bool {
	for _, n := range nets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// webhookGuard fronts the Daraja webhooks. They are not anonymous API
// traffic: Safaricom delivers a whole country's callbacks from a handful of
// addresses and never retries a refused one. So:
//   - allowlisted sources are never throttled;
//   - any other source has its own per-IP budget (FUNDIGO_THROTTLE_WEBHOOK,
//     high by default), never the anonymous one;
//   - a wrong token is a failed authentication: charged to the source's
//     anonymous budget (404, then 429 once spent);
//   - a source outside the allowlist gets 403.
func webhookGuard(pc config.Payments, th *throttler) (echo.MiddlewareFunc, error) {
	sources, err := newSourceFilter(pc.AllowedCIDRs)
	if err != nil {
		return nil, fmt.Errorf("api: FUNDIGO_MPESA_ALLOWED_CIDRS: %w", err) // config.Load refuses it first
	}
	token := []byte(pc.CallbackToken.Reveal())
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			src := c.RealIP()
			listed := sources.listed(src)
			if !listed {
				if err := th.allow(c, scopeWebhook, ipKey(src)); err != nil {
					return err
				}
			}
			if len(token) == 0 || subtle.ConstantTimeCompare([]byte(c.Param("token")), token) != 1 {
				if !listed {
					if err := th.anon(c); err != nil {
						return err
					}
				}
				return NewProblem(http.StatusNotFound, "no such route")
			}
			if !sources.allowed(src) {
				zerologCtx(c).Warn().Str("source_ip", src).Msg("webhook from refused source")
				return NewProblem(http.StatusForbidden, "source address not allowed")
			}
			return next(c)
		}
	}, nil
}

// ipKey names a client address in limiter keys: IPv4 as is, IPv6 by its /64
// (one subscriber's prefix, which they can otherwise rotate through).
func ipKey(s string) string {
	ip := net.ParseIP(s)
	if ip == nil {
		return "ip:" + s
	}
	if ip4 := ip.To4(); ip4 != nil {
		return "ip:" + ip4.String()
	}
	return "ip6:" + ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}
