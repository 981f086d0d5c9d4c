package app

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"tienda/models"
)

// HeaderAPIKey carries an API key.
const HeaderAPIKey = "X-API-Key"

const (
	localAPIKey = "apikey"
	localClaims = "jwt_claims" // access-token claims already verified (by the rate limiter)
)

// jwtAuth is the JWT layer: contrib/jwt (requireAuth), unless the rate
// limiter already verified this request's access token with the same key
// and rules (Tokens.parse), in which case that verification is used
// rather than repeated.
func (s *Server) jwtAuth() fiber.Handler {
	jw := s.requireAuth()
	return func(c *fiber.Ctx) error {
		claims, ok := c.Locals(localClaims).(*Claims)
		if !ok && principal(c) == nil {
			// A token verified before (by any request) is not verified again;
			// anything else goes through contrib/jwt and its 401s.
			if raw, bearer := bearerToken(c); bearer {
				if cl, err := s.verified.access(s.tokens, raw); err == nil {
					claims, ok = cl, true
				}
			}
		}
		if ok && principal(c) == nil {
			p, err := principalFromClaims(claims)
			if err != nil {
				return err
			}
			c.Locals(localAuth, p)
			return c.Next()
		}
		return jw(c)
	}
}

type apiKeyResult struct {
	key  *models.APIKey
	user *models.User
	err  error
}

// lookupAPIKey verifies the request's X-API-Key once per request (the rate
// limiter and the API key layer both ask).
func (s *Server) lookupAPIKey(c *fiber.Ctx) (*models.APIKey, *models.User, error) {
	if r, ok := c.Locals(localAPIKey).(*apiKeyResult); ok {
		return r.key, r.user, r.err
	}
	raw := c.Get(HeaderAPIKey)
	k, u, err := s.store.AuthenticateAPIKey(c.UserContext(), raw)
	c.Locals(localAPIKey, &apiKeyResult{key: k, user: u, err: err})
	return k, u, err
}

// apiKeyAuth is the optional API key layer, after the JWT layer: a request
// with X-API-Key and no bearer token authenticates as the key's owner with
// the key's scope. A read-only key is refused any write here.
func (s *Server) apiKeyAuth(c *fiber.Ctx) error {
	if principal(c) != nil {
		return c.Next()
	}
	if c.Get(HeaderAPIKey) == "" {
		return errUnauthorized("Send an access token or an API key.")
	}
	k, u, err := s.lookupAPIKey(c)
	if errors.Is(err, models.ErrAPIKeyInvalid) {
		s.metrics.refused("api_key_invalid")
		return &APIError{Status: 401, Code: CodeUnauthorized, Message: "Authentication required.",
			Detail: "The API key is invalid or revoked.", Headers: map[string]string{"WWW-Authenticate": `ApiKey realm="tienda"`}}
	}
	if err != nil {
		return err
	}
	if k.ReadOnly() {
		switch c.Method() {
		case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions:
		default:
			s.metrics.refused("api_key_scope")
			return errForbidden("This API key is read-only.")
		}
	}
	c.Locals(localAuth, &Principal{UserID: u.ID, Username: u.Username, Staff: u.IsStaff, Superuser: u.IsSuperuser,
		ReadOnly: k.ReadOnly(), APIKeyID: k.ID})
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
	Scope string `json:"scope" validate:"required,oneof=read-only read-write"`
}

// APIKeyList is the answer of GET /api/v1/api-keys.
type APIKeyList struct {
	Items []models.APIKey `json:"items"`
}

// keyManager allows staff signed in with a token (not with an API key, so a
// leaked key cannot mint more keys) to manage their own keys.
func keyManager(c *fiber.Ctx) (*Principal, error) {
	p := principal(c)
	if p == nil {
		return nil, errUnauthorized("")
	}
	if p.APIKeyID != 0 {
		return nil, errForbidden("API keys are managed with a signed-in session or access token, not with an API key.")
	}
	if !p.Staff && !p.Superuser {
		return nil, errForbidden("Only staff accounts may have API keys.")
	}
	return p, nil
}

// handleListAPIKeys: GET /api/v1/api-keys lists the caller's keys (never the keys themselves).
func (s *Server) handleListAPIKeys(c *fiber.Ctx) error {
	p, err := keyManager(c)
	if err != nil {
		return err
	}
	keys, err := s.store.ListAPIKeys(c.UserContext(), p.UserID)
	if err != nil {
		return err
	}
	if keys == nil {
		keys = []models.APIKey{}
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(APIKeyList{Items: keys})
}

// handleCreateAPIKey: POST /api/v1/api-keys makes a key and shows it once.
func (s *Server) handleCreateAPIKey(c *fiber.Ctx) error {
	p, err := keyManager(c)
	if err != nil {
		return err
	}
	obj, err := decodeObject(c)
	if err != nil {
		return err
	}
	var in APIKeyInput
	if err := bindFields(obj, &in, []string{"name", "scope"}, true); err != nil {
		return err
	}
	in.Name = strings.TrimSpace(in.Name)
	k, key, err := s.store.CreateAPIKey(c.UserContext(), p.UserID, in.Name, in.Scope)
	if err != nil {
		return err
	}
	s.logFor(c).InfoContext(c.UserContext(), "API key created", "api_key_id", k.ID, "prefix", k.Prefix, "scope", k.Scope)
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Location("/api/v1/api-keys/" + itoa(k.ID))
	return c.Status(fiber.StatusCreated).JSON(APIKeyCreated{Key: key, APIKey: k})
}

// handleRevokeAPIKey: DELETE /api/v1/api-keys/{id} revokes one of the caller's keys.
func (s *Server) handleRevokeAPIKey(c *fiber.Ctx) error {
	p, err := keyManager(c)
	if err != nil {
		return err
	}
	id, err := pathID(c)
	if err != nil {
		return errNotFound("API key")
	}
	k, err := s.store.RevokeAPIKey(c.UserContext(), p.UserID, id)
	if errors.Is(err, models.ErrNotFound) {
		return errNotFound("API key")
	}
	if err != nil {
		return err
	}
	s.logFor(c).InfoContext(c.UserContext(), "API key revoked", "api_key_id", k.ID, "prefix", k.Prefix)
	return c.SendStatus(fiber.StatusNoContent)
}
