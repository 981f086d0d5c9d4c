package app

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"tienda/app/adminpanel"
)

// TestAdminChangeOwnPassword: a staff user without any right on the users
// model changes their own password: the old one is required and checked
// (and counted by the sign-in throttle), errors stand beside their fields
// without echoing a password, and a change rotates this session, ends the
// user's other sessions and API tokens, and leaves API keys alone.
func TestAdminChangeOwnPassword(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		pw := ts.createStaff("clerk", "view_product")
		b := ts.browser()
		b.login("clerk", pw)
		other := ts.browser()
		other.login("clerk", pw)
		pair := ts.login("clerk", pw)
		key := ts.do("POST", "/api/v1/api-keys", map[string]any{"name": "sync", "scope": "read-only"}, "Authorization", "Bearer "+pair.AccessToken)
		wantStatus(t, key, http.StatusCreated)
		var created struct {
			Key string `json:"key"`
		}
		key.JSON(t, &created)

		page := b.get("/admin/account")
		wantStatus(t, page, http.StatusOK)
		d := parse(t, page)
		if got := text(d.Find(".account-details")); !strings.Contains(got, "clerk") || !strings.Contains(got, "clerk@example.com") {
			t.Fatalf("account details: %q", got)
		}
		if d.Find(`header a[href="/admin/account"]`).Length() == 0 {
			t.Fatal("no link to the account page in the top bar")
		}
		// The users model stays closed to this clerk.
		wantStatus(t, b.get("/admin/users"), http.StatusForbidden)

		newPW := "a new password 123"
		cases := []struct {
			name           string
			form           url.Values
			errID, message string
		}{
			{"all empty", url.Values{}, "#id_old_password_error", "required"},
			{"wrong old", url.Values{"old_password": {"not it at all"}, "new_password1": {newPW}, "new_password2": {newPW}},
				"#id_old_password_error", "entered incorrectly"},
			{"mismatch", url.Values{"old_password": {pw}, "new_password1": {newPW}, "new_password2": {newPW + "x"}},
				"#id_new_password2_error", "didn’t match"},
			{"too short", url.Values{"old_password": {pw}, "new_password1": {"short"}, "new_password2": {"short"}},
				"#id_new_password1_error", "at least 8 characters"},
			{"NUL byte", url.Values{"old_password": {pw}, "new_password1": {"abc\x00defgh"}, "new_password2": {"abc\x00defgh"}},
				"#id_new_password1_error", "NUL"},
		}
		for _, tc := range cases {
			resp := b.post("/admin/account/password", tc.form)
			wantStatus(t, resp, http.StatusUnprocessableEntity)
			d := parse(t, resp)
			if got := text(d.Find(tc.errID)); !strings.Contains(got, tc.message) {
				t.Errorf("%s: %s = %q, want %q", tc.name, tc.errID, got, tc.message)
			}
			if strings.Contains(string(resp.Body), pw) || strings.Contains(string(resp.Body), newPW) {
				t.Errorf("%s: a password is echoed in the page", tc.name)
			}
		}
		// One wrong old password was counted: the others still work.
		before := b.cookies[adminpanel.SessionCookie].Value
		resp := b.post("/admin/account/password", url.Values{"old_password": {pw}, "new_password1": {newPW}, "new_password2": {newPW}})
		wantStatus(t, resp, http.StatusSeeOther)
		if location(resp) != "/admin/account" {
			t.Fatalf("redirect to %q", location(resp))
		}
		if after := b.cookies[adminpanel.SessionCookie]; after == nil || after.Value == before {
			t.Fatal("the session id was not rotated")
		}
		done := b.get("/admin/account")
		wantStatus(t, done, http.StatusOK)
		if !strings.Contains(text(parse(t, done).Find(".flashes")), "password was changed") {
			t.Fatal("no confirmation after the change")
		}
		// The other browser is signed out, and so are the API tokens.
		if r := other.get("/admin/"); r.Status != http.StatusSeeOther || !strings.Contains(location(r), "expired=1") {
			t.Fatalf("other session: %d %q", r.Status, location(r))
		}
		if r := ts.do("POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": pair.RefreshToken}); r.Status != http.StatusUnauthorized {
			t.Fatalf("refresh after the change: %d", r.Status)
		}
		if !eventually(t, 5*time.Second, func() bool {
			return ts.do("GET", "/api/v1/products", nil, "Authorization", "Bearer "+pair.AccessToken).Status == http.StatusUnauthorized
		}) {
			t.Fatal("the access token still works after the password change")
		}
		if r := ts.do("GET", "/api/v1/products", nil, "X-API-Key", created.Key); r.Status != http.StatusOK {
			t.Fatalf("API key after the password change: %d", r.Status)
		}
		// Old password refused, new one accepted, on both sides.
		if r := ts.do("POST", "/api/v1/auth/token", map[string]string{"username": "clerk", "password": pw}); r.Status != http.StatusUnauthorized {
			t.Fatalf("old password: %d", r.Status)
		}
		ts.login("clerk", newPW)
		ts.browser().login("clerk", newPW)
	})
}

// TestAdminPasswordChangeThrottled: guessing the old password through the
// form meets the sign-in throttle.
func TestAdminPasswordChangeThrottled(t *testing.T) {
	ts := newTestServer(t, "sqlite")
	b := ts.signedIn("guesser", false)
	wantStatus(t, b.get("/admin/account"), http.StatusOK) // the form's CSRF token
	var last int
	for i := 0; i < 8 && last != http.StatusTooManyRequests; i++ {
		last = b.post("/admin/account/password", url.Values{"old_password": {"guess " + string(rune('a'+i))},
			"new_password1": {"whatever 12345"}, "new_password2": {"whatever 12345"}}).Status
	}
	if last != http.StatusTooManyRequests {
		t.Fatalf("after 8 wrong old passwords: %d, want 429", last)
	}
}
