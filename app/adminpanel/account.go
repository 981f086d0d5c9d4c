package adminpanel

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"

	"tienda/app/web"
	"tienda/models"
	"tienda/views"
)

const adminAccount = adminBase + "/account"

// Account: GET /admin/account, the signed-in user's own page. Every staff
// user has it, whatever their permissions on the users model.
func (p *Panel) Account(c *fiber.Ctx) error {
	v, err := p.accountView(c)
	if err != nil {
		return err
	}
	return p.render(c, fiber.StatusOK, views.AccountPage(v))
}

func (p *Panel) accountView(c *fiber.Ctx) (views.AccountView, error) {
	u := adminUser(c)
	ctx := c.UserContext()
	v := views.AccountView{Page: p.page(c, "Your account"), Username: u.Username, Email: u.Email,
		APIKeysURL: adminAPIKeys, Action: adminAccount + "/password",
		New1Help: fmt.Sprintf("At least %d characters.", models.MinPasswordLength)}
	switch {
	case u.IsSuperuser:
		v.Role = "superuser (every permission)"
	default:
		v.Role = "staff"
	}
	held := &models.User{ID: u.ID}
	if err := p.store.LoadRelations(ctx, held); err != nil {
		return v, err
	}
	if len(held.Groups) > 0 {
		groups, err := p.store.Groups(ctx)
		if err != nil {
			return v, err
		}
		for _, g := range groups {
			for _, id := range held.Groups {
				if g.ID == id {
					v.Groups = append(v.Groups, g.Name)
				}
			}
		}
	}
	keys, err := p.store.ListAPIKeys(ctx, u.ID)
	if err != nil {
		return v, err
	}
	active := 0
	for _, k := range keys {
		if k.Active() {
			active++
		}
	}
	v.APIKeys = fmt.Sprintf("%d active of %d", active, len(keys))
	return v, nil
}

// ChangePassword: POST /admin/account/password. The old password is
// required (a session left open is not enough to take over the account)
// and counts against the sign-in throttle. The new one is set through the
// store, whose user hook revokes the user's refresh tokens (and with them
// their access tokens); other browser sessions end because their password
// fingerprint no longer matches; this one gets a new session id.
func (p *Panel) ChangePassword(c *fiber.Ctx) error {
	u := adminUser(c)
	ctx := c.UserContext()
	old := strings.Clone(c.FormValue("old_password"))
	new1 := strings.Clone(c.FormValue("new_password1"))
	new2 := strings.Clone(c.FormValue("new_password2"))
	v, err := p.accountView(c)
	if err != nil {
		return err
	}
	refuse := func(status int) error { return p.render(c, status, views.AccountPage(v)) }
	ip := p.proxies.ClientIP(c)
	if err := p.throttle.Check(ctx, u.Username, ip); err != nil {
		var ae *web.Error
		if !errors.As(err, &ae) {
			return err
		}
		for k, val := range ae.Headers {
			c.Set(k, val)
		}
		v.OldError = ae.Message
		return refuse(ae.Status)
	}
	for _, f := range []struct {
		value string
		dst   *string
	}{{old, &v.OldError}, {new1, &v.New1Error}, {new2, &v.New2Error}} {
		if f.value == "" {
			*f.dst = "This field is required."
		} else if msg := models.TextProblem(f.value); msg != "" {
			*f.dst = "This field " + msg + "."
		}
	}
	if v.OldError != "" || v.New1Error != "" || v.New2Error != "" {
		return refuse(fiber.StatusUnprocessableEntity)
	}
	ok, err := models.CheckPassword(ctx, u.PasswordHash, old)
	if err != nil && !errors.Is(err, models.ErrBadHash) {
		return err
	}
	if !ok {
		p.throttle.Fail(ctx, u.Username, ip)
		web.Log(c, p.log).Warn("password change: wrong old password", "user_id", u.ID, "ip", ip)
		v.OldError = "Your old password was entered incorrectly. Please enter it again."
		return refuse(fiber.StatusUnprocessableEntity)
	}
	if new1 != new2 {
		v.New2Error = "The two password fields didn’t match."
		return refuse(fiber.StatusUnprocessableEntity)
	}
	var fresh models.User
	fresh.Username = u.Username
	if err := fresh.SetPassword(ctx, new1); err != nil { // hashed before the row is locked
		var ve *models.ValidationError
		if errors.As(err, &ve) {
			v.New1Error = capitalizeFirst(ve.Fields["password"]) + "."
			return refuse(fiber.StatusUnprocessableEntity)
		}
		return err
	}
	p.throttle.Succeed(ctx, u.Username)
	hash := fresh.PasswordHash
	var saved models.User
	err = p.store.Change(ctx, &saved, u.ID, models.AnyVersion, func(e models.Entity) error {
		if u, ok := e.(*models.User); ok {
			u.PasswordHash = hash
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := p.startSession(c, &saved); err != nil {
		return err
	}
	web.Log(c, p.log).Info("password changed", "user_id", u.ID)
	p.flash(c, "success", "Your password was changed. Your other sessions and API tokens were signed out.")
	return c.Redirect(adminAccount, fiber.StatusSeeOther)
}
