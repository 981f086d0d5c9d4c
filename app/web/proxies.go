package web

import (
	"net/netip"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// Proxies are the TRUSTED_PROXIES: only their X-Forwarded-For and
// X-Forwarded-Proto headers are believed.
type Proxies []netip.Prefix

// NewProxies parses addresses and CIDR ranges (config has validated them).
func NewProxies(list []string) Proxies {
	var out Proxies
	for _, p := range list {
		if pf, err := netip.ParsePrefix(p); err == nil {
			out = append(out, pf.Masked())
			continue
		}
		if a, err := netip.ParseAddr(p); err == nil {
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
		}
	}
	return out
}

// Trusted reports whether addr is one of the proxies.
func (ps Proxies) Trusted(addr netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(addr.Unmap()) {
			return true
		}
	}
	return false
}

// ClientIP is the address of the client: the peer's address, unless the
// peer is a trusted proxy, in which case the right-most X-Forwarded-For
// entry that is not itself a trusted proxy (entries further left can be forged).
func (ps Proxies) ClientIP(c *fiber.Ctx) string {
	peer, err := netip.ParseAddr(c.Context().RemoteIP().String())
	if err != nil {
		return c.Context().RemoteIP().String()
	}
	if len(ps) == 0 || !ps.Trusted(peer) {
		return peer.Unmap().String()
	}
	xff := string(c.Request().Header.Peek(fiber.HeaderXForwardedFor))
	parts := strings.Split(xff, ",")
	for i := len(parts) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(parts[i]))
		if err != nil {
			break
		}
		if !ps.Trusted(a) {
			return a.Unmap().String()
		}
	}
	return peer.Unmap().String()
}

// IsHTTPS honours X-Forwarded-Proto only from a trusted proxy.
func (ps Proxies) IsHTTPS(c *fiber.Ctx) bool {
	if c.Context().IsTLS() {
		return true
	}
	peer, err := netip.ParseAddr(c.Context().RemoteIP().String())
	if err != nil || !ps.Trusted(peer) {
		return false
	}
	return strings.EqualFold(string(c.Request().Header.Peek(fiber.HeaderXForwardedProto)), "https")
}
