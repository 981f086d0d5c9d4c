package auth

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"tienda/app/web"
	"tienda/models"
)

// APIKey is layer (7), the optional API key layer after the JWT layer: a
// request with X-API-Key and no bearer token authenticates as the key's
// owner with the key's scope. The scope is by meaning, not by method: a
// read-only key may do whatever changes no data (lists, details, and the
// POSTs of search, chat and embeddings), which web.Principal.Can decides
// with every other permission.
func (a *Auth) APIKey(c *fiber.Ctx) error {
	if web.PrincipalOf(c) != nil {
		return c.Next()
	}
	if c.Get(web.HeaderAPIKey) == "" {
		return web.Unauthorized("Send an access token or an API key.")
	}
	k, u, err := a.Store.AuthenticateAPIKey(c.UserContext(), c.Get(web.HeaderAPIKey))
	if errors.Is(err, models.ErrAPIKeyInvalid) {
		a.Metrics.Refused("api_key_invalid")
		return &web.Error{Status: 401, Code: web.CodeUnauthorized, Message: "Authentication required.",
			Detail: "The API key is invalid, revoked or expired.", Headers: map[string]string{"WWW-Authenticate": `ApiKey realm="tienda"`}}
	}
	if err != nil {
		return err
	}
	// The owner's permissions, bounded by the key's scope (Principal.Can).
	if err := a.Store.LoadPermissions(c.UserContext(), u); err != nil {
		return err
	}
	p := web.PrincipalOfUser(u)
	p.ReadOnly, p.APIKeyID = k.ReadOnly(), k.ID
	web.SetPrincipal(c, p)
	return c.Next()
}

// APIKeyCreated is the answer to creating a key: the only time the key is shown.
type APIKeyCreated struct {
	Key    string         `json:"key"`
	APIKey *models.APIKey `json:"api_key"`
}

// APIKeyInput is the body of POST /api/v1/api-keys.
type APIKeyInput struct {
	Name  string `json:"name" validate:"required,min=1,max=100"`
	Scope string `json:"scope" validate:"required,oneof=read-only read-write" description:"read-only: every request that changes no data (lists, details, search, chat, embeddings); read-write: also create, change and delete."`
	// ExpiresAt is optional: the key stops working then.
	ExpiresAt *time.Time `json:"expires_at,omitempty" description:"When the key stops working (RFC 3339, in the future); never when absent."`
}

// APIKeyList is the answer of GET /api/v1/api-keys.
type APIKeyList struct {
	Items []models.APIKey `json:"items"`
}

// keyManager allows staff signed in with a token (not with an API key, so a
// leaked key cannot mint more keys) to manage their own keys.
func keyManager(c *fiber.Ctx) (*web.Principal, error) {
	p := web.PrincipalOf(c)
	if p == nil {
		return nil, web.Unauthorized("")
	}
	if p.APIKeyID != 0 {
		return nil, web.Forbidden("API keys are managed with a signed-in session or access token, not with an API key.")
	}
	if !p.Staff && !p.Superuser {
		return nil, web.Forbidden("Only staff accounts may have API keys.")
	}
	return p, nil
}

// ListKeys: GET /api/v1/api-keys lists the caller's keys (never the keys themselves).
func (a *Auth) ListKeys(c *fiber.Ctx) error {
	p, err := keyManager(c)
	if err != nil {
		return err
	}
	keys, err := a.Store.ListAPIKeys(c.UserContext(), p.UserID)
	if err != nil {
		return err
	}
	if keys == nil {
		keys = []models.APIKey{}
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(APIKeyList{Items: keys})
}

// CreateKey: POST /api/v1/api-keys makes a key and shows it once.
func (a *Auth) CreateKey(c *fiber.Ctx) error {
	p, err := keyManager(c)
	if err != nil {
		return err
	}
	obj, err := web.DecodeObject(c)
	if err != nil {
		return err
	}
	var in APIKeyInput
	if err := web.BindFields(obj, &in, []string{"name", "scope", "expires_at"}, web.BindCreate); err != nil {
		return err
	}
	in.Name = strings.TrimSpace(in.Name)
	k, key, err := a.Store.CreateAPIKey(c.UserContext(), p.UserID, in.Name, in.Scope, in.ExpiresAt)
	if err != nil {
		return err
	}
	web.Log(c, a.Log).InfoContext(c.UserContext(), "API key created", "api_key_id", k.ID, "prefix", k.Prefix, "scope", k.Scope)
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Location("/api/v1/api-keys/" + strconv.FormatInt(k.ID, 10))
	return c.Status(fiber.StatusCreated).JSON(APIKeyCreated{Key: key, APIKey: k})
}

// RevokeKey: DELETE /api/v1/api-keys/{id} revokes one of the caller's keys.
func (a *Auth) RevokeKey(c *fiber.Ctx) error {
	p, err := keyManager(c)
	if err != nil {
		return err
	}
	id, err := web.PathID(c, "API key")
	if err != nil {
		return err
	}
	k, err := a.Store.RevokeAPIKey(c.UserContext(), p.UserID, id)
	if errors.Is(err, models.ErrNotFound) {
		return web.NotFound("API key")
	}
	if err != nil {
		return err
	}
	web.Log(c, a.Log).InfoContext(c.UserContext(), "API key revoked", "api_key_id", k.ID, "prefix", k.Prefix)
	return c.SendStatus(fiber.StatusNoContent)
}
