package app

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/gob"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"tienda/app/adminpanel"
	"tienda/app/config"
	"tienda/app/web"
	"tienda/models"
)

func TestAdminLoginAndSession(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		pw := ts.createUser("ana", true, false)
		inactivePW := ts.createUser("ivan", true, false)
		plainPW := ts.createUser("pablo", false, false)
		ctx := context.Background()
		u, _ := ts.store.UserByUsername(ctx, "ivan")
		u.IsActive = false
		if err := ts.store.Update(ctx, u, u.Version); err != nil {
			t.Fatal(err)
		}

		b := ts.browser()
		resp := b.get("/admin/products?q=lamp")
		wantStatus(t, resp, http.StatusSeeOther)
		if got := location(resp); got != "/admin/login?next=%2Fadmin%2Fproducts%3Fq%3Dlamp" {
			t.Fatalf("redirect to %q", got)
		}
		resp = b.get(location(resp))
		wantStatus(t, resp, 200)
		if v, _ := parse(t, resp).Find(`input[name="next"]`).Attr("value"); v != "/admin/products?q=lamp" {
			t.Fatalf("next kept as %q", v)
		}

		// Every failure says the same thing, whoever the user is.
		fails := []struct{ name, user, pw string }{
			{"wrong password", "ana", "nope-nope-nope"},
			{"unknown user", "nobody", pw},
			{"inactive user", "ivan", inactivePW},
			{"not staff", "pablo", plainPW},
		}
		for _, f := range fails {
			resp := b.post("/admin/login", url.Values{"username": {f.user}, "password": {f.pw}})
			wantStatus(t, resp, http.StatusUnauthorized)
			if msg := text(parse(t, resp).Find("#login-error")); msg != adminpanel.LoginFailed {
				t.Fatalf("%s: message %q", f.name, msg)
			}
		}
		resp = b.post("/admin/login", url.Values{"username": {""}, "password": {""}})
		wantStatus(t, resp, http.StatusUnprocessableEntity)

		before := b.cookies[adminpanel.SessionCookie].Value
		resp = b.post("/admin/login", url.Values{"username": {"ana"}, "password": {pw}, "next": {"/admin/products?q=lamp"}})
		wantStatus(t, resp, http.StatusSeeOther)
		if location(resp) != "/admin/products?q=lamp" {
			t.Fatalf("after login: %q", location(resp))
		}
		sc := b.cookies[adminpanel.SessionCookie]
		if sc.Value == before {
			t.Fatal("session id was not rotated at sign-in")
		}
		if !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.Secure || sc.Path != "/admin" {
			t.Fatalf("cookie flags: %+v", sc)
		}
		// The old, pre-login session id gives nothing.
		old := ts.browser()
		old.cookies[adminpanel.SessionCookie] = &http.Cookie{Name: adminpanel.SessionCookie, Value: before}
		wantStatus(t, old.get("/admin/"), http.StatusSeeOther)

		resp = b.get("/admin/")
		wantStatus(t, resp, 200)
		d := parse(t, resp)
		if text(d.Find(".whoami strong")) != "ana" || d.Find("h1").First().Text() != "Dashboard" {
			t.Fatalf("dashboard: %s", text(d.Find("main")))
		}

		loggedIn := b.cookies[adminpanel.SessionCookie].Value
		resp = b.post("/admin/logout", nil)
		wantStatus(t, resp, http.StatusSeeOther)
		if location(resp) != "/admin/login?logged_out=1" {
			t.Fatalf("logout to %q", location(resp))
		}
		if _, still := b.cookies[adminpanel.SessionCookie]; still {
			t.Fatal("session cookie not cleared")
		}
		replay := ts.browser()
		replay.cookies[adminpanel.SessionCookie] = &http.Cookie{Name: adminpanel.SessionCookie, Value: loggedIn}
		wantStatus(t, replay.get("/admin/"), http.StatusSeeOther)
	})
}

func TestAdminLoginNextOnlyLocal(t *testing.T) {
	ts := newTestServer(t, models.SQLite)
	pw := ts.createUser("ana", true, false)
	cases := []struct{ next, want string }{
		{"/admin/documents", "/admin/documents"},
		{"/admin/products?o=-price&stock=low", "/admin/products?o=-price&stock=low"},
		{"https://evil.example/admin/", "/admin/"},
		{"//evil.example/admin/", "/admin/"},
		{"/\\evil.example", "/admin/"},
		{"/api/v1/products", "/admin/"},
		{"/admin/logout", "/admin/"},
		{"javascript:alert(1)", "/admin/"},
		{"", "/admin/"},
	}
	for _, c := range cases {
		t.Run(c.next, func(t *testing.T) {
			b := ts.browser()
			b.get("/admin/login")
			resp := b.post("/admin/login", url.Values{"username": {"ana"}, "password": {pw}, "next": {c.next}})
			wantStatus(t, resp, http.StatusSeeOther)
			if got := location(resp); got != c.want {
				t.Fatalf("next %q redirected to %q, want %q", c.next, got, c.want)
			}
		})
	}
}

func TestAdminSecureCookieBehindTrustedProxy(t *testing.T) {
	ts := newTestServer(t, models.SQLite, func(c *config.Config) { c.TrustedProxies = []string{"0.0.0.0/0"} })
	pw := ts.createUser("ana", true, false)
	b := ts.browser()
	b.header.Set("X-Forwarded-Proto", "https")
	b.header.Set("Referer", "https://example.com/admin/login")
	b.login("ana", pw)
	if c := b.cookies[adminpanel.SessionCookie]; c == nil || !c.Secure {
		t.Fatalf("session cookie over HTTPS is not Secure: %+v", c)
	}
	// An untrusted peer cannot claim HTTPS.
	ts2 := newTestServer(t, models.SQLite)
	pw2 := ts2.createUser("ana", true, false)
	b2 := ts2.browser()
	b2.header.Set("X-Forwarded-Proto", "https")
	b2.header.Set("Referer", "https://example.com/admin/login")
	b2.login("ana", pw2)
	if c := b2.cookies[adminpanel.SessionCookie]; c == nil || c.Secure {
		t.Fatalf("X-Forwarded-Proto from an untrusted peer was honoured: %+v", c)
	}
}

func TestAdminCSRF(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		b := ts.signedIn("ana", false)
		b.get("/admin/products/new")
		form := url.Values{"name": {"Lámpara"}, "price": {"19.99"}, "stock": {"3"}}
		cases := []struct {
			name  string
			token string
		}{{"missing token", "-"}, {"wrong token", "not-the-token"}}
		for _, c := range cases {
			f := url.Values{"_csrf": {c.token}}
			for k, v := range form {
				f[k] = v
			}
			resp := b.post("/admin/products/new", f)
			wantStatus(t, resp, http.StatusForbidden)
			d := parse(t, resp)
			if !strings.Contains(text(d.Find("h1")), "security check") {
				t.Fatalf("%s: 403 page says %q", c.name, text(d.Find("main")))
			}
		}
		var n int64
		ts.store.DB.Model(&models.Product{}).Count(&n)
		if n != 0 {
			t.Fatalf("%d products created without a valid token", n)
		}
		// Logout is state-changing too.
		resp := b.post("/admin/logout", url.Values{"_csrf": {"-"}})
		wantStatus(t, resp, http.StatusForbidden)
		// htmx sends the token in a header.
		req := newFormRequest("/admin/products/new", form)
		req.Header.Set("X-Csrf-Token", b.csrf)
		resp = b.send(req)
		wantStatus(t, resp, http.StatusSeeOther)
	})
}

func TestAdminLoginThrottled(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, noAuthRateLimit)
		pw := ts.createUser("ana", true, false)
		b := ts.browser()
		b.get("/admin/login")
		for i := 0; i < 5; i++ {
			wantStatus(t, b.post("/admin/login", url.Values{"username": {"ana"}, "password": {"wrong-" + strconv.Itoa(i)}}), http.StatusUnauthorized)
		}
		for _, user := range []struct{ name, pw string }{{"ana", pw}, {"ANA", "wrong"}} {
			resp := b.post("/admin/login", url.Values{"username": {user.name}, "password": {user.pw}})
			wantStatus(t, resp, http.StatusTooManyRequests)
			if !strings.Contains(text(parse(t, resp).Find("#login-error")), "Too many failed sign-in attempts") || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("throttled page: %s", resp.Body)
			}
		}
		// An unknown username is throttled the same way (nothing tells it apart).
		for i := 0; i < 5; i++ {
			wantStatus(t, b.post("/admin/login", url.Values{"username": {"ghost"}, "password": {"x"}}), http.StatusUnauthorized)
		}
		wantStatus(t, b.post("/admin/login", url.Values{"username": {"ghost"}, "password": {"x"}}), http.StatusTooManyRequests)
	})
}

func newFormRequest(path string, form url.Values) *http.Request {
	req, _ := http.NewRequest("POST", "http://example.com"+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

func TestAdminPermissionsAndNotFound(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		staff := ts.signedIn("ana", false)
		super := ts.signedIn("root", true)
		p := &models.Product{Name: "Lámpara", Price: models.Cents(1999), Stock: 3}
		if err := ts.store.Create(context.Background(), p); err != nil {
			t.Fatal(err)
		}
		id := strconv.FormatInt(p.ID, 10)
		cases := []struct {
			name   string
			b      *browser
			method string
			path   string
			want   int
		}{
			{"staff sees dashboard", staff, "GET", "/admin/", 200},
			{"staff lists products", staff, "GET", "/admin/products", 200},
			{"staff lists documents", staff, "GET", "/admin/documents", 200},
			{"staff opens a product", staff, "GET", "/admin/products/" + id, 200},
			{"staff opens product history", staff, "GET", "/admin/products/" + id + "/history", 200},
			{"staff cannot list users", staff, "GET", "/admin/users", 403},
			{"staff cannot open the user form", staff, "GET", "/admin/users/new", 403},
			{"staff cannot create users", staff, "POST", "/admin/users/new", 403},
			{"staff cannot export users", staff, "GET", "/admin/users/export.csv", 403},
			{"superuser lists users", super, "GET", "/admin/users", 200},
			{"superuser adds users", super, "GET", "/admin/users/new", 200},
			{"unknown model", staff, "GET", "/admin/nope", 404},
			{"tampered id", staff, "GET", "/admin/products/abc", 404},
			{"negative id", staff, "GET", "/admin/products/-1", 404},
			{"missing id", staff, "GET", "/admin/products/999999", 404},
			{"missing id delete", staff, "GET", "/admin/products/999999/delete", 404},
			{"missing id history", staff, "GET", "/admin/products/999999/history", 404},
			{"GET logout only offers the form", staff, "GET", "/admin/logout", 303},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				var resp *testResponse
				if c.method == "GET" {
					resp = c.b.get(c.path)
				} else {
					resp = c.b.post(c.path, url.Values{"username": {"x"}})
				}
				wantStatus(t, resp, c.want)
				if c.want != 303 && !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
					t.Fatalf("content type %q", resp.Header.Get("Content-Type"))
				}
				if c.want >= 400 && parse(t, resp).Find(".error-card h1").Length() != 1 {
					t.Fatalf("no error page: %s", resp.Body)
				}
			})
		}
		// The sidebar shows users to superusers only.
		if parse(t, staff.get("/admin/")).Find(`.sidebar a[href="/admin/users"]`).Length() != 0 {
			t.Fatal("staff sees the users link")
		}
		if parse(t, super.get("/admin/")).Find(`.sidebar a[href="/admin/users"]`).Length() != 1 {
			t.Fatal("superuser lacks the users link")
		}
	})
}

func TestAdminProductFormsConflictAndHistory(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		b := ts.signedIn("ana", false)
		d := parse(t, b.get("/admin/products/new"))
		name := d.Find("#id_name")
		if _, req := name.Attr("required"); !req || name.AttrOr("maxlength", "") != "80" {
			t.Fatalf("name attrs: %v", name.Nodes[0].Attr)
		}
		price := d.Find("#id_price")
		if price.AttrOr("type", "") != "number" || price.AttrOr("step", "") != "0.01" || price.AttrOr("min", "") != "0" {
			t.Fatalf("price attrs: %v", price.Nodes[0].Attr)
		}
		if d.Find("#id_stock").AttrOr("step", "") != "1" || d.Find("textarea#id_description").AttrOr("maxlength", "") != "200" {
			t.Fatal("stock/description attrs")
		}

		// Invalid: the same messages as the API, values kept, 422.
		bad := []struct {
			name   string
			form   url.Values
			errors map[string]string
		}{
			{"empty", url.Values{"name": {"  "}, "price": {""}, "stock": {""}},
				map[string]string{"name": "is required", "price": "is required"}},
			{"negative", url.Values{"name": {"Lámpara"}, "price": {"-1"}, "stock": {"-2"}},
				map[string]string{"price": "must be 0 or more", "stock": "must be 0 or more"}},
			{"unparsable", url.Values{"name": {strings.Repeat("x", 81)}, "price": {"1.234"}, "stock": {"many"}},
				map[string]string{"name": "must be at most 80 characters", "price": models.ErrMoneyFormat.Error(), "stock": "must be a whole number"}},
		}
		for _, c := range bad {
			resp := b.post("/admin/products/new", c.form)
			wantStatus(t, resp, http.StatusUnprocessableEntity)
			d := parse(t, resp)
			for field, msg := range c.errors {
				in := d.Find("#id_" + field)
				if in.AttrOr("aria-invalid", "") != "true" {
					t.Errorf("%s: %s not marked invalid", c.name, field)
				}
				if got := text(d.Find("#id_" + field + "_error")); !strings.HasSuffix(got, msg+".") {
					t.Errorf("%s: %s error %q, want %q", c.name, field, got, msg)
				}
				if field != "name" || c.name != "empty" {
					if v := in.AttrOr("value", ""); v != c.form.Get(field) {
						t.Errorf("%s: %s value %q not kept (%q)", c.name, field, v, c.form.Get(field))
					}
				}
			}
			// API agreement: the validator gives the same message for the same rule.
			if c.name == "negative" {
				err := models.NewValidator().Struct(&models.Product{Name: "x", Price: models.Cents(-100), Stock: -2})
				if fields, _ := fieldMap(err); fields["price"] != c.errors["price"] {
					t.Fatalf("API message %q differs", fields["price"])
				}
			}
		}

		// Valid, "Save and continue editing".
		resp := b.post("/admin/products/new", url.Values{"name": {"Lámpara"}, "description": {"Luz cálida"}, "price": {"19.99"}, "stock": {"3"}, "_continue": {"1"}})
		wantStatus(t, resp, http.StatusSeeOther)
		var p models.Product
		if err := ts.store.DB.Where("name = ?", "Lámpara").Take(&p).Error; err != nil {
			t.Fatal(err)
		}
		objURL := "/admin/products/" + strconv.FormatInt(p.ID, 10)
		if location(resp) != objURL {
			t.Fatalf("continue went to %q", location(resp))
		}
		d = parse(t, b.get(objURL))
		loaded := d
		if got := text(d.Find(".flash-success")); got != "The product “Lámpara” was added." {
			t.Fatalf("flash %q", got)
		}
		if d.Find(`input[name="version"]`).AttrOr("value", "") != "1" || d.Find("#id_price").AttrOr("value", "") != "19.99" {
			t.Fatal("change form values")
		}
		// The flash is shown once.
		if parse(t, b.get(objURL)).Find(".flash").Length() != 0 {
			t.Fatal("flash shown twice")
		}

		// Someone else saves meanwhile (through the API's store path).
		other := p
		other.Price = models.Cents(2499)
		octx := models.WithActor(context.Background(), models.Actor{Username: "bruno", Source: models.SourceAPI})
		if err := ts.store.Update(octx, &other, 1); err != nil {
			t.Fatal(err)
		}
		// The form as loaded (with its hidden originals), with my changes:
		// the description and the stock; bruno changed only the price.
		mine := formOf(loaded, "form.model-form", map[string][]string{"description": {"Luz fría"}, "stock": {"7"}})
		resp = b.post(objURL, mine)
		wantStatus(t, resp, http.StatusConflict)
		d = parse(t, resp)
		if d.Find(".conflict").Length() != 1 || !strings.Contains(text(d.Find(".conflict")), "bruno") {
			t.Fatalf("conflict panel: %s", text(d.Find("main")))
		}
		rowsOf := map[string]string{}
		d.Find(".conflict tbody tr").Each(func(_ int, r *goquery.Selection) {
			rowsOf[text(r.Find("th"))] = text(r.Find(".yours")) + "|" + text(r.Find(".theirs")) + "|" + text(r.Find(".kept"))
		})
		if rowsOf["Price"] != "19.99|24.99|theirs (you had not changed it)" || !strings.HasPrefix(rowsOf["Stock"], "7|3|yours") {
			t.Fatalf("merge rows %q", rowsOf)
		}
		// The merged form: their price, my stock, the current version; none
		// of the fields was changed by both, so nothing to choose.
		if d.Find("#id_price").AttrOr("value", "") != "24.99" || d.Find("#id_stock").AttrOr("value", "") != "7" ||
			d.Find(`input[name="version"]`).AttrOr("value", "") != "2" || d.Find(".merge-choice").Length() != 0 {
			t.Fatal("conflict form must hold the merged values and carry the current version")
		}
		var still models.Product
		ts.store.DB.Take(&still, p.ID)
		if still.Price.String() != "24.99" || still.Stock != 3 {
			t.Fatalf("the conflicting save overwrote: %+v", still)
		}
		// Saving the merged form keeps both changes.
		resp = b.post(objURL, formOf(d, "form.model-form", nil))
		wantStatus(t, resp, http.StatusSeeOther)
		if location(resp) != "/admin/products" {
			t.Fatalf("save went to %q", location(resp))
		}
		ts.store.DB.Take(&still, p.ID)
		if still.Price.String() != "24.99" || still.Stock != 7 || still.Description != "Luz fría" || still.Version != 3 {
			t.Fatalf("after the merge: %+v", still)
		}
		mine = url.Values{"version": {"3"}, "name": {"Lámpara"}, "description": {"Luz fría"}, "price": {"24.99"}, "stock": {"7"}}
		// A tampered version is a conflict, never an overwrite.
		mine.Set("version", "abc")
		wantStatus(t, b.post(objURL, mine), http.StatusConflict)

		// History: create, API change, admin change; with old → new values.
		d = parse(t, b.get(objURL+"/history"))
		rows := d.Find("table.history tbody tr")
		if rows.Length() != 3 {
			t.Fatalf("history rows: %d", rows.Length())
		}
		latest := rows.First()
		if !strings.Contains(text(latest), "ana") || !strings.Contains(text(latest), "admin") {
			t.Fatalf("latest entry: %s", text(latest))
		}
		changes := map[string]string{}
		latest.Find(".changes div").Each(func(_ int, s *goquery.Selection) {
			changes[text(s.Find("dt"))] = text(s.Find(".old")) + "→" + text(s.Find(".new"))
		})
		want := map[string]string{"Stock": "3→7", "Description": "Luz cálida→Luz fría"}
		if _, had := changes["Price"]; had {
			t.Errorf("the merge reverted bruno's price: %v", changes)
		}
		for k, v := range want {
			if changes[k] != v {
				t.Errorf("history %s: %q, want %q (all: %v)", k, changes[k], v, changes)
			}
		}
		if !strings.Contains(text(rows.Eq(1)), "bruno") || !strings.Contains(text(rows.Eq(1)), "api") {
			t.Fatalf("API change: %s", text(rows.Eq(1)))
		}

		// "Save and add another".
		resp = b.post("/admin/products/new", url.Values{"name": {"Mesa"}, "price": {"80"}, "stock": {"1"}, "_addanother": {"1"}})
		wantStatus(t, resp, http.StatusSeeOther)
		if location(resp) != "/admin/products/new" {
			t.Fatalf("add another went to %q", location(resp))
		}

		// Delete with confirmation; then the object is gone (404) but its history stays.
		d = parse(t, b.get(objURL+"/delete"))
		if !strings.Contains(text(d.Find(".confirm-card")), "“Lámpara”") {
			t.Fatalf("confirmation: %s", text(d.Find("main")))
		}
		resp = b.post(objURL+"/delete", url.Values{"version": {d.Find(`input[name="version"]`).AttrOr("value", "")}})
		wantStatus(t, resp, http.StatusSeeOther)
		d = parse(t, b.get("/admin/products"))
		if text(d.Find(".flash-success")) != "The product “Lámpara” was deleted." {
			t.Fatalf("delete flash: %q", text(d.Find(".flash")))
		}
		wantStatus(t, b.get(objURL), http.StatusNotFound)
		d = parse(t, b.get(objURL+"/history"))
		if d.Find("table.history tbody tr").Length() != 4 || !strings.Contains(text(d.Find("tbody tr").First()), "Deleted") {
			t.Fatalf("history after delete: %s", text(d.Find("main")))
		}
	})
}

func fieldMap(err error) (map[string]string, bool) {
	var ve *models.ValidationError
	if !errors.As(err, &ve) {
		return nil, false
	}
	return ve.Fields, true
}

// seedProducts adds products named by the given names with prices in cents and stock.
func seedProducts(t *testing.T, ts *testServer, rows ...models.Product) []models.Product {
	t.Helper()
	out := make([]models.Product, 0, len(rows))
	for _, r := range rows {
		p := r
		if err := ts.store.Create(context.Background(), &p); err != nil {
			t.Fatalf("seed %s: %v", r.Name, err)
		}
		out = append(out, p)
	}
	return out
}

func listNames(d *goquery.Document) []string {
	var out []string
	d.Find("#changelist tbody tr").Each(func(_ int, r *goquery.Selection) {
		out = append(out, text(r.Find("td").Eq(1)))
	})
	return out
}

func TestAdminListSearchFilterSortAndCSV(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		b := ts.signedIn("ana", false)
		d := parse(t, b.get("/admin/products"))
		if text(d.Find(".empty-state h2")) != "No products yet" || d.Find(`.empty-state a[href="/admin/products/new"]`).Length() != 1 {
			t.Fatalf("empty state: %s", text(d.Find("main")))
		}
		seedProducts(t, ts,
			models.Product{Name: "Lámpara de mesa", Price: models.Cents(1999), Stock: 3},
			models.Product{Name: "Lámpara de pie", Price: models.Cents(8900), Stock: 0},
			models.Product{Name: "Silla", Description: "de madera", Price: models.Cents(4500), Stock: 40},
			models.Product{Name: "=HYPERLINK(\"http://x\")", Description: "@SUM(1)", Price: models.Cents(500), Stock: 12},
			models.Product{Name: "Mesa 100% roble", Price: models.Cents(25000), Stock: 5},
		)
		cases := []struct {
			name  string
			query string
			want  []string
		}{
			{"search", "q=l%C3%A1mpara&o=name", []string{"Lámpara de mesa", "Lámpara de pie"}},
			{"search description", "q=MADERA", []string{"Silla"}},
			{"search escapes LIKE wildcards", "q=100%25", []string{"Mesa 100% roble"}},
			{"search underscore is literal", "q=_", nil},
			{"low stock", "stock=low&o=name", []string{"Lámpara de mesa", "Mesa 100% roble"}},
			{"out of stock", "stock=out", []string{"Lámpara de pie"}},
			{"in stock by price desc", "stock=in&o=-price", []string{"Mesa 100% roble", "Silla", "Lámpara de mesa", "=HYPERLINK(\"http://x\")"}},
			{"price band", "price=10-50&o=price", []string{"Lámpara de mesa", "Silla"}},
			{"price band and search", "price=50-200&q=pie", []string{"Lámpara de pie"}},
			{"sort by stock", "o=stock", []string{"Lámpara de pie", "Lámpara de mesa", "Mesa 100% roble", "=HYPERLINK(\"http://x\")", "Silla"}},
			{"unknown sort and filter values are ignored", "o=password_hash;drop&stock=everything&p=abc",
				[]string{"Mesa 100% roble", "=HYPERLINK(\"http://x\")", "Silla", "Lámpara de pie", "Lámpara de mesa"}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				resp := b.get("/admin/products?" + c.query)
				wantStatus(t, resp, 200)
				got := listNames(parse(t, resp))
				if strings.Join(got, "|") != strings.Join(c.want, "|") {
					t.Fatalf("got %q, want %q", got, c.want)
				}
			})
		}
		// Sort headers link to the reverse order and say which way they sort.
		d = parse(t, b.get("/admin/products?o=price&stock=in"))
		th := d.Find(`th[aria-sort="ascending"]`)
		if text(th) != "Price (EUR)" || th.Find("a").AttrOr("href", "") != "/admin/products?o=-price&stock=in" {
			t.Fatalf("sorted header: %q %q", text(th), th.Find("a").AttrOr("href", ""))
		}
		if text(d.Find(".filters a.active")) != "In stock (4)All" || text(d.Find(".pager .count")) != "1–4 of 4 products" {
			t.Fatalf("filters/count: %q", text(d.Find(".pager .count")))
		}
		d = parse(t, b.get("/admin/products?q=nothing-matches"))
		if text(d.Find(".empty-state h2")) != "No products match" {
			t.Fatalf("no-match state: %s", text(d.Find("main")))
		}

		// CSV: the filtered, sorted list, formulas defused.
		resp := b.get("/admin/products/export.csv?o=price")
		wantStatus(t, resp, 200)
		// Streamed (chunked), not buffered into one body with a length.
		if resp.Header.Get("Content-Length") != "" {
			t.Fatalf("CSV was buffered: Content-Length %s", resp.Header.Get("Content-Length"))
		}
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") || !strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
			t.Fatalf("CSV headers: %v", resp.Header)
		}
		recs, err := csv.NewReader(strings.NewReader(string(resp.Body))).ReadAll()
		if err != nil {
			t.Fatalf("CSV: %v\n%s", err, resp.Body)
		}
		if strings.Join(recs[0], ",") != "id,name,description,price,stock,version,created_at,updated_at" {
			t.Fatalf("CSV header %q", recs[0])
		}
		var names []string
		for _, r := range recs[1:] {
			names = append(names, r[1])
		}
		want := []string{"'=HYPERLINK(\"http://x\")", "Lámpara de mesa", "Silla", "Lámpara de pie", "Mesa 100% roble"}
		if strings.Join(names, "|") != strings.Join(want, "|") {
			t.Fatalf("CSV names %q", names)
		}
		if recs[1][2] != "'@SUM(1)" || recs[1][3] != "5.00" {
			t.Fatalf("CSV row %q", recs[1])
		}
		resp = b.get("/admin/products/export.csv?stock=out")
		recs, _ = csv.NewReader(strings.NewReader(string(resp.Body))).ReadAll()
		if len(recs) != 2 || recs[1][1] != "Lámpara de pie" {
			t.Fatalf("filtered CSV %q", recs)
		}
	})
}

func TestAdminPagination(t *testing.T) {
	ts := newTestServer(t, models.SQLite)
	b := ts.signedIn("ana", false)
	for i := 1; i <= 120; i++ {
		seedProducts(t, ts, models.Product{Name: fmt.Sprintf("P%03d", i), Price: models.Cents(100), Stock: 1})
	}
	d := parse(t, b.get("/admin/products?o=name&p=3"))
	names := listNames(d)
	if len(names) != 20 || names[0] != "P101" {
		t.Fatalf("page 3: %d rows from %v", len(names), names)
	}
	if text(d.Find(".pager .count")) != "101–120 of 120 products" || text(d.Find(".pager .current")) != "3" {
		t.Fatalf("pager: %s", text(d.Find(".pager")))
	}
	if d.Find(`.pager a[rel="prev"]`).AttrOr("href", "") != "/admin/products?o=name&p=2" || d.Find(`.pager a[rel="next"]`).Length() != 0 {
		t.Fatal("prev/next links")
	}
	// Past the end: not an error, and not an empty page beside the total
	// (issue 13): a redirect to the last page.
	r := b.get("/admin/products?p=999")
	wantStatus(t, r, http.StatusSeeOther)
	if location(r) != "/admin/products?p=3" { // 120 products, 50 a page
		t.Fatalf("past the end goes to %q", location(r))
	}
}

func TestAdminBulkDelete(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		b := ts.signedIn("ana", false)
		ps := seedProducts(t, ts,
			models.Product{Name: "Uno", Price: models.Cents(100)},
			models.Product{Name: "Dos", Price: models.Cents(100)},
			models.Product{Name: "Tres", Price: models.Cents(100)},
		)
		b.get("/admin/products")
		ids := []string{strconv.FormatInt(ps[0].ID, 10), strconv.FormatInt(ps[2].ID, 10)}
		resp := b.post("/admin/products/bulk", url.Values{"action": {"delete"}, "ids": ids, "back": {"/admin/products?o=name"}})
		wantStatus(t, resp, 200)
		d := parse(t, resp)
		var doomed []string
		d.Find(".doomed li").Each(func(_ int, s *goquery.Selection) { doomed = append(doomed, s.Text()) })
		if strings.Join(doomed, ",") != "Uno,Tres" {
			t.Fatalf("confirmation lists %q", doomed)
		}
		var n int64
		ts.store.DB.Model(&models.Product{}).Count(&n)
		if n != 3 {
			t.Fatal("deleted before confirmation")
		}
		resp = b.post("/admin/products/bulk", url.Values{"action": {"delete"}, "ids": ids, "confirm": {"yes"}, "back": {"/admin/products?o=name"}})
		wantStatus(t, resp, http.StatusSeeOther)
		if location(resp) != "/admin/products?o=name" {
			t.Fatalf("back to %q", location(resp))
		}
		d = parse(t, b.get(location(resp)))
		if text(d.Find(".flash-success")) != "2 products were deleted." || strings.Join(listNames(d), ",") != "Dos" {
			t.Fatalf("after bulk delete: %q %q", text(d.Find(".flash")), listNames(d))
		}
		// No selection, unknown action, foreign back URL.
		resp = b.post("/admin/products/bulk", url.Values{"action": {"delete"}, "back": {"https://evil.example/"}})
		wantStatus(t, resp, http.StatusSeeOther)
		if location(resp) != "/admin/products" {
			t.Fatalf("foreign back URL followed: %q", location(resp))
		}
		if !strings.Contains(text(parse(t, b.get("/admin/products")).Find(".flash-error")), "Select at least one product") {
			t.Fatal("no-selection message")
		}
		wantStatus(t, b.post("/admin/products/bulk", url.Values{"action": {"explode"}, "ids": {"1"}}), http.StatusSeeOther)
	})
}

func TestAdminUsers(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		root := ts.signedIn("root", true)
		d := parse(t, root.get("/admin/users/new"))
		if _, ok := d.Find("#id_is_active").Attr("checked"); !ok {
			t.Fatal("new users should start active")
		}
		resp := root.post("/admin/users/new", url.Values{"username": {"bea"}, "email": {"not-an-email"}, "is_active": {"on"}, "is_staff": {"on"}, "password": {"short"}})
		wantStatus(t, resp, http.StatusUnprocessableEntity)
		d = parse(t, resp)
		if !strings.Contains(text(d.Find("#id_email_error")), "must be a valid email address") ||
			!strings.Contains(text(d.Find("#id_password_error")), "must be at least 8 characters") {
			t.Fatalf("user errors: %s", text(d.Find(".form-errors")))
		}
		if v := d.Find("#id_password").AttrOr("value", ""); v != "" {
			t.Fatalf("password echoed back: %q", v)
		}
		resp = root.post("/admin/users/new", url.Values{"username": {"bea"}, "email": {"bea@example.com"}, "is_active": {"on"}, "is_staff": {"on"}, "password": {"correct horse battery"}, "_continue": {"1"}})
		wantStatus(t, resp, http.StatusSeeOther)
		userURL := location(resp)
		page := root.get(userURL)
		if strings.Contains(string(page.Body), "argon2id") || strings.Contains(string(page.Body), "correct horse") {
			t.Fatal("the password or its hash is displayed")
		}
		// Duplicate usernames are a field error, not a 500.
		resp = root.post("/admin/users/new", url.Values{"username": {"BEA"}, "is_active": {"on"}, "password": {"another password"}})
		wantStatus(t, resp, http.StatusUnprocessableEntity)
		if !strings.Contains(text(parse(t, resp).Find("#id_username_error")), "already taken") {
			t.Fatal("duplicate username message")
		}

		bea := ts.browser()
		bea.login("bea", "correct horse battery")
		wantStatus(t, bea.get("/admin/products"), 200)
		wantStatus(t, bea.get("/admin/users"), 403)

		// A new password signs out her other sessions; deactivation too.
		version := parse(t, root.get(userURL)).Find(`input[name="version"]`).AttrOr("value", "")
		resp = root.post(userURL, url.Values{"version": {version}, "username": {"bea"}, "email": {"bea@example.com"}, "is_active": {"on"}, "is_staff": {"on"}, "password": {"a brand new password"}})
		wantStatus(t, resp, http.StatusSeeOther)
		wantStatus(t, bea.get("/admin/products"), http.StatusSeeOther)
		bea.login("bea", "a brand new password")
		version = parse(t, root.get(userURL)).Find(`input[name="version"]`).AttrOr("value", "")
		resp = root.post(userURL, url.Values{"version": {version}, "username": {"bea"}, "email": {"bea@example.com"}, "is_staff": {"on"}})
		wantStatus(t, resp, http.StatusSeeOther)
		resp = bea.get("/admin/products")
		wantStatus(t, resp, http.StatusSeeOther)
		if !strings.Contains(location(resp), "expired=1") {
			t.Fatalf("deactivated user sent to %q", location(resp))
		}
		u, _ := ts.store.UserByUsername(context.Background(), "bea")
		if u.IsActive {
			t.Fatal("not deactivated")
		}
		// The unchanged password was kept when the field was left empty.
		if _, err := ts.store.Authenticate(context.Background(), "bea", "a brand new password"); !errors.Is(err, models.ErrInvalidCredentials) {
			t.Fatalf("inactive user authenticated: %v", err)
		}
	})
}

// TestAdminDashboardAtTheBounds: products at the largest price and stock
// the model accepts render the dashboard's stock value exactly (one such
// product alone is worth more than an int64 of cents) on both databases,
// and a product past the bounds is refused by the API.
func TestAdminDashboardAtTheBounds(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		b := ts.signedIn("ana", false)
		token := ts.staffToken("max")
		for i := range 3 {
			r := ts.do("POST", "/api/v1/products", map[string]any{"name": fmt.Sprintf("Max %d", i), "price": "99999999.99", "stock": 1_000_000_000},
				"Authorization", token)
			wantStatus(t, r, 201)
		}
		for _, body := range []map[string]any{
			{"name": "Too dear", "price": "100000000.00", "stock": 1},
			{"name": "Too many", "price": "1.00", "stock": 1_000_000_001},
		} {
			r := ts.do("POST", "/api/v1/products", body, "Authorization", token)
			assertEnvelope(t, r, 422, web.CodeValidation)
		}
		resp := b.get("/admin/")
		wantStatus(t, resp, 200)
		d := parse(t, resp)
		values := map[string]string{}
		d.Find("svg.bar-chart g").Each(func(_ int, g *goquery.Selection) {
			values[g.Find(".bar-label").Text()] = g.Find(".bar-value").Text()
		})
		// 3 × 99,999,999.99 × 1,000,000,000, in whole units, with the currency.
		if got := values["1,000 and more"]; got != "299,999,999,970,000,000 EUR" {
			t.Fatalf("stock value at the bounds %q (%v)", got, values)
		}
		if got := text(d.Find(".model-card .model-count").First()); got != "3" {
			t.Fatalf("count %q", got)
		}
	})
}

func TestAdminDashboard(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		b := ts.signedIn("ana", false)
		seedProducts(t, ts,
			models.Product{Name: "Barato", Price: models.Cents(500), Stock: 4},
			models.Product{Name: "Medio", Price: models.Cents(3000), Stock: 10},
			models.Product{Name: "Caro", Price: models.Cents(150000), Stock: 2},
		)
		d := parse(t, b.get("/admin/"))
		counts := map[string]string{}
		d.Find(".model-card").Each(func(_ int, s *goquery.Selection) {
			counts[text(s.Find(".model-name"))] = text(s.Find(".model-count"))
		})
		if counts["Products"] != "3" || counts["Documents"] != "0" || counts["Users"] != "" {
			t.Fatalf("counts %v", counts)
		}
		var low []string
		d.Find(".low-stock li a").Each(func(_ int, s *goquery.Selection) { low = append(low, s.Text()) })
		if strings.Join(low, ",") != "Caro,Barato" {
			t.Fatalf("low stock %q", low)
		}
		values := map[string]string{}
		d.Find("svg.bar-chart g").Each(func(_ int, g *goquery.Selection) {
			values[g.Find(".bar-label").Text()] = g.Find(".bar-value").Text()
		})
		if len(values) != 5 || values["Under 10"] != "20 EUR" || values["10 – 50"] != "300 EUR" || values["1,000 and more"] != "3,000 EUR" {
			t.Fatalf("chart %v", values)
		}
		if d.Find("svg.bar-chart rect").Length() != 5 {
			t.Fatal("bars")
		}
		recent := d.Find("table.history tbody tr")
		if recent.Length() != 3 || !strings.Contains(text(recent.First()), "Caro") {
			t.Fatalf("recent actions: %s", text(d.Find("table.history")))
		}
	})
}

func TestAdminEscapesUserText(t *testing.T) {
	ts := newTestServer(t, models.SQLite)
	b := ts.signedIn("ana", false)
	evil := `<script>alert(1)</script>`
	b.get("/admin/products/new")
	resp := b.post("/admin/products/new", url.Values{"name": {evil}, "description": {`"><img src=x onerror=alert(2)>`}, "price": {"1"}, "stock": {"1"}, "_continue": {"1"}})
	wantStatus(t, resp, http.StatusSeeOther)
	for _, path := range []string{location(resp), "/admin/products", location(resp) + "/history", "/admin/", "/admin/products?q=" + url.QueryEscape(evil)} {
		resp := b.get(path)
		wantStatus(t, resp, 200)
		d := parse(t, resp)
		d.Find("script").Each(func(_ int, s *goquery.Selection) {
			if strings.Contains(s.Text(), "alert") || s.AttrOr("src", "") == "" {
				t.Fatalf("%s: injected script element", path)
			}
		})
		if d.Find("img[onerror]").Length() != 0 {
			t.Fatalf("%s: injected attribute", path)
		}
		if !strings.Contains(d.Text(), evil) {
			t.Fatalf("%s: the name is not shown as text", path)
		}
	}
}

func TestAdminStaticAssets(t *testing.T) {
	ts := newTestServer(t, models.SQLite)
	d := parse(t, ts.browser().get("/admin/login"))
	var urls []string
	d.Find(`link[rel="stylesheet"], script[src]`).Each(func(_ int, s *goquery.Selection) {
		urls = append(urls, s.AttrOr("href", s.AttrOr("src", "")))
	})
	if len(urls) != 4 {
		t.Fatalf("assets %v", urls)
	}
	for _, u := range urls {
		resp := ts.do("GET", u, nil)
		if resp.Status != 200 || len(resp.Body) < 100 || !strings.Contains(resp.Header.Get("Cache-Control"), "max-age=31536000") {
			t.Fatalf("%s: %d %q", u, resp.Status, resp.Header.Get("Cache-Control"))
		}
	}
	if d.Find("[style]").Length() != 0 || d.Find("style").Length() != 0 {
		t.Fatal("inline style found (the CSP forbids it)")
	}
}

func TestAdminHtmxGetsOnlyTheList(t *testing.T) {
	ts := newTestServer(t, models.SQLite)
	b := ts.signedIn("ana", false)
	seedProducts(t, ts, models.Product{Name: "Lámpara", Price: models.Cents(100)}, models.Product{Name: "Silla", Price: models.Cents(100)})
	req := httptest.NewRequest("GET", "/admin/products?q=silla", nil)
	req.Header.Set("HX-Request", "true")
	req.Header.Set("HX-Target", "changelist")
	resp := b.send(req)
	wantStatus(t, resp, 200)
	d := parse(t, resp)
	if d.Find("header.topbar").Length() != 0 || d.Find("#changelist").Length() != 1 {
		t.Fatalf("fragment: %s", resp.Body)
	}
	if strings.Join(listNames(d), ",") != "Silla" || !strings.Contains(resp.Header.Get("Vary"), "HX-Request") {
		t.Fatalf("fragment rows %q, Vary %q", listNames(d), resp.Header.Get("Vary"))
	}
	// An expired session answers htmx with HX-Redirect, not a login page in the list.
	anon := ts.browser()
	req = httptest.NewRequest("GET", "/admin/products?q=silla", nil)
	req.Header.Set("HX-Request", "true")
	resp = anon.send(req)
	if resp.Header.Get("HX-Redirect") != "/admin/login?next=%2Fadmin%2Fproducts%3Fq%3Dsilla" {
		t.Fatalf("HX-Redirect %q", resp.Header.Get("HX-Redirect"))
	}
}

// TestAdminSessionsInRedis: with REDIS_URL, sessions live in the database
// with a copy in Redis in front of it, so any instance can serve a
// signed-in user and Redis is never the only copy.
func TestAdminSessionsInRedis(t *testing.T) {
	redisURL := redisURL(t)
	one := newTestServer(t, models.SQLite, func(c *config.Config) { c.RedisURL = redisURL })
	pw := one.createUser("ana", true, false)
	b := one.browser()
	b.login("ana", pw)
	// A second instance over the same database and Redis.
	two := &testServer{t: t, dialect: one.dialect}
	srv, err := New(context.Background(), one.srv.cfg, one.srv.db, one.srv.log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	two.srv, two.store = srv, srv.store
	b.ts = two
	wantStatus(t, b.get("/admin/products"), 200)
	var n int64
	one.store.DB.Table("kv").Where("key LIKE ?", "sess:%").Count(&n)
	if n != 1 {
		t.Fatalf("%d session rows in the database, want 1 (the durable copy)", n)
	}
	keys, err := one.srv.redis.Client.Keys(context.Background(), one.srv.cfg.Prod.RedisPrefix+"kv:sess:*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("session copies in Redis: %v %v", keys, err)
	}
}

// TestAdminListTotalsAreExact: totals are counted exactly (within the
// count budget), filtered or not, and the dashboard agrees.
func TestAdminListTotalsAreExact(t *testing.T) {
	ts := newTestServer(t, models.SQLite)
	b := ts.signedIn("ana", false)
	err := ts.store.DB.Exec(`WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < 6000)
INSERT INTO products (name, description, price, stock, version, created_at, updated_at)
SELECT printf('Product %06d', i), '', 100 + i, 1 + i % 50, 1, '2024-01-01 00:00:00', '2024-01-01 00:00:00' FROM seq`).Error
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ query, count string }{
		{"stock=in", "1–50 of 6,000 products"},
		{"", "1–50 of 6,000 products"},
		{"stock=low", "1–50 of 1,080 products"},
	}
	for _, c := range cases {
		d := parse(t, b.get("/admin/products?"+c.query))
		if got := text(d.Find(".pager .count")); got != c.count {
			t.Errorf("%q: count %q, want %q", c.query, got, c.count)
		}
	}
	d := parse(t, b.get("/admin/"))
	if got := text(d.Find(".model-card .model-count").First()); got != "6,000" {
		t.Fatalf("dashboard count %q", got)
	}
}

// TestAdminSessionTimeouts: the idle timeout is the stored session's
// expiry (renewed by each request); the absolute one counts from sign-in.
func TestAdminSessionTimeouts(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		b := ts.signedIn("ana", false)
		wantStatus(t, b.get("/admin/"), 200)
		sid := b.cookies[adminpanel.SessionCookie].Value
		if b.cookies[adminpanel.SessionCookie].MaxAge != int(adminpanel.SessionIdle.Seconds()) {
			t.Fatalf("cookie max-age %d", b.cookies[adminpanel.SessionCookie].MaxAge)
		}
		var row struct {
			Value     []byte
			ExpiresAt int64
		}
		if err := ts.store.DB.Table("kv").Where("key = ?", "sess:"+sid).Take(&row).Error; err != nil {
			t.Fatalf("session row: %v", err)
		}
		if left := time.Until(time.Unix(row.ExpiresAt, 0)); left < adminpanel.SessionIdle-time.Minute || left > adminpanel.SessionIdle+time.Minute {
			t.Fatalf("idle expiry in %s", left)
		}
		// Age the sign-in past the absolute timeout.
		data := map[string]any{}
		if err := gob.NewDecoder(bytes.NewReader(row.Value)).Decode(&data); err != nil {
			t.Fatalf("decode session: %v", err)
		}
		data[adminpanel.SessionLoginAt] = time.Now().Add(-adminpanel.SessionAbsolute - time.Minute).Unix()
		var buf bytes.Buffer
		if err := gob.NewEncoder(&buf).Encode(&data); err != nil {
			t.Fatal(err)
		}
		if err := ts.store.DB.Table("kv").Where("key = ?", "sess:"+sid).Update("value", buf.Bytes()).Error; err != nil {
			t.Fatal(err)
		}
		resp := b.get("/admin/products")
		wantStatus(t, resp, http.StatusSeeOther)
		if location(resp) != "/admin/login?expired=1&next=%2Fadmin%2Fproducts" {
			t.Fatalf("expired session sent to %q", location(resp))
		}
		d := parse(t, b.get(location(resp)))
		if text(d.Find(".flash-info")) != "Your session has expired. Please sign in again." || d.Find(`input[name="next"]`).AttrOr("value", "") != "/admin/products" {
			t.Fatalf("login after expiry: %s", text(d.Find("main")))
		}
		var n int64
		ts.store.DB.Table("kv").Where("key = ?", "sess:"+sid).Count(&n)
		if n != 0 {
			t.Fatal("expired session not destroyed")
		}
	})
}

func TestAdminNoMassAssignment(t *testing.T) {
	ts := newTestServer(t, models.SQLite)
	b := ts.signedIn("ana", false)
	b.get("/admin/products/new")
	resp := b.post("/admin/products/new", url.Values{"name": {"Mesa"}, "price": {"10"}, "stock": {"1"},
		"id": {"4242"}, "version": {"99"}, "created_at": {"2000-01-01 00:00"}, "is_superuser": {"on"}})
	wantStatus(t, resp, http.StatusSeeOther)
	var p models.Product
	if err := ts.store.DB.Take(&p, "name = ?", "Mesa").Error; err != nil {
		t.Fatal(err)
	}
	if p.ID == 4242 || p.Version != 1 || p.CreatedAt.Year() == 2000 {
		t.Fatalf("bookkeeping fields were bound from the form: %+v", p)
	}
	u, _ := ts.store.UserByUsername(context.Background(), "ana")
	if u.IsSuperuser {
		t.Fatal("a foreign field changed the user")
	}
}

func TestAdminDocumentsFilterByUpdatedDate(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		b := ts.signedIn("ana", false)
		ctx := context.Background()
		for _, title := range []string{"Envíos", "Garantía antigua"} {
			if err := ts.store.Create(ctx, &models.Document{Title: title, Content: "Texto de " + title}); err != nil {
				t.Fatal(err)
			}
		}
		old := models.Now().AddDate(-2, 0, 0)
		if err := ts.store.DB.Model(&models.Document{}).Where("title = ?", "Garantía antigua").Update("updated_at", old).Error; err != nil {
			t.Fatal(err)
		}
		cases := []struct{ query, want string }{
			{"updated=today", "Envíos"},
			{"updated=year", "Envíos"},
			{"o=updated_at", "Garantía antigua,Envíos"},
			{"q=garant%C3%ADa", "Garantía antigua"},
			{"", "Envíos,Garantía antigua"},
		}
		for _, c := range cases {
			d := parse(t, b.get("/admin/documents?"+c.query))
			var got []string
			d.Find("#changelist tbody tr td:nth-child(2)").Each(func(_ int, s *goquery.Selection) { got = append(got, text(s.Find("a"))) })
			if strings.Join(got, ",") != c.want {
				t.Errorf("%q: %q, want %q", c.query, got, c.want)
			}
		}
		d := parse(t, b.get("/admin/documents/new"))
		if d.Find("textarea#id_content").AttrOr("maxlength", "") != "1048576" || d.Find("#id_title").AttrOr("maxlength", "") != "200" {
			t.Fatal("document form attributes")
		}
	})
}

func TestAdminSuperuserCannotLockThemselvesOut(t *testing.T) {
	ts := newTestServer(t, models.SQLite)
	root := ts.signedIn("root", true)
	u, _ := ts.store.UserByUsername(context.Background(), "root")
	path := "/admin/users/" + strconv.FormatInt(u.ID, 10)
	root.get(path)
	resp := root.post(path, url.Values{"version": {strconv.FormatInt(u.Version, 10)}, "username": {"root"}, "is_staff": {"on"}, "is_superuser": {"on"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	if !strings.Contains(text(parse(t, resp).Find("#id_is_active_error")), "cannot be removed from your own account") {
		t.Fatalf("no guard: %s", text(parse(t, resp).Find(".form-errors")))
	}
	wantStatus(t, root.get("/admin/"), 200)
}

func TestAdminStaleDeleteIsRefused(t *testing.T) {
	ts := newTestServer(t, models.SQLite)
	b := ts.signedIn("ana", false)
	p := seedProducts(t, ts, models.Product{Name: "Mesa", Price: models.Cents(100)})[0]
	path := "/admin/products/" + strconv.FormatInt(p.ID, 10)
	b.get(path + "/delete")
	changed := p
	changed.Stock = 5
	if err := ts.store.Update(context.Background(), &changed, 1); err != nil {
		t.Fatal(err)
	}
	resp := b.post(path+"/delete", url.Values{"version": {"1"}})
	wantStatus(t, resp, http.StatusSeeOther)
	if location(resp) != path {
		t.Fatalf("stale delete sent to %q", location(resp))
	}
	if !strings.Contains(text(parse(t, b.get(path)).Find(".flash-error")), "was changed by someone else") {
		t.Fatal("no explanation")
	}
	if err := ts.store.Get(context.Background(), &models.Product{}, p.ID); err != nil {
		t.Fatalf("deleted despite the stale version: %v", err)
	}
}

func TestAdminLoginPageWhenSignedIn(t *testing.T) {
	ts := newTestServer(t, models.SQLite)
	b := ts.signedIn("ana", false)
	for _, c := range []struct{ path, want string }{
		{"/admin/login", "/admin/"},
		{"/admin/login?next=%2Fadmin%2Fdocuments", "/admin/documents"},
		{"/admin/login?next=https%3A%2F%2Fevil.example", "/admin/"},
	} {
		resp := b.get(c.path)
		wantStatus(t, resp, http.StatusSeeOther)
		if location(resp) != c.want {
			t.Errorf("%s: to %q, want %q", c.path, location(resp), c.want)
		}
	}
}

func TestAdminDashboardShowsChatUsage(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		auth := ts.staffToken("asker")
		ts.createIndexedDoc(auth, "Return policy", lampDoc)
		if r := ts.do("POST", "/api/v1/chat", map[string]any{"message": "Can I return a lamp?"}, "Authorization", auth); r.Status != 200 {
			t.Fatalf("chat: %d %s", r.Status, r.Body)
		}
		b := ts.signedIn("ana", false)
		d := parse(t, b.get("/admin/"))
		var rows [][]string
		d.Find("h2:contains('Chat usage today')").Parent().Find("tbody tr").Each(func(_ int, tr *goquery.Selection) {
			var cells []string
			tr.Find("td").Each(func(_ int, td *goquery.Selection) { cells = append(cells, text(td)) })
			rows = append(rows, cells)
		})
		if len(rows) != 1 || rows[0][0] != "asker" || rows[0][2] != "1" || rows[0][3] == "0" {
			t.Fatalf("chat usage on the dashboard: %v", rows)
		}
		// The playground is one click away for staff.
		if d.Find(`nav a[href="/admin/chat"]`).Length() == 0 {
			t.Fatal("no link to the chat playground")
		}
		page := parse(t, b.get("/admin/chat"))
		if page.Find("#chat-playground[data-stream-url='/admin/chat/stream']").Length() != 1 || page.Find("#chat-model option").Length() == 0 {
			t.Fatal("the playground page lacks its stream URL or models")
		}
	})
}

func TestAdminDocumentShowsIndexState(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		auth := ts.staffToken("indexer")
		id := ts.createIndexedDoc(auth, "Return policy", lampDoc)
		b := ts.signedIn("ana", false)
		details := func() map[string]string {
			d := parse(t, b.get(fmt.Sprintf("/admin/documents/%d", id)))
			out := map[string]string{}
			sec := d.Find("section.object-details")
			sec.Find("dt").Each(func(i int, dt *goquery.Selection) { out[text(dt)] = text(dt.Next()) })
			if sec.HasClass("object-details-warn") {
				out["warn"] = "yes"
			}
			return out
		}
		got := details()
		if got["State"] != models.IndexIndexed || got["Embedding model"] == "" || got["Dimension"] == "" || got["Chunks"] == "0" || got["warn"] != "" {
			t.Fatalf("index details of an indexed document: %v", got)
		}
		if err := ts.store.DB.Exec("UPDATE document_index SET state = ?, error = ? WHERE document_id = ?", models.IndexFailed, "embedder unreachable", id).Error; err != nil {
			t.Fatal(err)
		}
		got = details()
		if got["State"] != models.IndexFailed || got["Error"] != "embedder unreachable" || got["warn"] != "yes" {
			t.Fatalf("index details of a failed document: %v", got)
		}
	})
}
