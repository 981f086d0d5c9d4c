package admin_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"
	"gorm.io/gorm"

	"tienda/app/admin"
	"tienda/models"
	"tienda/models/testdb"
	"tienda/views"
)

// Widget is a test-only model: it proves that a new model costs the
// struct, its table and a short registration.
type Widget struct {
	models.Base
	Name   string       `json:"name" validate:"required,max=40,singleline"`
	Notes  string       `json:"notes" validate:"max=500,text"`
	Qty    int64        `json:"qty" validate:"gte=0,lte=999"`
	Price  models.Money `json:"price" validate:"required,gte=0"`
	Active bool         `json:"active"`
}

func (w *Widget) String() string { return w.Name }

var widgetDDL = map[string]string{
	models.SQLite: `CREATE TABLE widgets (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, notes TEXT NOT NULL DEFAULT '',
		qty INTEGER NOT NULL DEFAULT 0, price INTEGER, active BOOLEAN NOT NULL DEFAULT 0, version INTEGER NOT NULL DEFAULT 1,
		created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL)`,
	models.Postgres: `CREATE TABLE widgets (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL, notes TEXT NOT NULL DEFAULT '',
		qty BIGINT NOT NULL DEFAULT 0, price NUMERIC(12,2), active BOOLEAN NOT NULL DEFAULT FALSE, version BIGINT NOT NULL DEFAULT 1,
		created_at TIMESTAMPTZ NOT NULL, updated_at TIMESTAMPTZ NOT NULL)`,
}

// harness mounts a site on a bare Fiber app; the signed-in user comes
// from a test header (sessions are the server's business, tested in app/).
type harness struct {
	t       testing.TB
	app     *fiber.App
	store   *models.Store
	flashes []views.Flash
}

func newHarness(t testing.TB, dialect string, register func(*admin.Site) error) *harness {
	t.Helper()
	db := testdb.Open(t, dialect)
	if err := db.Exec(widgetDDL[dialect]).Error; err != nil {
		t.Fatalf("create widgets: %v", err)
	}
	h := &harness{t: t, store: models.NewStore(db)}
	users := map[string]*models.User{
		"root": {ID: 1, Username: "root", IsActive: true, IsStaff: true, IsSuperuser: true},
		// Permissions are data: this staff user holds view_widget only.
		"staff": {ID: 2, Username: "staff", IsActive: true, IsStaff: true, Perms: models.NewPermSet("view_widget")},
	}
	site := admin.NewSite("/admin", h.store, admin.Hooks{
		User: func(c *fiber.Ctx) *models.User { return users[c.Get("X-Test-User")] },
		Page: func(c *fiber.Ctx, title string, crumbs ...views.Crumb) views.Page {
			p := views.Page{Title: title, User: c.Get("X-Test-User"), Crumbs: crumbs, Flashes: h.flashes}
			h.flashes = nil
			return p
		},
		Flash: func(_ *fiber.Ctx, level, msg string) {
			h.flashes = append(h.flashes, views.Flash{Level: level, Message: msg})
		},
		Render: func(c *fiber.Ctx, status int, comp templ.Component) error {
			c.Status(status).Type("html", "utf-8")
			return comp.Render(c.UserContext(), c.Response().BodyWriter())
		},
	})
	if err := register(site); err != nil {
		t.Fatalf("register: %v", err)
	}
	h.app = fiber.New(fiber.Config{ErrorHandler: func(c *fiber.Ctx, err error) error {
		var fe *fiber.Error
		if errors.As(err, &fe) {
			return c.Status(fe.Code).SendString(fe.Message)
		}
		var pd *models.PermissionDenied
		if errors.As(err, &pd) {
			return c.Status(403).SendString(pd.Error())
		}
		return c.Status(500).SendString(err.Error())
	}})
	g := h.app.Group("/admin")
	g.Get("/:model", site.List)
	g.Get("/:model/new", site.AddForm)
	g.Post("/:model/new", site.Create)
	g.Get("/:model/export.csv", site.Export)
	g.Post("/:model/bulk", site.Bulk)
	g.Get("/:model/:id", site.ChangeForm)
	g.Post("/:model/:id", site.Update)
	g.Get("/:model/:id/delete", site.DeleteForm)
	g.Post("/:model/:id/delete", site.Delete)
	g.Get("/:model/:id/history", site.History)
	return h
}

type resp struct {
	status int
	loc    string
	body   []byte
	ctype  string
}

func (h *harness) do(user, method, path string, form url.Values) resp {
	h.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("X-Test-User", user)
	r, err := h.app.Test(req, -1)
	if err != nil {
		h.t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return resp{status: r.StatusCode, loc: r.Header.Get("Location"), body: b, ctype: r.Header.Get("Content-Type")}
}

func (r resp) doc(t *testing.T) *goquery.Document {
	t.Helper()
	d, err := goquery.NewDocumentFromReader(bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func squash(s string) string { return strings.Join(strings.Fields(s), " ") }

func registerWidgets(site *admin.Site) error {
	return admin.Register[Widget](site, admin.Options[Widget]{
		ListDisplay:  []string{"name", "qty", "price", "active"},
		SearchFields: []string{"name", "notes"},
		Filters: []admin.Filter{{Name: "active", Title: "state", Choices: []admin.Choice{
			{Value: "yes", Label: "Active", Scope: func(db *gorm.DB) *gorm.DB { return db.Where("active = ?", true) }},
			{Value: "no", Label: "Inactive", Scope: func(db *gorm.DB) *gorm.DB { return db.Where("active = ?", false) }},
		}}},
		Ordering:  []string{"name"},
		Fieldsets: []admin.Fieldset{{Title: "Widget", Fields: []string{"name", "notes", "qty", "price", "active"}}},
		PerPage:   2,
	})
}

func TestTestOnlyModelGetsEveryPage(t *testing.T) {
	for _, dialect := range testdb.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			h := newHarness(t, dialect, registerWidgets)
			d := h.do("root", "GET", "/admin/widgets", nil).doc(t)
			if squash(d.Find(".empty-state h2").Text()) != "No widgets yet" {
				t.Fatalf("empty list: %s", d.Find("main").Text())
			}
			d = h.do("root", "GET", "/admin/widgets/new", nil).doc(t)
			if d.Find("#id_qty").AttrOr("max", "") != "999" || d.Find("textarea#id_notes").Length() != 1 || d.Find(`#id_active[type="checkbox"]`).Length() != 1 {
				t.Fatal("form widgets and attributes from the tags")
			}
			r := h.do("root", "POST", "/admin/widgets/new", url.Values{"name": {""}, "qty": {"1000"}, "price": {"2"}})
			if r.status != 422 {
				t.Fatalf("invalid widget: %d", r.status)
			}
			d = r.doc(t)
			if squash(d.Find("#id_qty_error").Text()) != "Qty must be 999 or less." || squash(d.Find("#id_name_error").Text()) != "Name is required." {
				t.Fatalf("errors: %s", squash(d.Find(".form-errors").Text()))
			}
			for _, w := range []url.Values{
				{"name": {"Gear"}, "qty": {"5"}, "price": {"2.50"}, "active": {"on"}},
				{"name": {"Bolt"}, "notes": {"steel"}, "qty": {"50"}, "price": {"0.10"}},
				{"name": {"Axle"}, "qty": {"1"}, "price": {"12"}, "active": {"on"}, "_continue": {"1"}},
			} {
				if r := h.do("root", "POST", "/admin/widgets/new", w); r.status != 303 {
					t.Fatalf("create %s: %d %s", w.Get("name"), r.status, r.body)
				}
			}
			d = h.do("root", "GET", "/admin/widgets", nil).doc(t)
			var names []string
			d.Find("tbody tr td:nth-child(2)").Each(func(_ int, s *goquery.Selection) { names = append(names, squash(s.Text())) })
			if strings.Join(names, ",") != "Axle,Bolt" || squash(d.Find(".pager .count").Text()) != "1–2 of 3 widgets" {
				t.Fatalf("page 1: %v, %q", names, squash(d.Find(".pager .count").Text()))
			}
			d = h.do("root", "GET", "/admin/widgets?active=yes&o=-qty", nil).doc(t)
			if squash(d.Find("tbody tr td:nth-child(2)").First().Text()) != "Gear" {
				t.Fatal("filter and sort")
			}
			d = h.do("root", "GET", "/admin/widgets?q=steel", nil).doc(t)
			if d.Find("tbody tr").Length() != 1 {
				t.Fatal("search")
			}
			var w Widget
			if err := h.store.DB.Where("name = ?", "Bolt").Take(&w).Error; err != nil {
				t.Fatal(err)
			}
			obj := "/admin/widgets/" + itoa(w.ID)
			if r := h.do("root", "POST", obj, url.Values{"version": {"1"}, "name": {"Bolt M8"}, "notes": {"steel"}, "qty": {"40"}, "price": {"0.10"}}); r.status != 303 {
				t.Fatalf("change: %d %s", r.status, r.body)
			}
			d = h.do("root", "GET", obj+"/history", nil).doc(t)
			changes := map[string]string{}
			d.Find("tbody tr").First().Find(".changes div").Each(func(_ int, s *goquery.Selection) {
				changes[s.Find("dt").Text()] = s.Find(".old").Text() + "→" + s.Find(".new").Text()
			})
			if len(changes) != 2 || changes["Name"] != "Bolt→Bolt M8" || changes["Qty"] != "50→40" {
				t.Fatalf("history: %v", changes)
			}
			r = h.do("root", "GET", "/admin/widgets/export.csv?o=name", nil)
			if !strings.Contains(string(r.body), "Bolt M8,steel,40,0.10,no") {
				t.Fatalf("csv: %s", r.body)
			}
			// Staff holding view_widget only may view, not delete.
			if r := h.do("staff", "GET", "/admin/widgets", nil); r.status != 200 {
				t.Fatalf("staff view: %d", r.status)
			}
			if r := h.do("staff", "POST", obj+"/delete", url.Values{"version": {"2"}}); r.status != 403 {
				t.Fatalf("staff delete: %d", r.status)
			}
			if r := h.do("root", "POST", obj+"/delete", url.Values{"version": {"2"}}); r.status != 303 {
				t.Fatalf("delete: %d", r.status)
			}
			if r := h.do("root", "GET", obj, nil); r.status != 404 {
				t.Fatalf("deleted object: %d", r.status)
			}
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestRegistrationRefusesUnknownNames(t *testing.T) {
	db := testdb.Open(t, models.SQLite)
	if err := db.Exec(widgetDDL[models.SQLite]).Error; err != nil {
		t.Fatal(err)
	}
	store := models.NewStore(db)
	noop := func(*gorm.DB) *gorm.DB { return nil }
	cases := []struct {
		name string
		opts admin.Options[Widget]
		want string
	}{
		{"list column", admin.Options[Widget]{ListDisplay: []string{"nme"}}, `ListDisplay: unknown field "nme"`},
		{"search field", admin.Options[Widget]{SearchFields: []string{"colour"}}, `SearchFields: unknown field "colour"`},
		{"search on a number", admin.Options[Widget]{SearchFields: []string{"qty"}}, `field "qty" is not text`},
		{"ordering", admin.Options[Widget]{Ordering: []string{"-size"}}, `Ordering: unknown field "size"`},
		{"fieldset", admin.Options[Widget]{Fieldsets: []admin.Fieldset{{Title: "W", Fields: []string{"name", "secret"}}}}, `Fieldsets[W]: unknown field "secret"`},
		{"read-only", admin.Options[Widget]{ReadOnly: []string{"bogus"}}, `ReadOnly: unknown field "bogus"`},
		{"label", admin.Options[Widget]{Labels: map[string]string{"colour": "Colour"}}, `Labels: unknown field "colour"`},
		{"reserved filter name", admin.Options[Widget]{Filters: []admin.Filter{{Name: "q", Choices: []admin.Choice{{Value: "x", Scope: noop}}}}}, `name "q"`},
		{"filter without scope", admin.Options[Widget]{Filters: []admin.Filter{{Name: "f", Choices: []admin.Choice{{Value: "x"}}}}}, `has no Scope`},
		{"page size", admin.Options[Widget]{PerPage: 1000}, "PerPage must be from 1 to 100"},
		{"bad slug", admin.Options[Widget]{Slug: "Wid gets"}, `slug "Wid gets"`},
		{"reserved slug", admin.Options[Widget]{Slug: "login"}, `slug "login"`},
		{"extra without hook", admin.Options[Widget]{Extra: []admin.Extra{{Name: "token"}}}, "need a BeforeSave"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			site := admin.NewSite("/admin", store, admin.Hooks{})
			err := admin.Register[Widget](site, c.opts)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "registration of widget") {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
	site := admin.NewSite("/admin", store, admin.Hooks{})
	if err := admin.Register[Widget](site, admin.Options[Widget]{}); err != nil {
		t.Fatalf("defaults must work: %v", err)
	}
	if err := admin.Register[Widget](site, admin.Options[Widget]{}); err == nil || !strings.Contains(err.Error(), "registered twice") {
		t.Fatalf("duplicate slug: %v", err)
	}
	if got := site.Models(); len(got) != 1 || got[0].Slug != "widgets" || got[0].ObjectType != "widget" {
		t.Fatalf("models: %+v", got)
	}
	n, est, err := site.Models()[0].Count(context.Background())
	if err != nil || n != 0 || est {
		t.Fatalf("count: %d %v %v", n, est, err)
	}
}

func TestSafeCell(t *testing.T) {
	cases := map[string]string{
		"=1+2": "'=1+2", "+cmd": "'+cmd", "@SUM(A1)": "'@SUM(A1)", "-2+3": "'-2+3", "\tx": "'\tx",
		"-3.50": "-3.50", "plain": "plain", "": "", "a=b": "a=b",
	}
	for in, want := range cases {
		if got := admin.SafeCell(in); got != want {
			t.Errorf("SafeCell(%q) = %q, want %q", in, got, want)
		}
	}
}
