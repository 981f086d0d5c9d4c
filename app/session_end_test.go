package app

import (
	"context"
	"testing"
	"time"

	"tienda/app/auth"
	"tienda/models"
)

// TestAccessTokensEndWithTheirSession: an access token stops working
// within auth.HolderTTL once its session ends — logout, a reused refresh
// token (which revokes the family), a new password, deactivation,
// deletion — and a change of the user's staff flags applies to tokens
// already issued.
func TestAccessTokensEndWithTheirSession(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		ctx := context.Background()
		works := func(access string) int {
			return ts.do("GET", "/api/v1/products", nil, "Authorization", "Bearer "+access).Status
		}
		endsSoon := func(t *testing.T, access string) {
			t.Helper()
			if !eventually(t, auth.HolderTTL+3*time.Second, func() bool { return works(access) == 401 }) {
				t.Fatalf("access token still works (%d)", works(access))
			}
		}
		user := func(name string) (*models.User, auth.TokenPair) {
			pw := ts.createUser(name, true, false)
			pair := ts.login(name, pw)
			var u models.User
			if err := ts.store.DB.Where("username = ?", name).Take(&u).Error; err != nil {
				t.Fatal(err)
			}
			if st := works(pair.AccessToken); st != 200 {
				t.Fatalf("fresh token of %s: %d", name, st)
			}
			return &u, pair
		}
		t.Run("logout", func(t *testing.T) {
			t.Parallel()
			_, pair := user("ann")
			r := ts.do("POST", "/api/v1/auth/logout", map[string]string{"refresh_token": pair.RefreshToken})
			wantStatus(t, r, 204)
			endsSoon(t, pair.AccessToken)
		})
		t.Run("refresh token reused", func(t *testing.T) {
			t.Parallel()
			_, pair := user("ben")
			wantStatus(t, ts.do("POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": pair.RefreshToken}), 200)
			// The second use is a thief's or a replay: the family is revoked.
			wantStatus(t, ts.do("POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": pair.RefreshToken}), 401)
			endsSoon(t, pair.AccessToken)
		})
		t.Run("new password", func(t *testing.T) {
			t.Parallel()
			u, pair := user("cid")
			if err := u.SetPassword(ctx, "a-brand-new-password-1"); err != nil {
				t.Fatal(err)
			}
			if err := ts.store.Update(ctx, u, u.Version); err != nil {
				t.Fatal(err)
			}
			endsSoon(t, pair.AccessToken)
		})
		t.Run("deactivated", func(t *testing.T) {
			t.Parallel()
			u, pair := user("dee")
			u.IsActive = false
			if err := ts.store.Update(ctx, u, u.Version); err != nil {
				t.Fatal(err)
			}
			endsSoon(t, pair.AccessToken)
		})
		t.Run("deleted", func(t *testing.T) {
			t.Parallel()
			u, pair := user("eve")
			if err := ts.store.Delete(ctx, &models.User{}, u.ID, 0); err != nil {
				t.Fatal(err)
			}
			endsSoon(t, pair.AccessToken)
		})
		t.Run("permission removed", func(t *testing.T) {
			t.Parallel()
			// Permissions are data: leaving the Staff group takes the
			// right to add products from tokens already issued.
			u, pair := user("fay")
			u.Groups = []int64{}
			if err := ts.store.Update(ctx, u, u.Version); err != nil {
				t.Fatal(err)
			}
			write := func() int {
				return ts.do("POST", "/api/v1/products", map[string]any{"name": "x", "price": "1.00", "stock": 1},
					"Authorization", "Bearer "+pair.AccessToken).Status
			}
			if !eventually(t, auth.HolderTTL+3*time.Second, func() bool { return write() == 403 }) {
				t.Fatalf("a token issued to staff still writes after leaving the Staff group: %d", write())
			}
		})
	})
}
