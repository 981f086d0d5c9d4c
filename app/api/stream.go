package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"

	"tienda/app/chat"
	"tienda/app/web"
)

// SSEPingInterval is how often an idle stream gets a comment line (Heroku
// closes connections idle for 55 s).
const SSEPingInterval = 15 * time.Second

// Why a chat ended early: the causes its context is cancelled with.
var (
	errClientGone   = errors.New("the client closed its connection")
	errShuttingDown = errors.New("the server is shutting down")
)

// StatusClientClosedRequest is logged for a request whose client went
// away before its answer (nginx's 499); nobody receives it.
const StatusClientClosedRequest = 499

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
	pctx, _, stopWatch := watchRequest(c)
	prepared, res, err := h.Service.Prepare(pctx, req)
	stopWatch()
	if err != nil {
		outcome := outcomeOf(pctx, err)
		if !refused(err) {
			h.recordUsage(userID, res, outcome, claim)
		}
		if errors.Is(context.Cause(pctx), errClientGone) {
			return clientGone(c)
		}
		return ChatError(err)
	}
	// The stream outlives the request and its deadline; it has its own.
	// Fiber never cancels a request's context when the client leaves: the
	// stream cancels this one when it sees the connection close.
	base := context.WithoutCancel(c.UserContext())
	bounded, stopTimeout := base, context.CancelFunc(func() {})
	if h.StreamTimeout > 0 {
		bounded, stopTimeout = context.WithTimeout(base, h.StreamTimeout)
	}
	ctx, cancel := context.WithCancelCause(bounded)
	conn := c.Context().Conn()
	c.Set(fiber.HeaderContentType, "text/event-stream; charset=utf-8")
	c.Set(fiber.HeaderCacheControl, "no-cache, no-store")
	c.Set(fiber.HeaderConnection, "keep-alive")
	c.Set("X-Accel-Buffering", "no")
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer stopTimeout()
		defer cancel(nil)
		stopWatch := watchClient(conn, func() { cancel(errClientGone) })
		defer stopWatch()
		h.runStream(ctx, cancel, w, prepared, userID, claim, log)
	})
	return nil
}

// runStream runs the answer in a goroutine and writes its events; it
// never touches the fiber.Ctx (the handler has returned).
func (h *Chat) runStream(ctx context.Context, cancel context.CancelCauseFunc, w *bufio.Writer, prepared *chat.Prepared, userID int64,
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
		outcome := outcomeOf(ctx, err)
		h.recordUsage(userID, res, outcome, claim)
		attrs := []any{"user_id", userID, "model", res.Model, "tokens", res.Usage.Total(), "latency_ms", res.LatencyMS,
			"first_token_ms", res.FirstTokenMS, "sources", len(res.Sources), "retrieval", res.Retrieval, "outcome", outcome}
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
	ended := false // a done or error event was written
	for alive {
		select {
		case ev, ok := <-events:
			if !ok {
				<-finished
				if !ended && errors.Is(ctx.Err(), context.DeadlineExceeded) {
					// The stream's own time is up: say so, so that the
					// client does not reconnect and ask again.
					writeSSE(w, formatEvent(chat.Event{Type: chat.EventError, Err: chat.ErrTimeout}))
				}
				return
			}
			ended = ended || ev.Type == chat.EventDone || ev.Type == chat.EventError
			alive = writeSSE(w, formatEvent(ev))
		case <-ping.C:
			alive = writeSSE(w, ": ping\n\n")
		case <-drain:
			// Shutdown began: the answer may still finish, but not past
			// the platform's grace period.
			drain, deadline = nil, time.After(drainTime(h.ShutdownTimeout))
		case <-deadline:
			cancel(errShuttingDown)
			writeSSE(w, "event: "+chat.EventError+"\ndata: "+
				`{"code":"`+web.CodeUnavailable+`","error":"The server is restarting; ask again in a moment."}`+"\n\n")
			for range events {
			}
			<-finished
			return
		}
	}
	// The client is gone: stop the generation upstream, let the chat end.
	cancel(errClientGone)
	for range events {
	}
	<-finished
}

// drainTime is how long an open stream, or a chat still waiting for its
// answer, may run on once shutdown begins: most of the shutdown timeout,
// leaving time to end it cleanly.
func drainTime(shutdown time.Duration) time.Duration {
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
		ae := ChatError(ev.Err)
		data = fiber.Map{"code": ae.Code, "error": ae.Message}
	}
	b, _ := json.Marshal(data)
	return "event: " + ev.Type + "\ndata: " + string(b) + "\n\n"
}

// watchClient calls gone, from a goroutine of its own, as soon as the
// client at the other end of conn closes or resets its connection. It
// never reads from the connection: it peeks at the socket (MSG_PEEK), so a
// byte that arrives stays for fasthttp, and waits on the runtime's poller,
// so the watch costs nothing while the client stays. fasthttp itself gives
// no sign of a client that left until a write fails, and a handler
// waiting for the model (or a stream between tokens) may not write for a
// long time. Only TCP and Unix sockets are watched (in tests, app.Test's
// in-memory connections are not).
//
// The returned stop ends the watch and must be called before the
// connection is used again (before the handler, or the stream writer,
// returns); it clears the read deadline it used to wake the watch, which
// fasthttp sets again before it reads the next request.
func watchClient(conn net.Conn, gone func()) (stop func()) {
	sc, ok := conn.(syscall.Conn)
	if !ok || !canPeek {
		return func() {}
	}
	switch conn.(type) {
	case *net.TCPConn, *net.UnixConn:
	default:
		return func() {}
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return func() {}
	}
	var mu sync.Mutex
	stopped := false
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			closed := false
			err := rc.Read(func(fd uintptr) bool {
				var ready bool
				ready, closed = peekConn(fd)
				return ready
			})
			if err == nil {
				if closed {
					gone()
				}
				return // gone, or bytes are waiting: the client is there
			}
			// fasthttp's read timeout of the request, or our stop.
			mu.Lock()
			again := !stopped && errors.Is(err, os.ErrDeadlineExceeded)
			if again {
				_ = conn.SetReadDeadline(time.Time{})
			}
			mu.Unlock()
			if !again {
				return
			}
		}
	}()
	return func() {
		mu.Lock()
		stopped = true
		_ = conn.SetReadDeadline(time.Now()) // wakes the watch
		mu.Unlock()
		<-done
		_ = conn.SetReadDeadline(time.Time{})
	}
}
