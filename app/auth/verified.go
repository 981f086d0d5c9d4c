package auth

import (
	"strconv"
	"strings"
	"sync"
	"tienda/app/web"
	"time"

	"github.com/gofiber/fiber/v2"
)

// RateClient names the client a request is counted against: the user of a
// valid access token, the key of a valid API key, else the client address
// (X-Forwarded-For only from TRUSTED_PROXIES, right-most untrusted entry).
// Credentials that do not verify count against the address, so inventing
// tokens or keys never buys a fresh allowance. Auth endpoints always count
// per address: their callers are not signed in yet.
func (a *Auth) RateClient(c *fiber.Ctx, class string) string {
	if class != "auth" {
		if raw, ok := bearerToken(c); ok {
			if claims, err := a.verified.access(a.Tokens, raw); err == nil {
				c.Locals(localClaims, claims) // the JWT layer reuses the verification
				return "user:" + claims.Subject
			}
		} else if key := c.Get(web.HeaderAPIKey); key != "" {
			if k, _, err := a.lookupAPIKey(c); err == nil {
				return "key:" + strconv.FormatInt(k.ID, 10)
			}
		}
	}
	return "ip:" + a.Proxies.ClientIP(c)
}

func bearerToken(c *fiber.Ctx) (string, bool) {
	h := c.Get(fiber.HeaderAuthorization)
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:]), true
	}
	return "", false
}

// verifiedTokens remembers access tokens already verified, until they
// expire, so that a client's steady stream of requests with one token pays
// for the HMAC check and the claims' JSON decoding once. Tokens are
// immutable and access tokens are not revocable before their expiry (15
// minutes by default), so a remembered verification stays true. Bounded:
// when full it starts over.
type verifiedTokens struct {
	mu  sync.Mutex
	max int
	m   map[string]*Claims
}

func newVerifiedTokens(max int) *verifiedTokens {
	return &verifiedTokens{max: max, m: make(map[string]*Claims)}
}

// access returns the claims of a valid access token.
func (v *verifiedTokens) access(t *Tokens, raw string) (*Claims, error) {
	now := time.Now()
	v.mu.Lock()
	c, ok := v.m[raw]
	v.mu.Unlock()
	if ok && c.ExpiresAt != nil && now.Before(c.ExpiresAt.Time) {
		return c, nil
	}
	c, err := t.Parse(raw, TypAccess)
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	if len(v.m) >= v.max {
		clear(v.m)
	}
	v.m[strings.Clone(raw)] = c
	v.mu.Unlock()
	return c, nil
}
