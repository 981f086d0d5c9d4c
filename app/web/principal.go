package web

import (
	"fmt"

	"github.com/gofiber/fiber/v2"

	"tienda/models"
)

// Principal is whoever a request is authenticated as.
type Principal struct {
	UserID    int64
	Username  string
	Staff     bool
	Superuser bool
	// ReadOnly is set for read-only API keys.
	ReadOnly bool
	// APIKeyID is the key the request authenticated with (0: a JWT or a session).
	APIKeyID int64
	// Perms is every permission the user holds (models.Store.LoadPermissions),
	// read where the principal is built; a superuser needs none.
	Perms models.PermSet
}

// PrincipalOfUser is the principal of u (loaded with its permissions).
func PrincipalOfUser(u *models.User) *Principal {
	return &Principal{UserID: u.ID, Username: u.Username, Staff: u.IsStaff, Superuser: u.IsSuperuser, Perms: u.Perms}
}

// User returns the permission view of the principal.
func (p *Principal) User() *models.User {
	return &models.User{ID: p.UserID, Username: p.Username, IsActive: true, IsStaff: p.Staff, IsSuperuser: p.Superuser, Perms: p.Perms}
}

// Can applies the one permission rule (models.Permission), bounded by an
// API key's scope: a read-only key may only view, whatever its owner may.
func (p *Principal) Can(action, objectType string) bool {
	if p == nil {
		return false
	}
	if p.ReadOnly && action != "view" {
		return false
	}
	return models.Permission(p.User(), action, objectType)
}

// PrincipalOf is the request's principal, or nil before authentication.
func PrincipalOf(c *fiber.Ctx) *Principal {
	p, _ := c.Locals(localPrincipal).(*Principal)
	return p
}

// SetPrincipal records who the request is authenticated as.
func SetPrincipal(c *fiber.Ctx, p *Principal) { c.Locals(localPrincipal, p) }

// Require enforces the permission rule for the request's principal.
func Require(c *fiber.Ctx, action, objectType string) error {
	p := PrincipalOf(c)
	if p == nil {
		return Unauthorized("")
	}
	if !p.Can(action, objectType) {
		if p.ReadOnly && action != "view" {
			return Forbidden("This API key is read-only: it may read, search and chat, not create, change or delete.")
		}
		return Forbidden(fmt.Sprintf("This needs the %s permission.", models.Codename(action, objectType)))
	}
	return nil
}

// WithActor tags the request's writes with its principal, for the history.
func WithActor(c *fiber.Ctx, source models.Source) {
	if p := PrincipalOf(c); p != nil {
		c.SetUserContext(models.WithActor(c.UserContext(), models.Actor{UserID: p.UserID, Username: p.Username, Source: source}))
	}
}
