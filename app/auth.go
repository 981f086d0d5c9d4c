package app

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	jwtware "github.com/gofiber/contrib/jwt"
	"github.com/gofiber/fiber/v2"
	"github.com/golang-jwt/jwt/v5"

	"tienda/models"
)

// JWT settings. The algorithm is pinned: tokens signed otherwise, or with
// "none", are refused.
const (
	jwtIssuer   = "tienda"
	jwtAudience = "tienda-api"
	typAccess   = "access"
	typRefresh  = "refresh"
)

// Claims are Tienda's JWT claims. Staff and superuser flags ride in the
// access token so that a read needs no user lookup; they are fixed for the
// token's short life (15 minutes by default).
type Claims struct {
	jwt.RegisteredClaims
	Type      string `json:"typ"`
	Username  string `json:"username,omitempty"`
	Staff     bool   `json:"staff,omitempty"`
	Superuser bool   `json:"superuser,omitempty"`
	Family    string `json:"fam,omitempty"`
}

// Validate runs after the library's checks (signature, exp, nbf): the
// claims golang-jwt does not require are required here.
func (c *Claims) Validate() error {
	switch {
	case c.Issuer != jwtIssuer:
		return errors.New("wrong issuer")
	case !slices.Contains(c.Audience, jwtAudience):
		return errors.New("wrong audience")
	case c.ExpiresAt == nil || c.IssuedAt == nil:
		return errors.New("exp and iat are required")
	case c.Subject == "" || c.ID == "":
		return errors.New("sub and jti are required")
	case c.Type != typAccess && c.Type != typRefresh:
		return errors.New("unknown token type")
	}
	return nil
}

// Principal is whoever a request is authenticated as.
type Principal struct {
	UserID    int64
	Username  string
	Staff     bool
	Superuser bool
	// ReadOnly is set for read-only API keys.
	ReadOnly bool
	// APIKeyID is the key the request authenticated with (0: a JWT).
	APIKeyID int64
}

// User returns the permission view of the principal.
func (p *Principal) User() *models.User {
	return &models.User{ID: p.UserID, Username: p.Username, IsActive: true, IsStaff: p.Staff, IsSuperuser: p.Superuser}
}

// Can applies the one permission rule (models.Permission).
func (p *Principal) Can(action, objectType string) bool {
	if p == nil {
		return false
	}
	if p.ReadOnly && action != "view" {
		return false
	}
	return models.Permission(p.User(), action, objectType)
}

func principal(c *fiber.Ctx) *Principal {
	p, _ := c.Locals(localAuth).(*Principal)
	return p
}

// Tokens issues and verifies JWTs with a key derived from SECRET_KEY.
type Tokens struct {
	key        []byte
	accessTTL  time.Duration
	refreshTTL time.Duration
}

// NewTokens derives the signing key (a separate key per purpose, so the
// JWT key is not the session or CSRF key).
func NewTokens(secret string, accessTTL, refreshTTL time.Duration) *Tokens {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("tienda jwt v1"))
	return &Tokens{key: m.Sum(nil), accessTTL: accessTTL, refreshTTL: refreshTTL}
}

func (t *Tokens) sign(u *models.User, typ, family, jti string, ttl time.Duration) (string, time.Time, error) {
	now := time.Now()
	exp := now.Add(ttl)
	c := &Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: jwtIssuer, Audience: jwt.ClaimStrings{jwtAudience}, Subject: strconv.FormatInt(u.ID, 10),
			ID: jti, IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(exp),
		},
		Type: typ, Family: family,
	}
	if typ == typAccess {
		c.Username, c.Staff, c.Superuser = u.Username, u.IsStaff, u.IsSuperuser
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign token: %w", err)
	}
	return s, exp, nil
}

// parse verifies a token of the given type.
func (t *Tokens) parse(raw, typ string) (*Claims, error) {
	c := &Claims{}
	_, err := jwt.ParseWithClaims(raw, c, func(*jwt.Token) (any, error) { return t.key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithIssuer(jwtIssuer),
		jwt.WithAudience(jwtAudience), jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	if err != nil {
		return nil, err
	}
	if c.Type != typ {
		return nil, fmt.Errorf("a %s token was given where a %s token is required", c.Type, typ)
	}
	return c, nil
}

// TokenPair is the answer of the token and refresh endpoints.
type TokenPair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
}

func (s *Server) issuePair(c *fiber.Ctx, u *models.User, family string) (*TokenPair, error) {
	if family == "" {
		family = newID()
	}
	access, _, err := s.tokens.sign(u, typAccess, family, newID(), s.tokens.accessTTL)
	if err != nil {
		return nil, err
	}
	jti := newID()
	refresh, exp, err := s.tokens.sign(u, typRefresh, family, jti, s.tokens.refreshTTL)
	if err != nil {
		return nil, err
	}
	if err := s.store.SaveRefreshToken(c.UserContext(), u.ID, family, jti, exp); err != nil {
		return nil, err
	}
	return &TokenPair{AccessToken: access, RefreshToken: refresh, TokenType: "bearer", ExpiresIn: int(s.tokens.accessTTL.Seconds())}, nil
}

// credentials reads username and password from JSON or a form.
func credentials(c *fiber.Ctx) (string, string, error) {
	ct := string(c.Request().Header.ContentType())
	if strings.HasPrefix(ct, fiber.MIMEApplicationForm) || strings.HasPrefix(ct, fiber.MIMEMultipartForm) {
		return strings.Clone(c.FormValue("username")), strings.Clone(c.FormValue("password")), nil
	}
	obj, err := decodeObject(c)
	if err != nil {
		return "", "", err
	}
	var in struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := bindFields(obj, &in, []string{"username", "password"}, true); err != nil {
		return "", "", err
	}
	return in.Username, in.Password, nil
}

// handleToken: POST /api/v1/auth/token.
func (s *Server) handleToken(c *fiber.Ctx) error {
	username, password, err := credentials(c)
	if err != nil {
		return err
	}
	fields := map[string]string{}
	if strings.TrimSpace(username) == "" {
		fields["username"] = "is required"
	}
	if password == "" {
		fields["password"] = "is required"
	}
	if len(fields) > 0 {
		return errValidation(fields)
	}
	if err := s.throttle.Check(c.UserContext(), username, s.clientIP(c)); err != nil {
		return err
	}
	u, err := s.store.Authenticate(c.UserContext(), username, password)
	if errors.Is(err, models.ErrInvalidCredentials) {
		s.throttle.Fail(c.UserContext(), username, s.clientIP(c))
		return &APIError{Status: 401, Code: CodeUnauthorized, Message: "Invalid username or password.",
			Headers: map[string]string{"WWW-Authenticate": `Bearer realm="tienda"`}}
	}
	if err != nil {
		return err
	}
	s.throttle.Succeed(c.UserContext(), username)
	pair, err := s.issuePair(c, u, "")
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(pair)
}

// refreshClaims reads {"refresh_token"} from the body and verifies it as a
// refresh token (refresh and logout both start here).
func (s *Server) refreshClaims(c *fiber.Ctx) (*Claims, error) {
	raw, err := refreshTokenFrom(c)
	if err != nil {
		return nil, err
	}
	claims, err := s.tokens.parse(raw, typRefresh)
	if err != nil {
		return nil, errUnauthorized("The refresh token is invalid or expired.")
	}
	return claims, nil
}

func refreshTokenFrom(c *fiber.Ctx) (string, error) {
	obj, err := decodeObject(c)
	if err != nil {
		return "", err
	}
	var in struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := bindFields(obj, &in, []string{"refresh_token"}, true); err != nil {
		return "", err
	}
	if in.RefreshToken == "" {
		return "", errValidation(map[string]string{"refresh_token": "is required"})
	}
	return in.RefreshToken, nil
}

// handleRefresh: POST /api/v1/auth/refresh rotates the refresh token.
func (s *Server) handleRefresh(c *fiber.Ctx) error {
	claims, err := s.refreshClaims(c)
	if err != nil {
		return err
	}
	rt, err := s.store.UseRefreshToken(c.UserContext(), claims.ID)
	if errors.Is(err, models.ErrTokenReused) {
		s.logFor(c).Warn("refresh token reused; token family revoked", "user_id", claims.Subject)
		return errUnauthorized("The refresh token was already used; sign in again.")
	}
	if errors.Is(err, models.ErrTokenInvalid) {
		return errUnauthorized("The refresh token is invalid, expired or revoked.")
	}
	if err != nil {
		return err
	}
	var u models.User
	if err := s.store.Get(c.UserContext(), &u, rt.UserID); err != nil || !u.IsActive {
		return errUnauthorized("The account is not active.")
	}
	pair, err := s.issuePair(c, &u, rt.FamilyID)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(pair)
}

// handleLogout: POST /api/v1/auth/logout revokes the refresh token's family.
func (s *Server) handleLogout(c *fiber.Ctx) error {
	claims, err := s.refreshClaims(c)
	if err != nil {
		return err
	}
	if err := s.store.RevokeRefreshFamily(c.UserContext(), claims.ID); err != nil && !errors.Is(err, models.ErrTokenInvalid) {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// requireAuth authenticates /api/v1 requests with a Bearer access token
// (contrib/jwt, HS256 pinned); anything else is a 401 with WWW-Authenticate.
func (s *Server) requireAuth() fiber.Handler {
	return jwtware.New(jwtware.Config{
		SigningKey: jwtware.SigningKey{JWTAlg: jwtware.HS256, Key: s.tokens.key},
		Claims:     &Claims{},
		ContextKey: localUser,
		Filter: func(c *fiber.Ctx) bool {
			// Already authenticated, or an API key without a bearer token:
			// the API key layer (apiKeyAuth) comes next.
			return principal(c) != nil || (c.Get(fiber.HeaderAuthorization) == "" && c.Get(HeaderAPIKey) != "")
		},
		SuccessHandler: func(c *fiber.Ctx) error {
			tok, _ := c.Locals(localUser).(*jwt.Token)
			claims, ok := tok.Claims.(*Claims)
			if !ok || claims.Type != typAccess {
				return errUnauthorized("An access token is required.")
			}
			p, err := principalFromClaims(claims)
			if err != nil {
				return err
			}
			c.Locals(localAuth, p)
			return c.Next()
		},
		ErrorHandler: func(c *fiber.Ctx, err error) error {
			if errors.Is(err, jwtware.ErrJWTMissingOrMalformed) {
				return errUnauthorized("Send an access token: Authorization: Bearer <token>.")
			}
			return errUnauthorized("The access token is invalid or expired.")
		},
	})
}

func principalFromClaims(claims *Claims) (*Principal, error) {
	id, err := strconv.ParseInt(claims.Subject, 10, 64)
	if err != nil {
		return nil, errUnauthorized("The token's subject is invalid.")
	}
	return &Principal{UserID: id, Username: claims.Username, Staff: claims.Staff, Superuser: claims.Superuser}, nil
}

// can enforces the permission rule for the request's principal.
func can(c *fiber.Ctx, action, objectType string) error {
	p := principal(c)
	if p == nil {
		return errUnauthorized("")
	}
	if !p.Can(action, objectType) {
		return errForbidden(fmt.Sprintf("%s on %s needs a staff account with write access.", action, objectType))
	}
	return nil
}

// actorCtx tags writes with the principal for the history.
func actorCtx(c *fiber.Ctx, source models.Source) {
	if p := principal(c); p != nil {
		c.SetUserContext(models.WithActor(c.UserContext(), models.Actor{UserID: p.UserID, Username: p.Username, Source: source}))
	}
}
