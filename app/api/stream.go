package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"

	"tienda/app/chat"
	"tienda/app/web"
)

// SSEPingInterval is how often an idle stream gets a comment line (Heroku
// closes connections idle for 55 s).
const SSEPingInterval = 15 * time.Second

// Stream answers over Server-Sent Events: sources, token..., then done or
// error. Bad input, missing auth and the budget are answered as JSON
// errors before the stream starts: the passages are retrieved and the
// prompt's tokens reserved first (a query embedding that fails or is too
// slow falls back to keywords, so this part is short). The admin
// playground uses it too, behind the admin session and CSRF check, which
// set the principal as the API's authentication does.
func (h *Chat) Stream(c *fiber.Ctx) error {
	if err := web.Require(c, "view", "chat"); err != nil {
		return err
	}
	req, err := h.parseChatRequest(c)
	if err != nil {
		return err
	}
	userID := web.PrincipalOf(c).UserID
	if err := h.checkBudget(c.UserContext(), userID); err != nil {
		return err
	}
	log := web.Log(c, h.Log)
	var claim budgetClaim
	req.Admit = h.admit(userID, &claim)
	prepared, res, err := h.Service.Prepare(c.UserContext(), req)
	if err != nil {
		if !refused(err) {
			h.recordUsage(userID, res, outcomeOf(err), claim)
		}
		return chatError(err)
	}
	// Fiber never cancels a request's context when the client leaves: the
	// stream writer cancels this one when a write or flush fails.
	// The stream outlives the request and its deadline; it has its own.
	base := context.WithoutCancel(c.UserContext())
	ctx, cancel := context.WithCancel(base)
	if h.StreamTimeout > 0 {
		cancel()
		ctx, cancel = context.WithTimeout(base, h.StreamTimeout)
	}
	c.Set(fiber.HeaderContentType, "text/event-stream; charset=utf-8")
	c.Set(fiber.HeaderCacheControl, "no-cache, no-store")
	c.Set(fiber.HeaderConnection, "keep-alive")
	c.Set("X-Accel-Buffering", "no")
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer cancel()
		h.runStream(ctx, cancel, w, prepared, userID, claim, log)
	})
	return nil
}

// runStream runs the answer in a goroutine and writes its events; it
// never touches the fiber.Ctx (the handler has returned).
func (h *Chat) runStream(ctx context.Context, cancel context.CancelFunc, w *bufio.Writer, prepared *chat.Prepared, userID int64,
	claim budgetClaim, log *slog.Logger,
) {
	events := make(chan chat.Event, 64)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		defer close(events)
		res, err := h.Service.Answer(ctx, prepared, func(ev chat.Event) error {
			select {
			case events <- ev:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		h.recordUsage(userID, res, outcomeOf(err), claim)
		attrs := []any{"user_id", userID, "model", res.Model, "tokens", res.Usage.Total(), "latency_ms", res.LatencyMS,
			"first_token_ms", res.FirstTokenMS, "sources", len(res.Sources), "retrieval", res.Retrieval, "outcome", outcomeOf(err)}
		if err != nil && !errors.Is(err, context.Canceled) {
			log.Warn("chat stream failed", append(attrs, "err", err)...)
		} else {
			log.Info("chat streamed", attrs...)
		}
	}()
	// First byte at once: proxies and clients see the stream is alive.
	alive := writeSSE(w, ": stream open\n\n")
	ping := time.NewTicker(h.Ping)
	defer ping.Stop()
	drain := h.Draining
	var deadline <-chan time.Time
	for alive {
		select {
		case ev, ok := <-events:
			if !ok {
				<-finished
				return
			}
			alive = writeSSE(w, formatEvent(ev))
		case <-ping.C:
			alive = writeSSE(w, ": ping\n\n")
		case <-drain:
			// Shutdown began: the answer may still finish, but not past
			// the platform's grace period.
			drain, deadline = nil, time.After(streamDrainTime(h.ShutdownTimeout))
		case <-deadline:
			cancel()
			writeSSE(w, "event: "+chat.EventError+"\ndata: "+
				`{"code":"`+web.CodeUnavailable+`","error":"The server is restarting; ask again in a moment."}`+"\n\n")
			for range events {
			}
			<-finished
			return
		}
	}
	// The client is gone: stop the generation upstream, let the chat end.
	cancel()
	for range events {
	}
	<-finished
}

// streamDrainTime is how long an open stream may run on once shutdown
// begins: most of the shutdown timeout, leaving time to end it cleanly.
func streamDrainTime(shutdown time.Duration) time.Duration {
	return max(shutdown-3*time.Second, shutdown/2)
}

func writeSSE(w *bufio.Writer, s string) bool {
	if _, err := w.WriteString(s); err != nil {
		return false
	}
	return w.Flush() == nil
}

// formatEvent renders one event as an SSE frame.
func formatEvent(ev chat.Event) string {
	var data any
	switch ev.Type {
	case chat.EventSources:
		data = fiber.Map{"sources": chatSources(ev.Sources), "retrieval": ev.Retrieval}
	case chat.EventToken:
		data = fiber.Map{"delta": ev.Delta}
	case chat.EventDone:
		data = fiber.Map{"tokens_used": ev.TokensUsed, "latency_ms": ev.LatencyMS, "model": ev.Model, "retrieval": ev.Retrieval}
	case chat.EventError:
		ae := chatError(ev.Err)
		data = fiber.Map{"code": ae.Code, "error": ae.Message}
	}
	b, _ := json.Marshal(data)
	return "event: " + ev.Type + "\ndata: " + string(b) + "\n\n"
}
