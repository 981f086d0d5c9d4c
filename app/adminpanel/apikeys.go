package adminpanel

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"tienda/app/web"
	"tienda/models"
	"tienda/views"
)

// apiKeyNameMax is the longest key name (the model's rule).
const apiKeyNameMax = 100

const adminAPIKeys = adminBase + "/api-keys"

// apiKeyScopes are the choices of the scope select, read-only first.
func apiKeyScopes() []views.ScopeChoice {
	return []views.ScopeChoice{
		{Value: models.ScopeReadOnly, Label: "Read-only (GET requests)"},
		{Value: models.ScopeReadWrite, Label: "Read-write (all requests)"},
	}
}

// apiKeysView builds the page: the user's keys, or everyone's with the
// owner column for a superuser.
func (p *Panel) apiKeysView(c *fiber.Ctx) (views.APIKeysView, error) {
	u := adminUser(c)
	owner := u.ID
	if u.IsSuperuser {
		owner = 0
	}
	keys, err := p.store.ListAPIKeys(c.UserContext(), owner)
	if err != nil {
		return views.APIKeysView{}, err
	}
	v := views.APIKeysView{Page: p.page(c, "API keys"), ShowOwner: u.IsSuperuser, Action: adminAPIKeys,
		Scope: models.ScopeReadOnly, Scopes: apiKeyScopes(), NameMax: apiKeyNameMax, MinExpiry: models.Now().UTC().Format("2006-01-02")}
	var names map[int64]string
	if u.IsSuperuser {
		if names, err = p.usernames(c, keys); err != nil {
			return views.APIKeysView{}, err
		}
	}
	for _, k := range keys {
		row := views.APIKeyRow{Name: k.Name, Owner: names[k.UserID], Scope: k.Scope, Prefix: models.APIKeyPrefix + k.Prefix,
			Created: adminTime(k.CreatedAt), CreatedISO: k.CreatedAt.UTC().Format(time.RFC3339), Active: k.Active(),
			RevokeURL: adminAPIKeys + "/" + strconv.FormatInt(k.ID, 10) + "/revoke"}
		if k.ExpiresAt != nil {
			// A key made here stops at the midnight after its last day:
			// show that day.
			if at := k.ExpiresAt.UTC(); at.Equal(at.Truncate(24 * time.Hour)) {
				row.Expires = "end of " + at.Add(-time.Second).Format("2006-01-02")
			} else {
				row.Expires = adminTime(at)
			}
			if k.Expired() {
				row.Expires += " (expired)"
			}
		}
		if k.LastUsedAt != nil {
			row.LastUsed = adminTime(*k.LastUsedAt)
		}
		if k.RevokedAt != nil {
			row.Revoked = adminTime(*k.RevokedAt)
		}
		v.Keys = append(v.Keys, row)
	}
	return v, nil
}

// usernames maps the owners of keys to their usernames.
func (p *Panel) usernames(c *fiber.Ctx, keys []models.APIKey) (map[int64]string, error) {
	names := map[int64]string{}
	if len(keys) == 0 {
		return names, nil
	}
	ids := make([]int64, 0, len(keys))
	for _, k := range keys {
		if _, ok := names[k.UserID]; !ok {
			names[k.UserID] = ""
			ids = append(ids, k.UserID)
		}
	}
	var users []models.User
	if err := p.store.DB.WithContext(c.UserContext()).Select("id", "username").Where("id IN ?", ids).Find(&users).Error; err != nil {
		return nil, fmt.Errorf("load API key owners: %w", err)
	}
	for _, u := range users {
		names[u.ID] = u.Username
	}
	return names, nil
}

func adminTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// APIKeys: GET /admin/api-keys. Right after a key was created it shows
// the key, once: taken from the session, which forgets it at once.
func (p *Panel) APIKeys(c *fiber.Ctx) error {
	v, err := p.apiKeysView(c)
	if err != nil {
		return err
	}
	if sess, err := p.session(c); err == nil {
		if sealed, ok := sess.get(sessNewKey).(string); ok {
			sess.del(sessNewKey)
			var created views.CreatedAPIKey
			if err := p.open(sealed, &created); err != nil {
				web.Log(c, p.log).Warn("new API key in the session", "err", err)
			} else {
				v.Created = &created
			}
		}
	}
	return p.render(c, fiber.StatusOK, views.APIKeysPage(v))
}

// CreateAPIKey: POST /admin/api-keys makes a key and answers with a
// redirect (so that reloading creates nothing); the key travels to the
// next page sealed (AES-GCM under a key from SECRET_KEY) in the session,
// which forgets it when the page shows it. It never goes into a flash or
// the logs.
func (p *Panel) CreateAPIKey(c *fiber.Ctx) error {
	name := strings.TrimSpace(strings.Clone(c.FormValue("name")))
	scope := strings.Clone(c.FormValue("scope"))
	expiresRaw := strings.TrimSpace(strings.Clone(c.FormValue("expires")))
	nameErr, scopeErr := validateAPIKeyForm(name, scope)
	expires, expiresErr := parseExpiry(expiresRaw)
	if nameErr == "" && scopeErr == "" && expiresErr == "" {
		u := adminUser(c)
		k, key, err := p.store.CreateAPIKey(c.UserContext(), u.ID, name, scope, expires)
		var ve *models.ValidationError
		switch {
		case errors.As(err, &ve):
			nameErr, scopeErr = fieldMessage(ve, "name", "Name"), fieldMessage(ve, "scope", "Scope")
			expiresErr = fieldMessage(ve, "expires_at", "The expiry date")
		case err != nil:
			return fmt.Errorf("create API key: %w", err)
		default:
			web.Log(c, p.log).InfoContext(c.UserContext(), "API key created", "api_key_id", k.ID, "prefix", k.Prefix,
				"scope", k.Scope, "user_id", u.ID)
			sealed, err := p.seal(views.CreatedAPIKey{Name: k.Name, Scope: k.Scope, Prefix: k.Prefix, Key: key})
			if err != nil {
				return err
			}
			sess, err := p.session(c)
			if err != nil {
				return err
			}
			sess.set(sessNewKey, sealed)
			return c.Redirect(adminAPIKeys, fiber.StatusSeeOther)
		}
	}
	v, err := p.apiKeysView(c)
	if err != nil {
		return err
	}
	v.Name, v.NameError, v.ScopeError, v.Expires, v.ExpiresError = name, nameErr, scopeErr, expiresRaw, expiresErr
	if scopeErr == "" {
		v.Scope = scope
	}
	return p.render(c, fiber.StatusUnprocessableEntity, views.APIKeysPage(v))
}

// parseExpiry reads the optional expiry date (YYYY-MM-DD): the key works
// through that day (UTC) and stops at the midnight after it.
func parseExpiry(raw string) (*time.Time, string) {
	if raw == "" {
		return nil, ""
	}
	d, err := time.Parse("2006-01-02", raw)
	if err != nil {
		return nil, "Enter the expiry as a date (YYYY-MM-DD), or leave it empty for a key that does not expire."
	}
	end := d.UTC().Add(24 * time.Hour)
	if !end.After(models.Now()) {
		return nil, "The expiry date must be today or later."
	}
	return &end, ""
}

// validateAPIKeyForm checks the form as the model's rules do, in words
// for the page.
func validateAPIKeyForm(name, scope string) (nameErr, scopeErr string) {
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		nameErr = "Enter a name for the key."
	case n > apiKeyNameMax:
		nameErr = fmt.Sprintf("The name must be at most %d characters (it has %d).", apiKeyNameMax, n)
	case strings.ContainsFunc(name, unicode.IsControl):
		nameErr = "The name must not contain control characters or line breaks."
	}
	if scope != models.ScopeReadOnly && scope != models.ScopeReadWrite {
		scopeErr = "Choose read-only or read-write."
	}
	return nameErr, scopeErr
}

func fieldMessage(ve *models.ValidationError, field, label string) string {
	if msg, ok := ve.Fields[field]; ok {
		return label + " " + msg + "."
	}
	return ""
}

// RevokeAPIKey: GET /admin/api-keys/{id}/revoke asks first (a page that
// can be reloaded); the POST with confirm=yes revokes. Staff reach only
// their own keys, superusers any; someone else's key is "not found".
func (p *Panel) RevokeAPIKey(c *fiber.Ctx) error {
	u := adminUser(c)
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil || id <= 0 {
		return web.NotFound("API key")
	}
	var k models.APIKey
	err = p.store.Get(c.UserContext(), &k, id)
	if errors.Is(err, models.ErrNotFound) || (err == nil && k.UserID != u.ID && !u.IsSuperuser) {
		return web.NotFound("API key")
	}
	if err != nil {
		return fmt.Errorf("load API key: %w", err)
	}
	if c.Method() != fiber.MethodPost || c.FormValue("confirm") != "yes" {
		v := views.RevokeAPIKeyView{Name: k.Name, Prefix: models.APIKeyPrefix + k.Prefix, BackURL: adminAPIKeys,
			Action: adminAPIKeys + "/" + strconv.FormatInt(k.ID, 10) + "/revoke"}
		if k.UserID != u.ID {
			names, err := p.usernames(c, []models.APIKey{k})
			if err != nil {
				return err
			}
			v.Owner = names[k.UserID]
		}
		v.Page = p.page(c, "Revoke API key", views.Crumb{Label: "API keys", URL: adminAPIKeys}, views.Crumb{Label: k.Name})
		return p.render(c, fiber.StatusOK, views.RevokeAPIKeyPage(v))
	}
	owner := u.ID
	if u.IsSuperuser {
		owner = 0
	}
	rk, err := p.store.RevokeAPIKey(c.UserContext(), owner, id)
	if errors.Is(err, models.ErrNotFound) {
		return web.NotFound("API key")
	}
	if err != nil {
		return fmt.Errorf("revoke API key: %w", err)
	}
	web.Log(c, p.log).InfoContext(c.UserContext(), "API key revoked", "api_key_id", rk.ID, "prefix", rk.Prefix, "user_id", u.ID)
	p.flash(c, views.FlashSuccess, "The API key “"+rk.Name+"” was revoked.")
	return c.Redirect(adminAPIKeys, fiber.StatusSeeOther)
}

// sessNewKey holds a key just created, sealed, until the next page shows it.
const sessNewKey = "new_api_key"

// seal encrypts v (JSON) with the panel's key for a short stay in the session.
func (p *Panel) seal(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}
	nonce := make([]byte, p.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(p.aead.Seal(nonce, nonce, b, nil)), nil
}

// open decrypts what seal made into v.
func (p *Panel) open(sealed string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil || len(b) < p.aead.NonceSize() {
		return errors.New("open: malformed")
	}
	n := p.aead.NonceSize()
	plain, err := p.aead.Open(nil, b[:n], b[n:], nil)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	return json.Unmarshal(plain, v)
}
