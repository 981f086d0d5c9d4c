package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"

	"github.com/gofiber/fiber/v2"
)

// Locals keys shared by the packages that set and read them.
const (
	localCID       = "cid"
	localLogger    = "logger"
	localPrincipal = "principal" // *Principal, whoever authenticated
	// LocalNonce holds the request's CSP nonce (also in the UserContext for templ).
	LocalNonce = "csp_nonce"
)

// HeaderCorrelationID carries the request's correlation id both ways.
const HeaderCorrelationID = "X-Correlation-ID"

// HeaderAPIKey carries an API key.
const HeaderAPIKey = "X-API-Key"

type loggerKey struct{}

// LoggerFrom returns the request-scoped logger stored in ctx.
func LoggerFrom(ctx context.Context, fallback *slog.Logger) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return fallback
}

// SetLogger makes log the request's logger, for handlers and for code
// that only sees the context.
func SetLogger(c *fiber.Ctx, log *slog.Logger) {
	c.Locals(localLogger, log)
	c.SetUserContext(context.WithValue(c.UserContext(), loggerKey{}, log))
}

// Log is the request's logger (with its correlation id).
func Log(c *fiber.Ctx, fallback *slog.Logger) *slog.Logger {
	if l, ok := c.Locals(localLogger).(*slog.Logger); ok {
		return l
	}
	return fallback.With("correlation_id", CorrelationID(c))
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

// NewID is a random 24-hex-digit id (correlation ids, token ids).
func NewID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// CorrelationID is the request's correlation id: the client's, when sane,
// else a new one. It is echoed in the response header.
func CorrelationID(c *fiber.Ctx) string {
	if id, ok := c.Locals(localCID).(string); ok {
		return id
	}
	id := string(c.Request().Header.Peek(HeaderCorrelationID)) // string() copies
	if !saneCorrelationID(id) {
		id = NewID()
	}
	c.Locals(localCID, id)
	c.Set(HeaderCorrelationID, id)
	return id
}

// Nonce is the request's CSP nonce ("" outside pages).
func Nonce(c *fiber.Ctx) string {
	n, _ := c.Locals(LocalNonce).(string)
	return n
}
