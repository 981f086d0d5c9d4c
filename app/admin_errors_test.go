package app

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"tienda/app/config"
)

// TestAdminErrorsInsideLayout: a signed-in user's error pages (403, 404,
// 405, 409, 413, 422, 500) render inside the admin's layout with the
// navigation and no "Sign in"; a visitor's keep the bare card.
func TestAdminErrorsInsideLayout(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, func(c *config.Config) { c.MaxRequestSize = 64 << 10 })
		b := ts.signedIn("ana", false)
		b.get("/admin/")
		big := url.Values{"title": {"x"}, "content": {strings.Repeat("a", 70<<10)}}
		cases := []struct {
			name   string
			send   func() *testResponse
			status int
		}{
			{"403 permission", func() *testResponse { return b.get("/admin/users") }, 403},
			{"403 CSRF", func() *testResponse {
				return b.post("/admin/products/new", url.Values{"_csrf": {"forged"}, "name": {"x"}})
			}, 403},
			{"404 unknown object", func() *testResponse { return b.get("/admin/products/99999") }, 404},
			{"404 unknown page", func() *testResponse { return b.get("/admin/no/such/page/here") }, 404},
			{"405", func() *testResponse {
				req := httptest.NewRequest("PUT", "/admin/products/new", nil)
				req.Header.Set("X-Csrf-Token", b.csrf)
				return b.send(req)
			}, 405},
			{"413", func() *testResponse { return b.post("/admin/documents/new", big) }, 413},
			{"422 bad search", func() *testResponse { return b.get("/admin/products?q=" + url.QueryEscape("a\x00b")) }, 422},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := c.send()
				wantStatus(t, r, c.status)
				d := parse(t, r)
				if d.Find(".error-card").Length() != 1 || text(d.Find(".error-status")) != strconv.Itoa(c.status) {
					t.Fatalf("no error card: %s", text(d.Find("main")))
				}
				if d.Find(`.sidebar a[href="/admin/products"]`).Length() != 1 || !strings.Contains(text(d.Find(".whoami")), "ana") {
					t.Fatalf("the error page has no navigation: %s", text(d.Find("body")))
				}
				if strings.Contains(text(d.Find(".error-card")), "Sign in") {
					t.Fatal("a signed-in user is offered to sign in")
				}
			})
		}
		// A visitor's error offers sign-in, not the navigation.
		visitor := ts.browser()
		visitor.get("/admin/login")
		r := visitor.post("/admin/login", url.Values{"_csrf": {"forged"}, "username": {"x"}, "password": {"y"}})
		wantStatus(t, r, http.StatusForbidden)
		d := parse(t, r)
		if d.Find(".sidebar").Length() != 0 || !strings.Contains(text(d.Find(".error-card")), "Sign in") {
			t.Fatalf("visitor's 403: %s", text(d.Find("main")))
		}
		// Forms know the limit, so the browser refuses a larger text before
		// sending it (static/js/admin.js), and the favicon exists.
		form := parse(t, b.get("/admin/documents/new")).Find("form.model-form")
		if form.AttrOr("data-max-bytes", "") != strconv.Itoa(64<<10) || form.Find("[data-size-error]").Length() != 1 {
			t.Fatalf("form limit: %q", form.AttrOr("data-max-bytes", ""))
		}
		if r := ts.do("GET", "/favicon.ico", nil); r.Status != http.StatusMovedPermanently || location(r) != "/static/favicon.svg" {
			t.Fatalf("favicon.ico: %d %q", r.Status, location(r))
		}
		if r := ts.do("GET", "/static/favicon.svg", nil); r.Status != 200 || !strings.Contains(string(r.Body), "<svg") {
			t.Fatalf("favicon: %d", r.Status)
		}
		if parse(t, b.get("/admin/")).Find(`link[rel="icon"][href="/static/favicon.svg"]`).Length() != 1 {
			t.Fatal("no icon link")
		}
		// A 500 (a table gone) is inside the layout too, with a reference.
		if err := ts.srv.db.Exec("ALTER TABLE documents RENAME TO documents_gone").Error; err != nil {
			t.Fatal(err)
		}
		r = b.get("/admin/documents")
		wantStatus(t, r, http.StatusInternalServerError)
		d = parse(t, r)
		if d.Find(`.sidebar a[href="/admin/products"]`).Length() != 1 || !strings.Contains(text(d.Find(".error-card")), "reference") {
			t.Fatalf("500 page: %s", text(d.Find("body")))
		}
	})
}
