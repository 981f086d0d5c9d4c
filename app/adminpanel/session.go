package adminpanel

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/csrf"
	"github.com/gofiber/fiber/v2/middleware/session"

	"tienda/app/web"
)

// SessionTouchInterval is how often a session that is only read (page
// views) is written back to slide its idle timeout: at most once a
// minute, so a page view costs no database write.
const SessionTouchInterval = time.Minute

const (
	localSession = "admin_session"
	// sessTouched is when the session was last written (unix seconds).
	sessTouched = "touched"
)

// adminSession is the request's session, read from the storage once
// (Sessions keeps it in Locals) and written once at the end of the
// request, only when something changed or the last write is older than
// SessionTouchInterval.
type adminSession struct {
	s     *session.Session
	dirty bool
	// done: destroyed or saved; the session must not be used again.
	done bool
}

func (as *adminSession) get(key string) any {
	if as.done {
		return nil
	}
	return as.s.Get(key)
}

func (as *adminSession) set(key string, v any) {
	if as.done {
		return
	}
	as.s.Set(key, v)
	as.dirty = true
}

func (as *adminSession) del(key string) {
	if as.done || as.s.Get(key) == nil {
		return
	}
	as.s.Delete(key)
	as.dirty = true
}

// destroy ends the session: its row is deleted and its cookie expired.
func (as *adminSession) destroy() error {
	if as.done {
		return nil
	}
	as.done = true
	return as.s.Destroy()
}

// regenerate gives the session a new id (sign-in, password change),
// deleting the old row; the data is written at the end of the request.
func (as *adminSession) regenerate() error {
	as.dirty = true
	return as.s.Regenerate()
}

// session is the request's session, read once.
func (p *Panel) session(c *fiber.Ctx) (*adminSession, error) {
	if as, ok := c.Locals(localSession).(*adminSession); ok {
		return as, nil
	}
	store := p.sessions(c)
	s, err := store.Get(c)
	if err != nil && strings.Contains(err.Error(), "decode session data") {
		// A row written by an older release that this one cannot decode:
		// start over with a new session (the visitor signs in again).
		c.Request().Header.DelCookie(SessionCookie)
		s, err = store.Get(c)
	}
	if err != nil {
		return nil, fmt.Errorf("admin session: %w", err)
	}
	as := &adminSession{s: s}
	c.Locals(localSession, as)
	return as, nil
}

// Sessions runs the rest of the admin's handlers, then writes the session
// at most once: when a handler changed it, or to slide the idle timeout
// when its last write is older than SessionTouchInterval. A session
// nobody stored anything in is never written.
func (p *Panel) Sessions(c *fiber.Ctx) error {
	err := c.Next()
	as, ok := c.Locals(localSession).(*adminSession)
	if !ok || as.done {
		return err
	}
	now := time.Now().Unix()
	if !as.dirty {
		touched, _ := as.s.Get(sessTouched).(int64)
		if as.s.Fresh() || now-touched < int64(SessionTouchInterval/time.Second) {
			return err
		}
	}
	as.s.Set(sessTouched, now)
	as.done = true
	if serr := as.s.Save(); serr != nil {
		if err != nil {
			web.Log(c, p.log).Warn("admin session: save", "err", serr)
			return err
		}
		return fmt.Errorf("admin session: %w", serr)
	}
	return err
}

// CSRF checks the form token of every unsafe request: the synchronizer
// token kept in the session (read once with it), sent back in the
// X-Csrf-Token header (htmx, fetch) or the form's _csrf field, and on
// HTTPS an Origin or Referer of this host. (Fiber's csrf middleware with
// a session would read the session again and write it on every request.)
func (p *Panel) CSRF(c *fiber.Ctx) error {
	as, err := p.session(c)
	if err != nil {
		return err
	}
	token, _ := as.get(sessCSRF).(string)
	switch c.Method() {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions, fiber.MethodTrace:
	default:
		if p.proxies.IsHTTPS(c) && !sameOrigin(c) {
			return csrfFailed(c, csrf.ErrBadReferer)
		}
		sent, err := csrfExtractor(c)
		if err != nil || token == "" || subtle.ConstantTimeCompare([]byte(sent), []byte(token)) != 1 {
			return csrfFailed(c, csrf.ErrTokenInvalid)
		}
	}
	if token == "" {
		token = newCSRFToken()
		as.set(sessCSRF, token)
	}
	c.Locals(localCSRFToken, token)
	return c.Next()
}

// sameOrigin: the Origin header, or else the Referer, names this host over HTTPS.
func sameOrigin(c *fiber.Ctx) bool {
	from := c.Get(fiber.HeaderOrigin)
	if from == "" || from == "null" {
		from = c.Get(fiber.HeaderReferer)
	}
	u, err := url.Parse(strings.ToLower(from))
	return err == nil && u.Scheme == "https" && u.Host == strings.ToLower(c.Hostname())
}

func newCSRFToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
