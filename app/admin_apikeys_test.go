package app

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"tienda/app/web"
	"tienda/models"
)

// createAdminKey creates a key through the admin form and returns the
// plain key shown on the page.
func createAdminKey(t *testing.T, b *browser, name, scope string) string {
	t.Helper()
	b.get("/admin/api-keys")
	resp := b.post("/admin/api-keys", url.Values{"name": {name}, "scope": {scope}})
	// A redirect: reloading the page after it creates nothing.
	wantStatus(t, resp, http.StatusSeeOther)
	if location(resp) != "/admin/api-keys" {
		t.Fatalf("create redirects to %q", location(resp))
	}
	resp = b.get("/admin/api-keys")
	wantStatus(t, resp, http.StatusOK)
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("the page with the key has Cache-Control %q, want no-store", cc)
	}
	d := parse(t, resp)
	box := d.Find("section.new-key")
	if !strings.Contains(text(box), "Copy it now, it will not be shown again") {
		t.Fatalf("no copy-it-now message: %q", text(box))
	}
	key, _ := box.Find("input#id_new_key").Attr("value")
	if _, ok := models.ParseAPIKeyPrefix(key); !ok {
		t.Fatalf("shown key %q is not a key", key)
	}
	if n := strings.Count(string(resp.Body), key); n != 1 {
		t.Fatalf("the key appears %d times on the page, want 1", n)
	}
	return key
}

// keyRow finds the list row of the key with that name.
func keyRow(d *goquery.Document, name string) *goquery.Selection {
	return d.Find("table.api-keys tbody tr").FilterFunction(func(_ int, s *goquery.Selection) bool {
		return text(s.Find("td.key-name")) == name
	})
}

func TestAdminAPIKeysLifecycle(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		b := ts.signedIn("keyholder", false)

		home := parse(t, b.get("/admin/"))
		if link := home.Find(`aside.sidebar a[href="/admin/api-keys"]`); text(link) != "API keys" {
			t.Fatalf("nav has no API keys entry: %q", text(home.Find("aside.sidebar")))
		}

		keys := map[string]string{
			models.ScopeReadOnly:  createAdminKey(t, b, "stock sync", models.ScopeReadOnly),
			models.ScopeReadWrite: createAdminKey(t, b, "importer", models.ScopeReadWrite),
		}
		if keys[models.ScopeReadOnly] == keys[models.ScopeReadWrite] {
			t.Fatal("two keys are the same")
		}

		// The real API with X-API-Key: the scope decides what is allowed.
		product := `{"name":"Lamp","description":"Brass","price":"19.99","stock":3}`
		for _, tc := range []struct {
			scope, method, body string
			want                int
		}{
			{models.ScopeReadOnly, "GET", "", http.StatusOK},
			{models.ScopeReadOnly, "POST", product, http.StatusForbidden},
			{models.ScopeReadWrite, "GET", "", http.StatusOK},
			{models.ScopeReadWrite, "POST", product, http.StatusCreated},
		} {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			r := ts.do(tc.method, "/api/v1/products", body, web.HeaderAPIKey, keys[tc.scope])
			if r.Status != tc.want {
				t.Errorf("%s key %s: %d, want %d: %s", tc.scope, tc.method, r.Status, tc.want, r.Body)
			}
		}

		// The list: name, scope, prefix, last used; never the key.
		list := b.get("/admin/api-keys")
		wantStatus(t, list, http.StatusOK)
		d := parse(t, list)
		if d.Find("section.new-key").Length() != 0 {
			t.Fatal("the list page shows a new key again")
		}
		if d.Find("table.api-keys th").FilterFunction(func(_ int, s *goquery.Selection) bool { return text(s) == "Owner" }).Length() != 0 {
			t.Fatal("staff see an owner column")
		}
		for scope, key := range keys {
			if strings.Contains(string(list.Body), key) {
				t.Fatalf("the list page contains the %s key", scope)
			}
			prefix, _ := models.ParseAPIKeyPrefix(key)
			name := map[string]string{models.ScopeReadOnly: "stock sync", models.ScopeReadWrite: "importer"}[scope]
			row := keyRow(d, name)
			if row.Length() != 1 {
				t.Fatalf("no row for %q", name)
			}
			if got := text(row.Find("td.key-scope")); got != scope {
				t.Errorf("%s: scope %q", name, got)
			}
			if got := text(row.Find("td.key-prefix")); !strings.HasPrefix(got, models.APIKeyPrefix+prefix) {
				t.Errorf("%s: prefix %q, want %s…", name, got, prefix)
			}
			if got := text(row.Find("td.key-last-used")); got == "never" || !strings.HasSuffix(got, "UTC") {
				t.Errorf("%s: last used %q, want a time", name, got)
			}
			if row.Find(`td.key-actions a[role="button"]`).Length() != 1 {
				t.Errorf("%s: no revoke button", name)
			}
		}

		// Revoke the read-only key: a confirmation first, at a GET URL (a
		// reload shows it again), then the API refuses it.
		row := keyRow(d, "stock sync")
		action, _ := row.Find("td.key-actions a").Attr("href")
		wantStatus(t, b.get(action), http.StatusOK)
		confirm := b.get(action)
		wantStatus(t, confirm, http.StatusOK)
		cd := parse(t, confirm)
		if !strings.Contains(text(cd.Find("article.confirm-card")), "Are you sure you want to revoke") {
			t.Fatalf("no confirmation: %q", text(cd.Find("main")))
		}
		if r := ts.do("GET", "/api/v1/products", nil, web.HeaderAPIKey, keys[models.ScopeReadOnly]); r.Status != http.StatusOK {
			t.Fatalf("key refused before confirming: %d", r.Status)
		}
		done := b.post(action, url.Values{"confirm": {"yes"}})
		wantStatus(t, done, http.StatusSeeOther)
		if location(done) != "/admin/api-keys" {
			t.Fatalf("revoke redirects to %q", location(done))
		}
		after := parse(t, b.get("/admin/api-keys"))
		if !strings.Contains(text(after.Find(".flashes")), "stock sync") {
			t.Errorf("no flash after revoking: %q", text(after.Find(".flashes")))
		}
		revoked := keyRow(after, "stock sync")
		if text(revoked.Find("td.key-revoked")) == "—" || revoked.Find("td.key-actions a").Length() != 0 {
			t.Errorf("revoked row: %q", text(revoked))
		}
		if r := ts.do("GET", "/api/v1/products", nil, web.HeaderAPIKey, keys[models.ScopeReadOnly]); r.Status != http.StatusUnauthorized {
			t.Errorf("revoked key: %d, want 401", r.Status)
		}
		if r := ts.do("GET", "/api/v1/products", nil, web.HeaderAPIKey, keys[models.ScopeReadWrite]); r.Status != http.StatusOK {
			t.Errorf("other key after revoking: %d, want 200", r.Status)
		}

		// Only hashes are stored, and the keys never reach the logs.
		stored, err := ts.store.ListAPIKeys(context.Background(), 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range stored {
			for _, key := range keys {
				if k.KeyHash == key || strings.Contains(k.Name, key) {
					t.Fatal("a plain key is stored")
				}
			}
		}
		for scope, key := range keys {
			if strings.Contains(ts.logs.String(), key) {
				t.Errorf("the %s key is in the server logs", scope)
			}
		}
	})
}

func TestAdminAPIKeysValidation(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		b := ts.signedIn("validator", false)
		b.get("/admin/api-keys")
		for _, tc := range []struct {
			name, keyName, scope string
			field, wantErr       string
		}{
			{"empty name", "", models.ScopeReadOnly, "name", "Enter a name"},
			{"blank name", "   ", models.ScopeReadOnly, "name", "Enter a name"},
			{"name too long", strings.Repeat("n", 101), models.ScopeReadOnly, "name", "at most 100"},
			{"line break", "a\nb", models.ScopeReadWrite, "name", "line breaks"},
			{"unknown scope", "ok", "admin", "scope", "read-only or read-write"},
			{"missing scope", "ok", "", "scope", "read-only or read-write"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				resp := b.post("/admin/api-keys", url.Values{"name": {tc.keyName}, "scope": {tc.scope}})
				wantStatus(t, resp, http.StatusUnprocessableEntity)
				d := parse(t, resp)
				if got := text(d.Find("#id_" + tc.field + "_error")); !strings.Contains(got, tc.wantErr) {
					t.Errorf("%s error %q, want %q", tc.field, got, tc.wantErr)
				}
				if v, _ := d.Find("#id_" + tc.field).Attr("aria-invalid"); v != "true" {
					t.Errorf("%s not marked invalid", tc.field)
				}
				if got, _ := d.Find("#id_name").Attr("value"); got != strings.TrimSpace(tc.keyName) {
					t.Errorf("name not kept: %q", got)
				}
				if d.Find("section.new-key").Length() != 0 {
					t.Error("a key was shown")
				}
			})
		}
		// The chosen scope is kept when only the name is wrong.
		resp := b.post("/admin/api-keys", url.Values{"name": {strings.Repeat("x", 101)}, "scope": {models.ScopeReadWrite}})
		wantStatus(t, resp, http.StatusUnprocessableEntity)
		if v, _ := parse(t, resp).Find(`#id_scope option[selected]`).Attr("value"); v != models.ScopeReadWrite {
			t.Errorf("scope not kept: %q", v)
		}
		keys, err := ts.store.ListAPIKeys(context.Background(), 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != 0 {
			t.Fatalf("%d keys created by invalid forms", len(keys))
		}
	})
}

func TestAdminAPIKeysCSRFAndOwnership(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		ana := ts.signedIn("ana", false)
		bob := ts.signedIn("bob", false)
		root := ts.signedIn("root", true)
		anaKey := createAdminKey(t, ana, "ana's key", models.ScopeReadWrite)
		createAdminKey(t, bob, "bob's key", models.ScopeReadOnly)

		all, err := ts.store.ListAPIKeys(context.Background(), 0)
		if err != nil {
			t.Fatal(err)
		}
		ids := map[string]int64{}
		for _, k := range all {
			ids[k.Name] = k.ID
		}
		revoke := func(name string) string { return "/admin/api-keys/" + strconv.FormatInt(ids[name], 10) + "/revoke" }

		for _, tc := range []struct {
			name string
			b    *browser
			path string
			form url.Values
			want int
		}{
			{"create without CSRF", ana, "/admin/api-keys", url.Values{"_csrf": {"-"}, "name": {"x"}, "scope": {models.ScopeReadOnly}}, http.StatusForbidden},
			{"create with a wrong CSRF token", ana, "/admin/api-keys", url.Values{"_csrf": {"forged"}, "name": {"x"}, "scope": {models.ScopeReadOnly}}, http.StatusForbidden},
			{"revoke without CSRF", ana, revoke("ana's key"), url.Values{"_csrf": {"-"}, "confirm": {"yes"}}, http.StatusForbidden},
			{"staff asks to revoke another's key", bob, revoke("ana's key"), nil, http.StatusNotFound},
			{"staff revokes another's key", bob, revoke("ana's key"), url.Values{"confirm": {"yes"}}, http.StatusNotFound},
			{"unknown key", ana, "/admin/api-keys/999999/revoke", url.Values{"confirm": {"yes"}}, http.StatusNotFound},
			{"malformed id", ana, "/admin/api-keys/abc/revoke", url.Values{"confirm": {"yes"}}, http.StatusNotFound},
		} {
			t.Run(tc.name, func(t *testing.T) {
				tc.b.get("/admin/api-keys")
				wantStatus(t, tc.b.post(tc.path, tc.form), tc.want)
			})
		}
		if r := ts.do("GET", "/api/v1/products", nil, web.HeaderAPIKey, anaKey); r.Status != http.StatusOK {
			t.Fatalf("ana's key after refused revocations: %d", r.Status)
		}
		keys, err := ts.store.ListAPIKeys(context.Background(), 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != 2 {
			t.Fatalf("%d keys, want 2 (a refused create must not create)", len(keys))
		}

		// Staff see only their own keys; a superuser sees everyone's with the owner.
		bobList := parse(t, bob.get("/admin/api-keys"))
		if keyRow(bobList, "ana's key").Length() != 0 || keyRow(bobList, "bob's key").Length() != 1 {
			t.Fatalf("bob's list: %q", text(bobList.Find("table.api-keys")))
		}
		rootList := parse(t, root.get("/admin/api-keys"))
		if got := text(keyRow(rootList, "ana's key").Find("td.key-owner")); got != "ana" {
			t.Fatalf("owner column: %q", got)
		}
		if got := text(keyRow(rootList, "bob's key").Find("td.key-owner")); got != "bob" {
			t.Fatalf("owner column: %q", got)
		}

		// A superuser may revoke anyone's key; the confirmation names the owner.
		root.get("/admin/api-keys")
		confirm := root.post(revoke("ana's key"), nil)
		wantStatus(t, confirm, http.StatusOK)
		if got := text(parse(t, confirm).Find("article.confirm-card")); !strings.Contains(got, "ana") {
			t.Fatalf("confirmation does not name the owner: %q", got)
		}
		wantStatus(t, root.post(revoke("ana's key"), url.Values{"confirm": {"yes"}}), http.StatusSeeOther)
		if r := ts.do("GET", "/api/v1/products", nil, web.HeaderAPIKey, anaKey); r.Status != http.StatusUnauthorized {
			t.Fatalf("ana's key after a superuser revoked it: %d, want 401", r.Status)
		}
		// Revoking twice is harmless.
		wantStatus(t, root.post(revoke("ana's key"), url.Values{"confirm": {"yes"}}), http.StatusSeeOther)
	})
}

func TestAdminAPIKeysRequireSignIn(t *testing.T) {
	ts := newTestServer(t, models.SQLite)
	r := ts.browser().get("/admin/api-keys")
	wantStatus(t, r, http.StatusSeeOther)
	if !strings.HasPrefix(location(r), "/admin/login") {
		t.Fatalf("redirects to %q", location(r))
	}
}

// TestAdminAPIKeyShownOnceAndExpiry: creating a key redirects; the key is
// shown on the next page only (a reload shows it no more and creates
// nothing); an optional expiry date is kept and a past one refused.
func TestAdminAPIKeyShownOnceAndExpiry(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		b := ts.signedIn("kim", false)
		key := createAdminKey(t, b, "nightly", models.ScopeReadOnly)
		reload := b.get("/admin/api-keys")
		wantStatus(t, reload, http.StatusOK)
		if strings.Contains(string(reload.Body), key) || parse(t, reload).Find("section.new-key").Length() != 0 {
			t.Fatal("the key is shown again after a reload")
		}
		if n := len(mustKeys(t, ts)); n != 1 {
			t.Fatalf("%d keys after a reload, want 1", n)
		}
		if copyBtn := parse(t, b.get("/admin/api-keys")).Find(`button[data-copy]`); copyBtn.Length() != 0 {
			t.Fatal("a copy button without a key")
		}
		// The session holds the key only sealed, and only until shown.
		var rows []struct{ Value []byte }
		ts.srv.db.Raw("SELECT value FROM kv WHERE key LIKE 'sess:%'").Scan(&rows)
		for _, r := range rows {
			if strings.Contains(string(r.Value), key) {
				t.Fatal("the plain key is in a session row")
			}
		}

		day := time.Now().UTC().AddDate(0, 0, 30).Format("2006-01-02")
		resp := b.post("/admin/api-keys", url.Values{"name": {"expiring"}, "scope": {models.ScopeReadOnly}, "expires": {day}})
		wantStatus(t, resp, http.StatusSeeOther)
		page := parse(t, b.get("/admin/api-keys"))
		if page.Find(`section.new-key button[data-copy="#id_new_key"]`).Length() != 1 {
			t.Fatal("no copy button beside the new key")
		}
		if got := text(keyRow(page, "expiring").Find("td.key-expires")); !strings.Contains(got, day) {
			t.Fatalf("expiry shown %q, want %s", got, day)
		}
		for _, k := range mustKeys(t, ts) {
			if k.Name == "expiring" && (k.ExpiresAt == nil || k.ExpiresAt.UTC().Format("2006-01-02") != time.Now().UTC().AddDate(0, 0, 31).Format("2006-01-02")) {
				t.Fatalf("stored expiry %v: the key works through %s", k.ExpiresAt, day)
			}
		}
		past := time.Now().UTC().AddDate(0, 0, -1).Format("2006-01-02")
		resp = b.post("/admin/api-keys", url.Values{"name": {"stale"}, "scope": {models.ScopeReadOnly}, "expires": {past}})
		wantStatus(t, resp, http.StatusUnprocessableEntity)
		if !strings.Contains(text(parse(t, resp).Find("#id_expires_error")), "today or later") {
			t.Fatal("no message for a past expiry")
		}
	})
}

func mustKeys(t *testing.T, ts *testServer) []models.APIKey {
	t.Helper()
	keys, err := ts.store.ListAPIKeys(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}
