package web

import (
	"bufio"
	"encoding/json"

	"github.com/gofiber/fiber/v2"
)

// StartSSE sets the headers of an event stream. The body is written by a
// stream writer (c.Context().SetBodyStreamWriter), which runs after the
// handler returned and so must never touch c.
func StartSSE(c *fiber.Ctx) {
	c.Set(fiber.HeaderContentType, "text/event-stream; charset=utf-8")
	c.Set(fiber.HeaderCacheControl, "no-cache, no-store")
	c.Set(fiber.HeaderConnection, "keep-alive")
	c.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
}

// SSE writes Server-Sent Events frames and flushes each one, reporting
// whether the client still takes them.
type SSE struct{ W *bufio.Writer }

// Comment writes a comment line (a keep-alive ping).
func (s SSE) Comment(text string) bool { return s.raw(": " + text + "\n\n") }

// Event writes one event whose data is v as JSON.
func (s SSE) Event(name string, v any) bool {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{}`)
	}
	return s.raw("event: " + name + "\ndata: " + string(b) + "\n\n")
}

func (s SSE) raw(frame string) bool {
	if _, err := s.W.WriteString(frame); err != nil {
		return false
	}
	return s.W.Flush() == nil
}
