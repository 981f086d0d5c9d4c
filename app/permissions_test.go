package app

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"tienda/models"
)

// TestPermissionMatrix: one permission check decides the admin and the
// API. A clerk holding change_product only may edit stock but neither add
// nor delete; an editor of documents cannot see products; a superuser may
// do everything; each refusal names the missing permission.
func TestPermissionMatrix(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		ctx := context.Background()
		p := &models.Product{Name: "Lámpara", Price: models.Cents(1999), Stock: 3}
		d := &models.Document{Title: "Devoluciones", Content: "30 días."}
		for _, rec := range []models.Entity{p, d} {
			if err := ts.store.Create(ctx, rec); err != nil {
				t.Fatal(err)
			}
		}
		pid, did := strconv.FormatInt(p.ID, 10), strconv.FormatInt(d.ID, 10)

		clerkPW := ts.createStaff("clerk", "change_product")
		editorPW := ts.createStaff("editor", "view_document", "add_document", "change_document", "delete_document")
		ts.createUser("root", true, true)
		clerk, editor, root := ts.browser(), ts.browser(), ts.browser()
		clerk.login("clerk", clerkPW)
		editor.login("editor", editorPW)
		root.login("root", "pw-root-0123456789")
		token := func(user, pw string) string { return "Bearer " + ts.login(user, pw).AccessToken }
		clerkAPI, editorAPI, rootAPI := token("clerk", clerkPW), token("editor", editorPW), token("root", "pw-root-0123456789")

		refused := func(t *testing.T, r *testResponse, codename string) {
			t.Helper()
			wantStatus(t, r, http.StatusForbidden)
			if !strings.Contains(string(r.Body), codename) {
				t.Fatalf("the 403 does not name %s: %.400s", codename, r.Body)
			}
		}
		version := func(b *browser, path string) string {
			t.Helper()
			return parse(t, b.get(path)).Find(`input[name="version"]`).AttrOr("value", "")
		}

		t.Run("clerk in the admin", func(t *testing.T) {
			list := clerk.get("/admin/products")
			wantStatus(t, list, 200)
			ld := parse(t, list)
			if ld.Find(`a[href="/admin/products/new"]`).Length() != 0 || ld.Find(`#bulk-form select[name="action"]`).Length() != 0 {
				t.Fatal("the clerk is offered add or bulk delete")
			}
			if ld.Find(`.sidebar a[href="/admin/documents"]`).Length() != 0 || ld.Find(`.sidebar a[href="/admin/users"]`).Length() != 0 {
				t.Fatal("the clerk's sidebar shows models it may not see")
			}
			form := parse(t, clerk.get("/admin/products/"+pid))
			if form.Find(`button[name="_save"]`).Length() != 1 || form.Find(".delete-link").Length() != 0 {
				t.Fatal("the clerk's form: want Save and no Delete")
			}
			resp := clerk.post("/admin/products/"+pid, url.Values{"version": {version(clerk, "/admin/products/"+pid)},
				"name": {"Lámpara"}, "price": {"19.99"}, "stock": {"12"}, "description": {""}})
			wantStatus(t, resp, http.StatusSeeOther)
			var got models.Product
			ts.store.DB.Take(&got, p.ID)
			if got.Stock != 12 {
				t.Fatalf("stock %d after the clerk's edit", got.Stock)
			}
			refused(t, clerk.get("/admin/products/"+pid+"/delete"), "delete_product")
			refused(t, clerk.post("/admin/products/"+pid+"/delete", url.Values{"version": {strconv.FormatInt(got.Version, 10)}}), "delete_product")
			refused(t, clerk.post("/admin/products/bulk", url.Values{"action": {"delete"}, "ids": {pid}, "confirm": {"yes"}}), "delete_product")
			refused(t, clerk.get("/admin/products/new"), "add_product")
			refused(t, clerk.get("/admin/documents"), "view_document")
			refused(t, clerk.get("/admin/users"), "view_user")
			if err := ts.store.Get(ctx, &models.Product{}, p.ID); err != nil {
				t.Fatalf("the product is gone: %v", err)
			}
		})
		t.Run("clerk in the API", func(t *testing.T) {
			wantStatus(t, ts.do("GET", "/api/v1/products/"+pid, nil, "Authorization", clerkAPI), 200)
			var cur models.Product
			ts.store.DB.Take(&cur, p.ID)
			r := ts.do("PATCH", "/api/v1/products/"+pid, `{"stock":20}`, "Authorization", clerkAPI, "If-Match", `"`+strconv.FormatInt(cur.Version, 10)+`"`)
			wantStatus(t, r, 200)
			refused(t, ts.do("DELETE", "/api/v1/products/"+pid, nil, "Authorization", clerkAPI, "If-Match", `"`+strconv.FormatInt(cur.Version+1, 10)+`"`), "delete_product")
			refused(t, ts.do("POST", "/api/v1/products", `{"name":"X","price":"1.00","stock":1}`, "Authorization", clerkAPI), "add_product")
			refused(t, ts.do("GET", "/api/v1/documents", nil, "Authorization", clerkAPI), "view_document")
			// GraphQL: the same check.
			del := ts.gql([]string{"Authorization", clerkAPI}, `mutation { deleteProduct(id: "`+pid+`", expectedVersion: 99) }`, nil)
			if e := del.refused(t, "FORBIDDEN", ""); !strings.Contains(e.Extensions.Detail, "delete_product") {
				t.Fatalf("GraphQL refusal %+v", e)
			}
			// An API key of the clerk: its scope bounds its owner's rights.
			ro := ts.newAPIKey(clerkAPI, "reporting", models.ScopeReadOnly)
			rw := ts.newAPIKey(clerkAPI, "stock sync", models.ScopeReadWrite)
			ts.store.DB.Take(&cur, p.ID)
			ifMatch := `"` + strconv.FormatInt(cur.Version, 10) + `"`
			if r := ts.do("PATCH", "/api/v1/products/"+pid, `{"stock":21}`, "X-API-Key", ro, "If-Match", ifMatch); r.Status != 403 || !strings.Contains(string(r.Body), "read-only") {
				t.Fatalf("read-only key wrote: %d %s", r.Status, r.Body)
			}
			wantStatus(t, ts.do("PATCH", "/api/v1/products/"+pid, `{"stock":21}`, "X-API-Key", rw, "If-Match", ifMatch), 200)
			refused(t, ts.do("DELETE", "/api/v1/products/"+pid, nil, "X-API-Key", rw), "delete_product")
		})
		t.Run("editor of documents", func(t *testing.T) {
			refused(t, editor.get("/admin/products"), "view_product")
			refused(t, editor.get("/admin/products/"+pid), "view_product")
			wantStatus(t, editor.get("/admin/documents"), 200)
			dash := parse(t, editor.get("/admin/"))
			if dash.Find(`.sidebar a[href="/admin/products"]`).Length() != 0 || dash.Find("svg.bar-chart").Length() != 0 {
				t.Fatal("the editor's dashboard shows products")
			}
			resp := editor.post("/admin/documents/"+did, url.Values{"version": {version(editor, "/admin/documents/"+did)}, "title": {"Devoluciones"}, "content": {"60 días."}})
			wantStatus(t, resp, http.StatusSeeOther)
			refused(t, ts.do("GET", "/api/v1/products", nil, "Authorization", editorAPI), "view_product")
			refused(t, ts.do("GET", "/api/v1/products/"+pid, nil, "Authorization", editorAPI), "view_product")
			wantStatus(t, ts.do("GET", "/api/v1/documents/"+did, nil, "Authorization", editorAPI), 200)
			ts.gql([]string{"Authorization", editorAPI}, `{ products { total } }`, nil).refused(t, "FORBIDDEN", "")
		})
		t.Run("superuser", func(t *testing.T) {
			for _, path := range []string{"/admin/products/new", "/admin/users", "/admin/groups", "/admin/groups/new", "/admin/documents/" + did} {
				wantStatus(t, root.get(path), 200)
			}
			var cur models.Product
			ts.store.DB.Take(&cur, p.ID)
			wantStatus(t, root.post("/admin/products/"+pid+"/delete", url.Values{"version": {strconv.FormatInt(cur.Version, 10)}}), http.StatusSeeOther)
			r := ts.do("POST", "/api/v1/products", `{"name":"Y","price":"2.00","stock":1}`, "Authorization", rootAPI)
			wantStatus(t, r, 201)
			wantStatus(t, ts.do("DELETE", r.Header.Get("Location"), nil, "Authorization", rootAPI, "If-Match", `"1"`), 204)
		})
	})
}

// TestAdminGroupsAndUserPermissions: a superuser makes a group in the
// admin and gives it to a user on the users page; the rights apply at once
// (admin and API), the user's history records the change, and only a
// superuser may grant rights.
func TestAdminGroupsAndUserPermissions(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		root := ts.signedIn("root", true)
		pw := ts.createStaff("pia")
		pia := ts.browser()
		pia.login("pia", pw)
		refused := func(r *testResponse, codename string) {
			t.Helper()
			wantStatus(t, r, http.StatusForbidden)
			if !strings.Contains(string(r.Body), codename) {
				t.Fatalf("403 without %s", codename)
			}
		}
		refused(pia.get("/admin/products"), "view_product")

		// The group form: permissions as checkboxes grouped by model.
		gf := parse(t, root.get("/admin/groups/new"))
		if n := gf.Find(`input[type="checkbox"][name="permissions"]`).Length(); n != len(models.Permissions()) {
			t.Fatalf("%d permission checkboxes, want %d", n, len(models.Permissions()))
		}
		if titles := text(gf.Find(".checkbox-group-title")); !strings.Contains(titles, "Product") || !strings.Contains(titles, "Document") {
			t.Fatalf("groups of the checkboxes: %q", titles)
		}
		resp := root.post("/admin/groups/new", url.Values{"name": {"Clerks"}, "permissions": {"view_product", "change_product"}, "_continue": {"1"}})
		wantStatus(t, resp, http.StatusSeeOther)
		groupURL := location(resp)
		if checked := parse(t, root.get(groupURL)).Find(`input[name="permissions"][checked]`); checked.Length() != 2 {
			t.Fatalf("%d permissions checked on the saved group", checked.Length())
		}
		// An unknown codename is a field error, not a 500.
		resp = root.post("/admin/groups/new", url.Values{"name": {"Bad"}, "permissions": {"fly_product"}})
		wantStatus(t, resp, http.StatusUnprocessableEntity)
		g, err := ts.store.GroupByName(context.Background(), "Clerks")
		if err != nil {
			t.Fatal(err)
		}
		gid := strconv.FormatInt(g.ID, 10)

		var u models.User
		ts.store.DB.Where("username = ?", "pia").Take(&u)
		userURL := "/admin/users/" + strconv.FormatInt(u.ID, 10)
		uf := parse(t, root.get(userURL))
		if uf.Find(`input[name="groups"][value="`+gid+`"]`).Length() != 1 || uf.Find(`input[name="user_permissions"][value="view_document"]`).Length() != 1 {
			t.Fatal("the user form lacks the group or permission checkboxes")
		}
		ver := uf.Find(`input[name="version"]`).AttrOr("value", "")
		resp = root.post(userURL, url.Values{"version": {ver}, "username": {"pia"}, "email": {"pia@example.com"}, "is_active": {"on"},
			"is_staff": {"on"}, "groups": {gid}, "user_permissions": {"view_document"}})
		wantStatus(t, resp, http.StatusSeeOther)
		wantStatus(t, pia.get("/admin/products"), 200)
		wantStatus(t, pia.get("/admin/documents"), 200)
		refused(pia.get("/admin/products/new"), "add_product")
		token := "Bearer " + ts.login("pia", pw).AccessToken
		wantStatus(t, ts.do("GET", "/api/v1/products", nil, "Authorization", token), 200)
		hist := text(parse(t, root.get(userURL+"/history")).Find("table.history"))
		if !strings.Contains(hist, "Groups") || !strings.Contains(hist, "view_document") {
			t.Fatalf("the history does not show the rights changing: %q", hist)
		}

		// A staff user allowed to change users cannot grant rights: the
		// fields are read-only for it and ignored if posted.
		mgrPW := ts.createStaff("mgr", "view_user", "change_user")
		mgr := ts.browser()
		mgr.login("mgr", mgrPW)
		mf := parse(t, mgr.get(userURL))
		if mf.Find(`input[name="groups"], input[name="user_permissions"], input[name="is_superuser"]`).Length() != 0 {
			t.Fatal("a non-superuser is offered to grant rights")
		}
		var me models.User
		ts.store.DB.Where("username = ?", "mgr").Take(&me)
		meURL := "/admin/users/" + strconv.FormatInt(me.ID, 10)
		ver = parse(t, mgr.get(meURL)).Find(`input[name="version"]`).AttrOr("value", "")
		resp = mgr.post(meURL, url.Values{"version": {ver}, "username": {"mgr"}, "email": {"m@example.com"}, "is_active": {"on"},
			"is_staff": {"on"}, "is_superuser": {"on"}, "user_permissions": {"delete_product"}, "groups": {gid}})
		wantStatus(t, resp, http.StatusSeeOther)
		ts.store.DB.Take(&me, me.ID)
		if err := ts.store.LoadPermissions(context.Background(), &me); err != nil {
			t.Fatal(err)
		}
		if me.IsSuperuser || me.Perms.Has("delete_product") || me.Perms.Has("change_product") || me.Email != "m@example.com" {
			t.Fatalf("a non-superuser granted itself rights: super=%v perms=%v", me.IsSuperuser, me.Perms.Sorted())
		}
	})
}

// TestNewStaffJoinsStaffGroup: a staff user added in the admin with no
// group or permission chosen gets today's staff rights (the Staff group).
func TestNewStaffJoinsStaffGroup(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		root := ts.signedIn("root", true)
		root.get("/admin/users/new")
		resp := root.post("/admin/users/new", url.Values{"username": {"sam"}, "is_active": {"on"}, "is_staff": {"on"}, "password": {"correct horse battery"}})
		wantStatus(t, resp, http.StatusSeeOther)
		u, err := ts.store.UserByUsername(context.Background(), "sam")
		if err != nil {
			t.Fatal(err)
		}
		if err := ts.store.LoadPermissions(context.Background(), u); err != nil {
			t.Fatal(err)
		}
		for _, code := range []string{"view_product", "add_product", "change_product", "delete_product", "change_document", "view_chat"} {
			if !u.Perms.Has(code) {
				t.Fatalf("new staff user lacks %s: %v", code, u.Perms.Sorted())
			}
		}
		if u.Perms.Has("view_user") {
			t.Fatal("new staff user may view users")
		}
	})
}
