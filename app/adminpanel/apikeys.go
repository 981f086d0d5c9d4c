package adminpanel

import (
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
		Scope: models.ScopeReadOnly, Scopes: apiKeyScopes(), NameMax: apiKeyNameMax}
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

// APIKeys: GET /admin/api-keys.
func (p *Panel) APIKeys(c *fiber.Ctx) error {
	v, err := p.apiKeysView(c)
	if err != nil {
		return err
	}
	return p.render(c, fiber.StatusOK, views.APIKeysPage(v))
}

// CreateAPIKey: POST /admin/api-keys makes a key and shows it in this
// response only; it never goes into the session, a flash or the logs.
func (p *Panel) CreateAPIKey(c *fiber.Ctx) error {
	name := strings.TrimSpace(strings.Clone(c.FormValue("name")))
	scope := strings.Clone(c.FormValue("scope"))
	nameErr, scopeErr := validateAPIKeyForm(name, scope)
	var created *views.CreatedAPIKey
	if nameErr == "" && scopeErr == "" {
		u := adminUser(c)
		k, key, err := p.store.CreateAPIKey(c.UserContext(), u.ID, name, scope, nil)
		var ve *models.ValidationError
		switch {
		case errors.As(err, &ve):
			nameErr, scopeErr = fieldMessage(ve, "name", "Name"), fieldMessage(ve, "scope", "Scope")
		case err != nil:
			return fmt.Errorf("create API key: %w", err)
		default:
			web.Log(c, p.log).InfoContext(c.UserContext(), "API key created", "api_key_id", k.ID, "prefix", k.Prefix,
				"scope", k.Scope, "user_id", u.ID)
			created = &views.CreatedAPIKey{Name: k.Name, Scope: k.Scope, Prefix: k.Prefix, Key: key}
		}
	}
	v, err := p.apiKeysView(c)
	if err != nil {
		return err
	}
	if created != nil {
		v.Created = created
		return p.render(c, fiber.StatusOK, views.APIKeysPage(v))
	}
	v.Name, v.NameError, v.ScopeError = name, nameErr, scopeErr
	if scopeErr == "" {
		v.Scope = scope
	}
	return p.render(c, fiber.StatusUnprocessableEntity, views.APIKeysPage(v))
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

// RevokeAPIKey: POST /admin/api-keys/{id}/revoke asks first, then (with
// confirm=yes) revokes. Staff reach only their own keys, superusers any;
// someone else's key is "not found".
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
	if c.FormValue("confirm") != "yes" {
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
