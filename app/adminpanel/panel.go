// Package adminpanel is the server side of the admin: sessions, CSRF,
// sign-in and sign-out, the dashboard, the API-key pages, the chat
// playground and the registration of every model with the generic engine
// (app/admin). Its routes are listed in app/routes.go.
package adminpanel

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/csrf"
	"github.com/gofiber/fiber/v2/middleware/session"

	"tienda/app/admin"
	"tienda/app/auth"
	"tienda/app/chat"
	"tienda/app/web"
	"tienda/models"
	"tienda/views"
)

// Admin session settings. The idle timeout slides with every request; the
// absolute one counts from sign-in, so a stolen cookie does not live forever.
const (
	adminBase = "/admin"
	// SessionIdle, SessionAbsolute: see above.
	SessionIdle     = 2 * time.Hour
	SessionAbsolute = 12 * time.Hour
	// SessionCookie names the session cookie.
	SessionCookie = "tienda_session"
	csrfCookie    = "tienda_csrf"
	csrfFormField = "_csrf"

	sessUserID = "uid"
	// SessionLoginAt is the session key of the sign-in time.
	SessionLoginAt = "login_at"
	sessPassFP     = "pw"
	sessFlash      = "flash"
	sessCSRF       = "csrf_token"

	localAdminUser = "admin_user"
	localCSRFToken = "csrf_token"
	// The admin's Content-Security-Policy comes from securityHeaders (one
	// place for every page); htmx is configured not to inject its indicator
	// styles, and the pages carry no inline code.
)

// Panel is the admin's server side around the generic engine (app/admin).
type Panel struct {
	store    *models.Store
	throttle *auth.LoginThrottle
	proxies  web.Proxies
	provider chat.Provider
	log      *slog.Logger
	// Two session stores over the same storage: the cookie's Secure flag
	// is fixed per store, and it must follow the request's scheme
	// (TRUSTED_PROXIES decides what counts as HTTPS).
	plain, secure *session.Store
	site          *admin.Site
	assets        views.Assets
	fpKey         []byte
	// aead seals what passes through the session (a new API key).
	aead     cipher.AEAD
	currency string
}

// Config is what the panel is built from.
type Config struct {
	Store *models.Store
	// Storage keeps the sessions (the database or Redis).
	Storage   fiber.Storage
	SecretKey string
	Static    fs.FS
	Throttle  *auth.LoginThrottle
	Proxies   web.Proxies
	Provider  chat.Provider
	Log       *slog.Logger
	// Currency is the ISO code money is shown in (CURRENCY).
	Currency string
	// MaxBody is the largest request body (MAX_REQUEST_SIZE): forms refuse
	// larger ones in the browser, before sending.
	MaxBody int
}

// Base is where the admin is served.
const Base = adminBase

// New builds the panel. It fails when a model registration names an
// unknown field, so the server does not start.
func New(cfg Config) (*Panel, error) {
	p := &Panel{store: cfg.Store, throttle: cfg.Throttle, proxies: cfg.Proxies, provider: cfg.Provider, log: cfg.Log}
	storage := &prefixedStorage{inner: cfg.Storage, prefix: "sess:"}
	for _, secure := range []bool{false, true} {
		store := session.New(session.Config{
			Storage: storage, Expiration: SessionIdle, KeyLookup: "cookie:" + SessionCookie, CookiePath: adminBase,
			CookieSecure: secure, CookieHTTPOnly: true, CookieSameSite: "Lax",
		})
		if secure {
			p.secure = store
		} else {
			p.plain = store
		}
	}
	mac := hmac.New(sha256.New, []byte(cfg.SecretKey))
	mac.Write([]byte("tienda admin session v1"))
	p.fpKey = mac.Sum(nil)
	sealKey := hmac.New(sha256.New, []byte(cfg.SecretKey))
	sealKey.Write([]byte("tienda admin session seal v1"))
	block, err := aes.NewCipher(sealKey.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("admin seal: %w", err)
	}
	if p.aead, err = cipher.NewGCM(block); err != nil {
		return nil, fmt.Errorf("admin seal: %w", err)
	}
	assets, err := adminAssets(cfg.Static)
	if err != nil {
		return nil, err
	}
	p.assets = assets
	p.site = admin.NewSite(adminBase, cfg.Store, admin.Hooks{User: adminUser, Page: p.page, Flash: p.flash, Render: p.render})
	p.site.Currency, p.site.MaxBody = cfg.Currency, cfg.MaxBody
	p.currency = cfg.Currency
	if err := registerModels(p.site, cfg.Store); err != nil {
		return nil, err
	}
	return p, nil
}

// Site is the generic engine with every model registered.
func (p *Panel) Site() *admin.Site { return p.site }

// LogoutRedirect answers GET /admin/logout: signing out changes state, so
// it is a POST (CSRF-checked); a typed /admin/logout lands on the
// dashboard, whose header has the button.
func (p *Panel) LogoutRedirect(c *fiber.Ctx) error {
	return c.Redirect(adminBase+"/", fiber.StatusSeeOther)
}

// adminAssets fingerprints the admin's own CSS and JS by content, so they
// can be cached for a year; vendored files carry their version in the path.
func adminAssets(static fs.FS) (views.Assets, error) {
	hash := func(name string) (string, error) {
		b, err := fs.ReadFile(static, name)
		if err != nil {
			return "", fmt.Errorf("admin asset %s: %w", name, err)
		}
		sum := sha256.Sum256(b)
		return "/static/" + name + "?v=" + hex.EncodeToString(sum[:6]), nil
	}
	css, err := hash("css/admin.css")
	if err != nil {
		return views.Assets{}, err
	}
	js, err := hash("js/admin.js")
	if err != nil {
		return views.Assets{}, err
	}
	chatJS, err := hash("js/chat.js")
	if err != nil {
		return views.Assets{}, err
	}
	return views.Assets{Pico: "/static/vendor/pico@2.1.1/pico.min.css", HTMX: "/static/vendor/htmx.org@2.0.11/htmx.min.js",
		CSS: css, JS: js, ChatJS: chatJS, Admin: adminBase}, nil
}

// csrfExtractor reads the token from htmx's header or the form's hidden field.
func csrfExtractor(c *fiber.Ctx) (string, error) {
	if h := c.Get(csrf.HeaderName); h != "" {
		return strings.Clone(h), nil
	}
	if v := c.FormValue(csrfFormField); v != "" {
		return strings.Clone(v), nil
	}
	return "", csrf.ErrTokenNotFound
}

func csrfFailed(_ *fiber.Ctx, _ error) error {
	return &web.Error{Status: fiber.StatusForbidden, Code: web.CodeForbidden, Message: "The security check of this form failed.",
		Detail: "The form's security token was missing, wrong or expired (for example after signing in again in another tab, " +
			"or when the form came from another site). Go back, reload the page and try again."}
}

func (p *Panel) sessions(c *fiber.Ctx) *session.Store {
	if p.proxies.IsHTTPS(c) {
		return p.secure
	}
	return p.plain
}

// Headers: admin pages are private and never cached (the CSP without
// unsafe-inline comes from the stack's security headers).
func (p *Panel) Headers(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set("X-Robots-Tag", "noindex, nofollow")
	return c.Next()
}

func adminUser(c *fiber.Ctx) *models.User {
	u, _ := c.Locals(localAdminUser).(*models.User)
	return u
}

func csrfToken(c *fiber.Ctx) string {
	t, _ := c.Locals(localCSRFToken).(string)
	return t
}

// passwordFingerprint ties a session to the password it was opened with:
// setting a new password signs out every other session of that user.
func (p *Panel) passwordFingerprint(hash string) string {
	m := hmac.New(sha256.New, p.fpKey)
	m.Write([]byte(hash))
	return hex.EncodeToString(m.Sum(nil)[:12])
}

// sessionUser returns the signed-in active staff user of the request's
// session, loaded fresh so that deactivation takes effect at once, or nil
// and whether a session existed but had to be ended (expired, password
// changed, account deactivated).
func (p *Panel) sessionUser(c *fiber.Ctx) (*models.User, bool, error) {
	sess, err := p.session(c)
	if err != nil {
		return nil, false, err
	}
	uid, _ := sess.get(sessUserID).(int64)
	if uid == 0 {
		return nil, false, nil
	}
	loginAt, _ := sess.get(SessionLoginAt).(int64)
	fp, _ := sess.get(sessPassFP).(string)
	var u models.User
	err = p.store.Get(c.UserContext(), &u, uid)
	if err != nil && !errors.Is(err, models.ErrNotFound) {
		return nil, false, err
	}
	if err != nil || time.Since(time.Unix(loginAt, 0)) > SessionAbsolute || !u.IsActive || !u.IsStaff ||
		!hmac.Equal([]byte(fp), []byte(p.passwordFingerprint(u.PasswordHash))) {
		if derr := sess.destroy(); derr != nil {
			return nil, false, fmt.Errorf("admin session: %w", derr)
		}
		return nil, true, nil
	}
	if err := p.store.LoadPermissions(c.UserContext(), &u); err != nil {
		return nil, false, err
	}
	return &u, false, nil
}

// RequireStaff lets through only a valid session of an active staff user.
func (p *Panel) RequireStaff(c *fiber.Ctx) error {
	u, ended, err := p.sessionUser(c)
	if err != nil {
		return err
	}
	if u == nil {
		reason := ""
		if ended {
			reason = "expired"
		}
		return p.toLogin(c, reason)
	}
	c.Locals(localAdminUser, u)
	web.SetPrincipal(c, web.PrincipalOfUser(u))
	return c.Next()
}

// toLogin sends the browser to the sign-in page, remembering where it was.
func (p *Panel) toLogin(c *fiber.Ctx, reason string) error {
	next := c.Path()
	if c.Method() == fiber.MethodGet {
		next = c.OriginalURL()
	}
	q := url.Values{}
	if safe := safeNext(next); safe != "" && safe != adminBase+"/" {
		q.Set("next", safe)
	}
	if reason != "" {
		q.Set(reason, "1")
	}
	target := adminBase + "/login"
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	if c.Get("HX-Request") == "true" {
		c.Set("HX-Redirect", target)
		return c.SendStatus(fiber.StatusNoContent)
	}
	return c.Redirect(target, fiber.StatusSeeOther)
}

// safeNext accepts only a local admin path, so `next` cannot send a user
// to another site (no scheme, no host, no //, no backslash tricks).
func safeNext(next string) string {
	next = strings.TrimSpace(next)
	if next == "" || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n\t") {
		return ""
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return ""
	}
	if u.Path != adminBase && !strings.HasPrefix(u.Path, adminBase+"/") {
		return ""
	}
	if u.Path == adminBase+"/login" || u.Path == adminBase+"/logout" || strings.Contains(u.Path, "/../") {
		return ""
	}
	return strings.Clone(next)
}

// LoginForm: GET /admin/login.
func (p *Panel) LoginForm(c *fiber.Ctx) error {
	vm := views.LoginView{Next: safeNext(c.Query("next"))}
	// Already signed in (a bookmarked login page, the back button): go on.
	if u, _, err := p.sessionUser(c); err != nil {
		return err
	} else if u != nil {
		target := vm.Next
		if target == "" {
			target = adminBase + "/"
		}
		return c.Redirect(target, fiber.StatusSeeOther)
	}
	switch {
	case c.Query("expired") != "":
		vm.Notice = "Your session has expired. Please sign in again."
	case c.Query("logged_out") != "":
		vm.Notice = "You have been signed out."
	}
	vm.Page = p.page(c, "Sign in")
	return p.render(c, fiber.StatusOK, views.LoginPage(vm))
}

// LoginFailed is the one message for an unknown user, a wrong password,
// an inactive account and a non-staff account alike.
const LoginFailed = "Please enter the correct username and password for a staff account. Both fields may be case-sensitive."

// Login: POST /admin/login.
func (p *Panel) Login(c *fiber.Ctx) error {
	username := strings.TrimSpace(strings.Clone(c.FormValue("username")))
	password := strings.Clone(c.FormValue("password"))
	vm := views.LoginView{Username: username, Next: safeNext(c.FormValue("next"))}
	vm.Page = p.page(c, "Sign in")
	if username == "" || password == "" {
		vm.Error = "Enter your username and password."
		return p.render(c, fiber.StatusUnprocessableEntity, views.LoginPage(vm))
	}
	if models.TextProblem(username) != "" || models.TextProblem(password) != "" {
		// Refused before the throttle's and the user's lookups; the typed
		// username is not echoed back, it cannot be shown.
		vm.Username = ""
		vm.Error = "The username or password contains characters that are not allowed (NUL bytes or invalid UTF-8)."
		return p.render(c, fiber.StatusUnprocessableEntity, views.LoginPage(vm))
	}
	ctx := c.UserContext()
	ip := p.proxies.ClientIP(c)
	if err := p.throttle.Check(ctx, username, ip); err != nil {
		var ae *web.Error
		if !errors.As(err, &ae) {
			return err
		}
		for k, v := range ae.Headers {
			c.Set(k, v)
		}
		vm.Error = ae.Message
		return p.render(c, ae.Status, views.LoginPage(vm))
	}
	u, err := p.store.Authenticate(ctx, username, password)
	if errors.Is(err, models.ErrInvalidCredentials) || (err == nil && !u.IsStaff) {
		p.throttle.Fail(ctx, username, ip)
		web.Log(c, p.log).Warn("admin sign-in failed", "ip", ip)
		vm.Error = LoginFailed
		return p.render(c, fiber.StatusUnauthorized, views.LoginPage(vm))
	}
	if err != nil {
		return err
	}
	p.throttle.Succeed(ctx, username)
	if err := p.startSession(c, u); err != nil {
		return err
	}
	web.Log(c, p.log).Info("admin sign-in", "user_id", u.ID)
	target := vm.Next
	if target == "" {
		target = adminBase + "/"
	}
	return c.Redirect(target, fiber.StatusSeeOther)
}

// startSession signs u in: a new session id (defeating session fixation)
// and a new CSRF token, written once at the end of the request.
func (p *Panel) startSession(c *fiber.Ctx, u *models.User) error {
	sess, err := p.session(c)
	if err != nil {
		return err
	}
	if err := sess.regenerate(); err != nil {
		return fmt.Errorf("admin session: %w", err)
	}
	sess.set(sessCSRF, newCSRFToken())
	sess.del(sessFlash)
	sess.set(sessUserID, u.ID)
	sess.set(SessionLoginAt, time.Now().Unix())
	sess.set(sessPassFP, p.passwordFingerprint(u.PasswordHash))
	return nil
}

// Logout: POST /admin/logout.
func (p *Panel) Logout(c *fiber.Ctx) error {
	sess, err := p.session(c)
	if err != nil {
		return err
	}
	if err := sess.destroy(); err != nil {
		return fmt.Errorf("admin session: %w", err)
	}
	// The CSRF cookie of earlier releases, if the browser still has one.
	c.ClearCookie(csrfCookie)
	return c.Redirect(adminBase+"/login?logged_out=1", fiber.StatusSeeOther)
}

// page builds the layout's view model.
func (p *Panel) page(c *fiber.Ctx, title string, crumbs ...views.Crumb) views.Page {
	u := adminUser(c)
	if u == nil {
		return views.Page{Title: title, CSRF: csrfToken(c), Assets: p.assets, Crumbs: crumbs}
	}
	pg := p.pageFor(c, u, title, true)
	pg.Crumbs = crumbs
	return pg
}

// pageFor is the layout of u's page: the navigation of what u may see,
// and the queued messages (taken only when flashes is true: an error page
// leaves them for the next page).
func (p *Panel) pageFor(c *fiber.Ctx, u *models.User, title string, flashes bool) views.Page {
	pg := views.Page{Title: title, CSRF: csrfToken(c), Assets: p.assets}
	pg.User, pg.IsSuperuser = u.Username, u.IsSuperuser
	path := c.Path()
	pg.Nav = append(pg.Nav, views.NavItem{Label: "Dashboard", URL: adminBase + "/", Active: path == adminBase+"/" || path == adminBase})
	for _, m := range p.site.Models() {
		if models.Permission(u, "view", m.ObjectType) {
			pg.Nav = append(pg.Nav, views.NavItem{Label: capitalizeFirst(m.Plural), URL: m.URL,
				Active: path == m.URL || strings.HasPrefix(path, m.URL+"/")})
		}
	}
	if models.Permission(u, "view", "chat") {
		pg.Nav = append(pg.Nav, views.NavItem{Label: "Chat", URL: adminBase + "/chat", Active: path == adminBase+"/chat"})
	}
	pg.Nav = append(pg.Nav, views.NavItem{Label: "API keys", URL: adminAPIKeys, Active: strings.HasPrefix(path, adminAPIKeys)})
	if flashes {
		pg.Flashes = p.takeFlashes(c)
	}
	return pg
}

func capitalizeFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// flash queues a message in the session for the next page.
func (p *Panel) flash(c *fiber.Ctx, level, message string) {
	sess, err := p.session(c)
	if err != nil {
		web.Log(c, p.log).Warn("flash: session", "err", err)
		return
	}
	var list []views.Flash
	if raw, ok := sess.get(sessFlash).(string); ok {
		_ = json.Unmarshal([]byte(raw), &list)
	}
	list = append(list, views.Flash{Level: level, Message: message})
	b, _ := json.Marshal(list)
	sess.set(sessFlash, string(b))
}

// takeFlashes returns and clears the queued messages (no write when none).
func (p *Panel) takeFlashes(c *fiber.Ctx) []views.Flash {
	sess, err := p.session(c)
	if err != nil {
		return nil
	}
	raw, ok := sess.get(sessFlash).(string)
	if !ok {
		return nil
	}
	var list []views.Flash
	_ = json.Unmarshal([]byte(raw), &list)
	sess.del(sessFlash)
	return list
}

// render writes an HTML page; a failed render becomes an error page
// rather than half a page.
func (p *Panel) render(c *fiber.Ctx, status int, comp templ.Component) error {
	c.Status(status)
	c.Type("html", "utf-8")
	if err := comp.Render(c.UserContext(), c.Response().BodyWriter()); err != nil {
		c.Response().ResetBody()
		return fmt.Errorf("render page: %w", err)
	}
	return nil
}

// RenderError is the HTML face of the one error handler for /admin pages.
func (p *Panel) RenderError(c *fiber.Ctx, ae *web.Error) error {
	for k, v := range ae.Headers {
		c.Set(k, v)
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	vm := views.ErrorView{Status: ae.Status, Back: adminBase + "/"}
	switch ae.Status {
	case fiber.StatusNotFound:
		vm.Heading, vm.Message = "Page not found", "This page does not exist, or the object was deleted."
	case fiber.StatusForbidden:
		vm.Heading, vm.Message = "Permission denied", "Your account is not allowed to do this. Ask a superuser if you need access."
		if ae.Detail != "" {
			vm.Heading, vm.Message = ae.Message, ae.Detail
		}
	case fiber.StatusMethodNotAllowed:
		vm.Heading, vm.Message = "Not allowed", "This page cannot be used that way. Use the buttons and links of the admin."
	case fiber.StatusTooManyRequests:
		vm.Heading, vm.Message = "Too many requests", ae.Message
	case fiber.StatusRequestEntityTooLarge:
		vm.Heading, vm.Message = "Too large", "What you sent is larger than the server accepts. "+ae.Detail
	case fiber.StatusConflict:
		vm.Heading, vm.Message = "Conflict", ae.Message
	case fiber.StatusUnprocessableEntity:
		vm.Heading, vm.Message = "Invalid input", ae.Message
	default:
		if ae.Status >= 500 {
			vm.Heading = "Something went wrong"
			vm.Message = "The error was logged with reference " + web.CorrelationID(c) + ". Try again in a moment."
		} else {
			vm.Heading, vm.Message = "Bad request", ae.Message
			// Name what was wrong (a search with a NUL byte: "q").
			for _, k := range slices.Sorted(maps.Keys(ae.Fields)) {
				vm.Message += " " + k + ": " + ae.Fields[k] + "."
			}
		}
	}
	if ae.Status == fiber.StatusUnprocessableEntity || ae.Status == fiber.StatusConflict {
		for _, k := range slices.Sorted(maps.Keys(ae.Fields)) {
			vm.Message += " " + k + ": " + ae.Fields[k] + "."
		}
	}
	// A signed-in user gets the error inside the admin's layout, with the
	// navigation. The error may have come before RequireStaff (a CSRF
	// refusal, a route that does not exist, a body too large), so the
	// session is read here if it was not (it is read once per request).
	u := adminUser(c)
	if u == nil && ae.Status < 500 {
		if su, _, err := p.sessionUser(c); err == nil && su != nil {
			u = su
			c.Locals(localAdminUser, u)
		}
	}
	if u != nil {
		vm.Page = p.pageFor(c, u, vm.Heading, false)
	} else {
		vm.Page = views.Page{Title: vm.Heading, CSRF: csrfToken(c), Assets: p.assets}
		vm.Back = ""
		vm.SignIn = adminBase + "/login"
	}
	return p.render(c, ae.Status, views.ErrorPage(vm))
}

// prefixedStorage keeps session keys apart from other users of the
// shared storage.
type prefixedStorage struct {
	inner  fiber.Storage
	prefix string
}

func (p *prefixedStorage) Get(k string) ([]byte, error) { return p.inner.Get(p.prefix + k) }
func (p *prefixedStorage) Set(k string, v []byte, exp time.Duration) error {
	return p.inner.Set(p.prefix+k, v, exp)
}
func (p *prefixedStorage) Delete(k string) error { return p.inner.Delete(p.prefix + k) }

// Reset would drop other users' keys of the shared storage; sessions are
// ended one by one instead.
func (p *prefixedStorage) Reset() error {
	return errors.New("reset of admin sessions is not supported")
}
func (p *prefixedStorage) Close() error { return nil }
