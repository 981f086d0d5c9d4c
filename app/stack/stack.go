// Package stack holds the server's middleware stack, outermost first:
// the access logger (correlation id), security headers, compression, the
// request size limit, CORS, the request deadline and the rate limiters.
// Authentication (layers 6 and 7) lives in app/auth; the order is set in
// app/routes.go.
package stack

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"tienda/app/obs"
	"tienda/app/web"
	"time"

	fiberrecover "github.com/gofiber/fiber/v2/middleware/recover"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"
)

// Stack is the middleware's dependencies.
type Stack struct {
	Log     *slog.Logger
	Metrics *obs.Metrics
	Proxies web.Proxies
	Errors  *web.ErrorHandler
	// MaxBody is MAX_REQUEST_SIZE.
	MaxBody     int
	CORSOrigins []string
	// Compress turns gzip/brotli response compression on.
	Compress bool
}

// Logger is the first layer: correlation id, a logger carrying it
// for everything the request does, errors resolved to a status, and one
// access line per request. It never logs bodies, tokens or query values.
func (s *Stack) Logger(c *fiber.Ctx) error {
	start := time.Now()
	cid := web.CorrelationID(c)
	log := s.Log.With("correlation_id", cid)
	web.SetLogger(c, log)
	err := c.Next()
	if err != nil {
		if herr := s.Errors.Handle(c, err); herr != nil {
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
		slog.String("ip", s.Proxies.ClientIP(c)),
	)
	if p := web.PrincipalOf(c); p != nil {
		attrs = append(attrs, slog.Int64("user_id", p.UserID))
	}
	log.LogAttrs(c.UserContext(), level, "request", attrs...)
	return nil
}

// Content-Security-Policy: pages (the admin, the API docs, GraphiQL) may
// load only their own files and scripts or styles carrying the request's
// nonce (no 'unsafe-inline'), and images and fonts inlined as data: URLs
// (GraphiQL's stylesheet embeds its fonts); everything else (JSON) may load
// nothing at all.
const (
	cspPage = "default-src 'self'; script-src 'self' 'nonce-%[1]s'; style-src 'self' 'nonce-%[1]s'; " +
		"img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; " +
		"form-action 'self'; frame-ancestors 'none'"
	cspAPI = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
)

// SecurityHeaders sets the headers every response carries.
func (s *Stack) SecurityHeaders(c *fiber.Ctx) error {
	s.SetSecurityHeaders(c)
	return c.Next()
}

// SetSecurityHeaders sets them on c; the error handler calls it too, for
// errors that fasthttp raises before any middleware ran (a 431 for
// oversized headers).
func (s *Stack) SetSecurityHeaders(c *fiber.Ctx) {
	h := &c.Response().Header
	if web.IsPage(c.Path()) {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		nonce := base64.RawURLEncoding.EncodeToString(b) // CSP allows - and _; no + to escape in HTML
		c.Locals(web.LocalNonce, nonce)
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
	if s.Proxies.IsHTTPS(c) {
		h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
	}
}

// Recover turns a panic into a 500 (through the error handler) and logs it
// with the request's correlation id.
func (s *Stack) Recover() fiber.Handler {
	return fiberrecover.New(fiberrecover.Config{EnableStackTrace: true, StackTraceHandler: func(c *fiber.Ctx, e any) {
		web.Log(c, s.Log).Error("panic", "panic", e)
	}})
}
