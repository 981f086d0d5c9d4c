package stack

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Deadline gives every request a deadline: def (REQUEST_TIMEOUT), or the
// longer one longer names for its path (chat, search and embeddings wait
// for the language model). The deadline reaches every database, Redis and
// LLM call through c.UserContext(), so a hung dependency cancels the call
// and the request answers 503 SERVICE_UNAVAILABLE (web.AsError maps
// context.DeadlineExceeded) instead of hanging. Event streams and exports
// outlive their handler and set deadlines of their own.
func Deadline(def time.Duration, longer map[string]time.Duration) fiber.Handler {
	return func(c *fiber.Ctx) error {
		d := def
		if l, ok := longer[c.Path()]; ok {
			d = l
		}
		ctx, cancel := context.WithTimeout(c.UserContext(), d)
		defer cancel()
		c.SetUserContext(ctx)
		err := c.Next()
		// The error handler and the access log run after this layer: they
		// keep the context's values (logger, CSP nonce) but not its end.
		c.SetUserContext(context.WithoutCancel(c.UserContext()))
		return err
	}
}
