package stack

import (
	"errors"
	"io"
	"strings"
	"tienda/app/web"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/compress"
	"github.com/gofiber/fiber/v2/middleware/cors"
	"github.com/valyala/bytebufferpool"
)

// LimitBody is the request size layer. The server streams request bodies
// (Fiber's StreamRequestBody), so nothing beyond the first few KB has been
// read when this runs: a declared Content-Length over MAX_REQUEST_SIZE is
// refused at once, and a chunked body is read through a limit and refused
// as soon as it passes MAX_REQUEST_SIZE. Either way the connection is
// closed so that the rest of the body is never read. Compressed request
// bodies are refused, so that no decompression bomb gets past the limit.
func (s *Stack) LimitBody(c *fiber.Ctx) error {
	req := c.Request()
	limit := s.MaxBody
	if enc := strings.TrimSpace(string(req.Header.Peek(fiber.HeaderContentEncoding))); enc != "" && !strings.EqualFold(enc, "identity") {
		s.Metrics.Refused("content_encoding")
		return &web.Error{Status: 415, Code: web.CodeUnsupportedMedia, Message: "Compressed request bodies are not accepted.",
			Detail: "Send the body without Content-Encoding."}
	}
	if req.Header.ContentLength() > limit {
		return s.refuseTooLarge(c, limit)
	}
	if !req.IsBodyStream() {
		return c.Next()
	}
	buf := bytebufferpool.Get()
	defer bytebufferpool.Put(buf)
	n, err := io.Copy(buf, io.LimitReader(req.BodyStream(), int64(limit)+1))
	if n > int64(limit) {
		return s.refuseTooLarge(c, limit)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		c.Context().SetConnectionClose()
		return web.BadRequest("The request body could not be read.", "The body ended early or was sent too slowly.")
	}
	req.SetBody(buf.B) // copies, and closes the stream
	return c.Next()
}

func (s *Stack) refuseTooLarge(c *fiber.Ctx, limit int) error {
	s.Metrics.Refused("payload_too_large")
	c.Context().SetConnectionClose()
	return web.TooLarge(limit)
}

// corsHeaders lists what browsers may send and read cross-origin.
const (
	corsAllowHeaders  = "Authorization, Content-Type, If-Match, If-None-Match, X-API-Key, X-Correlation-ID"
	corsExposeHeaders = "ETag, Location, Retry-After, X-Correlation-ID, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, RateLimit-Policy"
)

// CORS answers CORS for the origins in CORS_ORIGINS with Fiber's cors
// middleware. A preflight from any other origin is refused with a 403
// envelope (Fiber alone would answer 204 without the allow headers).
func (s *Stack) CORS() fiber.Handler {
	allowed := map[string]bool{}
	for _, o := range s.CORSOrigins {
		allowed[strings.ToLower(strings.TrimSuffix(o, "/"))] = true
	}
	var inner fiber.Handler
	if len(allowed) > 0 {
		inner = cors.New(cors.Config{
			AllowOrigins:  strings.Join(s.CORSOrigins, ","),
			AllowMethods:  "GET,POST,PUT,PATCH,DELETE,HEAD,OPTIONS",
			AllowHeaders:  corsAllowHeaders,
			ExposeHeaders: corsExposeHeaders,
			MaxAge:        600,
		})
	}
	return func(c *fiber.Ctx) error {
		origin := strings.ToLower(c.Get(fiber.HeaderOrigin))
		preflight := c.Method() == fiber.MethodOptions && c.Get(fiber.HeaderAccessControlRequestMethod) != ""
		if preflight && origin != "" && !allowed["*"] && !allowed[origin] {
			s.Metrics.Refused("cors_origin")
			c.Vary(fiber.HeaderOrigin)
			return &web.Error{Status: 403, Code: web.CodeForbidden, Message: "This origin may not call the API.",
				Detail: "Add it to CORS_ORIGINS."}
		}
		if inner == nil {
			return c.Next()
		}
		return inner(c)
	}
}

// CompressLayer compresses responses (brotli or gzip, as the client
// accepts) except event streams, which must flush event by event.
func (s *Stack) CompressLayer() fiber.Handler {
	if !s.Compress {
		return func(c *fiber.Ctx) error { return c.Next() }
	}
	return compress.New(compress.Config{
		Level: compress.LevelBestSpeed,
		Next: func(c *fiber.Ctx) bool {
			return strings.Contains(c.Get(fiber.HeaderAccept), "text/event-stream") || strings.HasSuffix(c.Path(), "/stream")
		},
	})
}
