package app

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"
)

// Locals keys.
const (
	localCID    = "cid"
	localLogger = "logger"
	localUser   = "user"      // *jwt.Token set by contrib/jwt
	localAuth   = "principal" // *Principal, whoever authenticated
)

// HeaderCorrelationID carries the request's correlation id both ways.
const HeaderCorrelationID = "X-Correlation-ID"

type loggerKey struct{}

// LoggerFrom returns the request-scoped logger stored in ctx.
func LoggerFrom(ctx context.Context, fallback *slog.Logger) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return fallback
}

// saneCorrelationID accepts what a proxy or client sent only when it is
// short and made of safe characters; anything else is replaced.
func saneCorrelationID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

func newID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func correlationID(c *fiber.Ctx) string {
	if id, ok := c.Locals(localCID).(string); ok {
		return id
	}
	id := string(c.Request().Header.Peek(HeaderCorrelationID))
	if !saneCorrelationID(id) {
		id = newID()
	} else {
		id = strings.Clone(id) // fasthttp reuses the header buffer
	}
	c.Locals(localCID, id)
	c.Set(HeaderCorrelationID, id)
	return id
}

// requestLogger is the first layer: correlation id, a logger carrying it
// for everything the request does, errors resolved to a status, and one
// access line per request. It never logs bodies, tokens or query values.
func (s *Server) requestLogger(c *fiber.Ctx) error {
	start := time.Now()
	cid := correlationID(c)
	log := s.log.With("correlation_id", cid)
	c.Locals(localLogger, log)
	c.SetUserContext(context.WithValue(c.UserContext(), loggerKey{}, log))
	err := c.Next()
	if err != nil {
		if herr := s.errorHandler(c, err); herr != nil {
			log.Error("error handler failed", "err", herr)
			c.Status(500)
		}
	}
	status := c.Response().StatusCode()
	route := c.Route().Path
	if route == "/" && c.Path() != "/" {
		route = "unmatched"
	}
	// Body() would drain a streamed body (CSV export, SSE) into memory
	// before it reaches the client; streams are logged with bytes -1.
	size := -1
	if !c.Response().IsBodyStream() {
		size = len(c.Response().Body())
	}
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	if !log.Enabled(c.UserContext(), level) {
		return nil
	}
	// Typed attributes: this line is written for every request.
	attrs := make([]slog.Attr, 0, 8)
	attrs = append(attrs,
		slog.String("method", c.Method()), slog.String("route", route), slog.Int("status", status),
		slog.Int("bytes", size), slog.Float64("latency_ms", float64(time.Since(start).Microseconds())/1000),
		slog.String("ip", s.clientIP(c)),
	)
	if p := principal(c); p != nil {
		attrs = append(attrs, slog.Int64("user_id", p.UserID))
	}
	log.LogAttrs(c.UserContext(), level, "request", attrs...)
	return nil
}

// Content-Security-Policy: pages (the admin, the API docs) may load only
// their own files and scripts or styles carrying the request's nonce (no
// 'unsafe-inline'); everything else (JSON) may load nothing at all.
const (
	cspPage = "default-src 'self'; script-src 'self' 'nonce-%[1]s'; style-src 'self' 'nonce-%[1]s'; " +
		"img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; " +
		"form-action 'self'; frame-ancestors 'none'"
	cspAPI = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
)

// localNonce holds the request's CSP nonce (also in the UserContext for templ).
const localNonce = "csp_nonce"

// isPage is true for the paths that serve HTML to browsers.
func isPage(p string) bool {
	return p == "/admin" || strings.HasPrefix(p, "/admin/") || p == "/api/docs" || strings.HasPrefix(p, "/api/docs/")
}

// securityHeaders sets the headers every response carries.
func (s *Server) securityHeaders(c *fiber.Ctx) error {
	h := &c.Response().Header
	if isPage(c.Path()) {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		nonce := base64.StdEncoding.EncodeToString(b)
		c.Locals(localNonce, nonce)
		c.SetUserContext(templ.WithNonce(c.UserContext(), nonce))
		h.Set("Content-Security-Policy", fmt.Sprintf(cspPage, nonce))
	} else {
		h.Set("Content-Security-Policy", cspAPI)
	}
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	if s.isHTTPS(c) {
		h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
	}
	return c.Next()
}

// trusted reports whether addr is one of TRUSTED_PROXIES.
func (s *Server) trusted(addr netip.Addr) bool {
	for _, p := range s.proxies {
		if p.Contains(addr.Unmap()) {
			return true
		}
	}
	return false
}

// clientIP is the address of the client: the peer's address, unless the
// peer is a trusted proxy, in which case the right-most X-Forwarded-For
// entry that is not itself a trusted proxy (entries further left can be forged).
func (s *Server) clientIP(c *fiber.Ctx) string {
	peer, err := netip.ParseAddr(c.Context().RemoteIP().String())
	if err != nil {
		return c.Context().RemoteIP().String()
	}
	if len(s.proxies) == 0 || !s.trusted(peer) {
		return peer.Unmap().String()
	}
	xff := string(c.Request().Header.Peek(fiber.HeaderXForwardedFor))
	parts := strings.Split(xff, ",")
	for i := len(parts) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(parts[i]))
		if err != nil {
			break
		}
		if !s.trusted(a) {
			return a.Unmap().String()
		}
	}
	return peer.Unmap().String()
}

// isHTTPS honours X-Forwarded-Proto only from a trusted proxy.
func (s *Server) isHTTPS(c *fiber.Ctx) bool {
	if c.Context().IsTLS() {
		return true
	}
	peer, err := netip.ParseAddr(c.Context().RemoteIP().String())
	if err != nil || !s.trusted(peer) {
		return false
	}
	return strings.EqualFold(string(c.Request().Header.Peek(fiber.HeaderXForwardedProto)), "https")
}

func parseProxies(list []string) []netip.Prefix {
	var out []netip.Prefix
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
