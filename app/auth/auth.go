// Package auth authenticates API requests: JWT access and refresh tokens
// (HS256 pinned, claims checked), API keys, the login throttle, and the
// token and API-key endpoints.
package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	jwtware "github.com/gofiber/contrib/jwt"
	"github.com/gofiber/fiber/v2"
	"github.com/golang-jwt/jwt/v5"

	"tienda/app/obs"
	"tienda/app/web"
	"tienda/models"
)

// Auth is the authentication layers' and endpoints' dependencies.
type Auth struct {
	Store    *models.Store
	Tokens   *Tokens
	Throttle *LoginThrottle
	Proxies  web.Proxies
	Metrics  *obs.Metrics
	Log      *slog.Logger
	holders  *holderCache
}

// HolderTTL is how long the state of an access token's holder (the user's
// flags, whether its session was ended) is reused before it is read
// again: an ended session's access tokens stop working within it, on
// every instance.
const HolderTTL = 2 * time.Second

// New wires the authentication of the API.
func New(store *models.Store, tokens *Tokens, throttle *LoginThrottle, proxies web.Proxies, m *obs.Metrics, log *slog.Logger) *Auth {
	return &Auth{Store: store, Tokens: tokens, Throttle: throttle, Proxies: proxies, Metrics: m, Log: log,
		holders: newHolderCache(HolderTTL, 10_000)}
}

// localToken holds the *jwt.Token contrib/jwt verified.
const localToken = "user"

// JWT settings. The algorithm is pinned: tokens signed otherwise, or with
// "none", are refused.
const (
	Issuer     = "tienda"
	Audience   = "tienda-api"
	TypAccess  = "access"
	TypRefresh = "refresh"
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
	case c.Issuer != Issuer:
		return errors.New("wrong issuer")
	case !slices.Contains(c.Audience, Audience):
		return errors.New("wrong audience")
	case c.ExpiresAt == nil || c.IssuedAt == nil:
		return errors.New("exp and iat are required")
	case c.Subject == "" || c.ID == "":
		return errors.New("sub and jti are required")
	case c.Type != TypAccess && c.Type != TypRefresh:
		return errors.New("unknown token type")
	case c.IssuedAt.After(time.Now().Add(clockSkew)):
		return errors.New("issued in the future")
	}
	return nil
}

// clockSkew is how far in the future an iat may lie (clocks of several
// instances differ a little).
const clockSkew = 5 * time.Second

// Tokens issues and verifies JWTs with a key derived from SECRET_KEY.
type Tokens struct {
	key        []byte
	accessTTL  time.Duration
	refreshTTL time.Duration
}

// NewTokens signs with the key SigningKey derives from secret.
func NewTokens(secret string, accessTTL, refreshTTL time.Duration) *Tokens {
	return &Tokens{key: SigningKey(secret), accessTTL: accessTTL, refreshTTL: refreshTTL}
}

// SigningKey derives the JWT key from SECRET_KEY: a separate key per
// purpose, so the JWT key is not the session or CSRF key.
func SigningKey(secret string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("tienda jwt v1"))
	return m.Sum(nil)
}

func (t *Tokens) Sign(u *models.User, typ, family, jti string, ttl time.Duration) (string, time.Time, error) {
	now := time.Now()
	exp := now.Add(ttl)
	c := &Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: Issuer, Audience: jwt.ClaimStrings{Audience}, Subject: strconv.FormatInt(u.ID, 10),
			ID: jti, IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(exp),
		},
		Type: typ, Family: family,
	}
	if typ == TypAccess {
		c.Username, c.Staff, c.Superuser = u.Username, u.IsStaff, u.IsSuperuser
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign token: %w", err)
	}
	return s, exp, nil
}

// Parse verifies a token of the given type.
func (t *Tokens) Parse(raw, typ string) (*Claims, error) {
	c := &Claims{}
	_, err := jwt.ParseWithClaims(raw, c, func(*jwt.Token) (any, error) { return t.key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithIssuer(Issuer),
		jwt.WithAudience(Audience), jwt.WithExpirationRequired(), jwt.WithIssuedAt())
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

func (a *Auth) issuePair(c *fiber.Ctx, u *models.User, family string) (*TokenPair, error) {
	if family == "" {
		family = web.NewID()
	}
	access, _, err := a.Tokens.Sign(u, TypAccess, family, web.NewID(), a.Tokens.accessTTL)
	if err != nil {
		return nil, err
	}
	jti := web.NewID()
	refresh, exp, err := a.Tokens.Sign(u, TypRefresh, family, jti, a.Tokens.refreshTTL)
	if err != nil {
		return nil, err
	}
	if err := a.Store.SaveRefreshToken(c.UserContext(), u.ID, family, jti, exp); err != nil {
		return nil, err
	}
	return &TokenPair{AccessToken: access, RefreshToken: refresh, TokenType: "bearer", ExpiresIn: int(a.Tokens.accessTTL.Seconds())}, nil
}

// credentials reads username and password from JSON or a form.
func credentials(c *fiber.Ctx) (string, string, error) {
	ct := string(c.Request().Header.ContentType())
	if strings.HasPrefix(ct, fiber.MIMEApplicationForm) || strings.HasPrefix(ct, fiber.MIMEMultipartForm) {
		return strings.Clone(c.FormValue("username")), strings.Clone(c.FormValue("password")), nil
	}
	obj, err := web.DecodeObject(c)
	if err != nil {
		return "", "", err
	}
	var in struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := web.BindFields(obj, &in, []string{"username", "password"}, web.BindCreate); err != nil {
		return "", "", err
	}
	return in.Username, in.Password, nil
}

// Token: POST /api/v1/auth/token.
func (a *Auth) Token(c *fiber.Ctx) error {
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
	// Refused before the throttle's and the user's lookups: PostgreSQL
	// cannot even compare a NUL byte.
	for k, v := range map[string]string{"username": username, "password": password} {
		if p := models.TextProblem(v); p != "" {
			fields[k] = p
		}
	}
	if len(fields) > 0 {
		return web.Invalid(fields)
	}
	if err := a.Throttle.Check(c.UserContext(), username, a.Proxies.ClientIP(c)); err != nil {
		return err
	}
	u, err := a.Store.Authenticate(c.UserContext(), username, password)
	if errors.Is(err, models.ErrInvalidCredentials) {
		a.Throttle.Fail(c.UserContext(), username, a.Proxies.ClientIP(c))
		return &web.Error{Status: 401, Code: web.CodeUnauthorized, Message: "Invalid username or password.",
			Headers: map[string]string{"WWW-Authenticate": `Bearer realm="tienda"`}}
	}
	if err != nil {
		return err
	}
	a.Throttle.Succeed(c.UserContext(), username)
	pair, err := a.issuePair(c, u, "")
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(pair)
}

// refreshClaims reads {"refresh_token"} from the body and verifies it as a
// refresh token (refresh and logout both start here).
func (a *Auth) refreshClaims(c *fiber.Ctx) (*Claims, error) {
	raw, err := refreshTokenFrom(c)
	if err != nil {
		return nil, err
	}
	claims, err := a.Tokens.Parse(raw, TypRefresh)
	if err != nil {
		return nil, web.Unauthorized("The refresh token is invalid or expired.")
	}
	return claims, nil
}

func refreshTokenFrom(c *fiber.Ctx) (string, error) {
	obj, err := web.DecodeObject(c)
	if err != nil {
		return "", err
	}
	var in struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := web.BindFields(obj, &in, []string{"refresh_token"}, web.BindCreate); err != nil {
		return "", err
	}
	if in.RefreshToken == "" {
		return "", web.Invalid(map[string]string{"refresh_token": "is required"})
	}
	return in.RefreshToken, nil
}

// Refresh: POST /api/v1/auth/refresh rotates the refresh token.
func (a *Auth) Refresh(c *fiber.Ctx) error {
	claims, err := a.refreshClaims(c)
	if err != nil {
		return err
	}
	rt, err := a.Store.UseRefreshToken(c.UserContext(), claims.ID)
	if errors.Is(err, models.ErrTokenReused) {
		web.Log(c, a.Log).Warn("refresh token reused; token family revoked", "user_id", claims.Subject)
		return web.Unauthorized("The refresh token was already used; sign in again.")
	}
	if errors.Is(err, models.ErrTokenInvalid) {
		return web.Unauthorized("The refresh token is invalid, expired or revoked.")
	}
	if err != nil {
		return err
	}
	var u models.User
	if err := a.Store.Get(c.UserContext(), &u, rt.UserID); err != nil || !u.IsActive {
		return web.Unauthorized("The account is not active.")
	}
	pair, err := a.issuePair(c, &u, rt.FamilyID)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(pair)
}

// Logout: POST /api/v1/auth/logout revokes the refresh token's family.
func (a *Auth) Logout(c *fiber.Ctx) error {
	claims, err := a.refreshClaims(c)
	if err != nil {
		return err
	}
	if err := a.Store.RevokeRefreshFamily(c.UserContext(), claims.ID); err != nil && !errors.Is(err, models.ErrTokenInvalid) {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// JWT is layer (6): it authenticates /api/v1 requests with a Bearer access
// token, verified once by contrib/jwt (HS256 pinned, claims checked by
// Claims.Validate); a bad or missing token is a 401 with WWW-Authenticate.
// A request with an API key and no bearer token goes on to the API key
// layer.
func (a *Auth) JWT() fiber.Handler {
	return jwtware.New(jwtware.Config{
		SigningKey: jwtware.SigningKey{JWTAlg: jwtware.HS256, Key: a.Tokens.key},
		Claims:     &Claims{},
		ContextKey: localToken,
		Filter: func(c *fiber.Ctx) bool {
			// Already authenticated, or an API key without a bearer token:
			// the API key layer (apiKeyAuth) comes next.
			return web.PrincipalOf(c) != nil || (c.Get(fiber.HeaderAuthorization) == "" && c.Get(web.HeaderAPIKey) != "")
		},
		SuccessHandler: func(c *fiber.Ctx) error {
			tok, _ := c.Locals(localToken).(*jwt.Token)
			claims, ok := tok.Claims.(*Claims)
			if !ok || claims.Type != TypAccess {
				return web.Unauthorized("An access token is required.")
			}
			p, err := a.holder(c, claims)
			if err != nil {
				return err
			}
			web.SetPrincipal(c, p)
			return c.Next()
		},
		ErrorHandler: func(c *fiber.Ctx, err error) error {
			if errors.Is(err, jwtware.ErrJWTMissingOrMalformed) {
				return web.Unauthorized("Send an access token: Authorization: Bearer <token>.")
			}
			return web.Unauthorized("The access token is invalid or expired.")
		},
	})
}

// holder is the principal of a verified access token, from its holder's
// current state: a token of a deleted or deactivated user, or of a session
// that was ended (logout, a reused refresh token, a new password), is
// refused, and the flags and permissions are the user's now, not the
// token's.
func (a *Auth) holder(c *fiber.Ctx, claims *Claims) (*web.Principal, error) {
	id, err := strconv.ParseInt(claims.Subject, 10, 64)
	if err != nil || claims.Family == "" {
		return nil, web.Unauthorized("The access token is invalid or expired.")
	}
	key := claims.Subject + ":" + claims.Family
	h, ok := a.holders.get(key)
	if !ok {
		u, revoked, err := a.Store.TokenHolder(c.UserContext(), id, claims.Family)
		if err != nil {
			return nil, err
		}
		h = holderState{revoked: revoked || u == nil || !u.IsActive}
		if !h.revoked {
			// The permissions are cached with the rest, for HolderTTL.
			if err := a.Store.LoadPermissions(c.UserContext(), u); err != nil {
				return nil, err
			}
			h.p = *web.PrincipalOfUser(u)
		}
		a.holders.put(key, h)
	}
	if h.revoked {
		return nil, web.Unauthorized("The session of this access token has ended; sign in again.")
	}
	p := h.p
	return &p, nil
}
