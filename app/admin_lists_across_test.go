package app

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"gorm.io/gorm"

	"tienda/models"
)

// facetCounts reads a list page's filter sidebar: "By stock/In stock" ->
// its count element.
func facetCounts(d *goquery.Document) map[string]*goquery.Selection {
	out := map[string]*goquery.Selection{}
	d.Find(".filters h3").Each(func(_ int, h *goquery.Selection) {
		h.Next().Find("li a").Each(func(_ int, a *goquery.Selection) {
			c := a.Find(".facet-count")
			label := strings.TrimSpace(strings.TrimSuffix(text(a), text(c)))
			out[text(h)+"/"+label] = c
		})
	})
	return out
}

// countStatements counts the statements on db whose SQL holds marker.
func countStatements(t *testing.T, db *gorm.DB, marker string) *int {
	t.Helper()
	n := new(int)
	name := "test:count:" + t.Name()
	if err := db.Callback().Row().After("gorm:row").Register(name, func(tx *gorm.DB) {
		if strings.Contains(tx.Statement.SQL.String(), marker) {
			*n++
		}
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Callback().Row().Remove(name) })
	return n
}

// TestAdminFilterCounts: each filter choice shows how many rows clicking it
// would list (the search and the other filters applied, Django's facets),
// one statement per filter whatever its number of choices; past the count
// budget the counts are flagged estimates.
func TestAdminFilterCounts(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		b := ts.signedIn("ana", true)
		// Lamps: stock 0, 5, 20, 20 at 5, 30, 30, 300 EUR; a chair that no
		// search for "lampara" finds.
		seedProducts(t, ts,
			models.Product{Name: "Lámpara 1", Price: models.Cents(500), Stock: 0},
			models.Product{Name: "Lámpara 2", Price: models.Cents(3000), Stock: 5},
			models.Product{Name: "Lámpara 3", Price: models.Cents(3000), Stock: 20},
			models.Product{Name: "Lámpara 4", Price: models.Cents(30000), Stock: 20},
			models.Product{Name: "Silla", Price: models.Cents(3000), Stock: 20})
		statements := countStatements(t, ts.store.DB, "FILTER (WHERE")
		d := parse(t, b.get("/admin/products?q=lampara&price=10-50"))
		got := map[string]string{}
		for k, c := range facetCounts(d) {
			got[k] = text(c)
			if _, titled := c.Attr("title"); titled {
				t.Errorf("%s: an exact count has an estimate's title", k)
			}
		}
		want := map[string]string{
			// stock counts: "lampara" and price 10 to 50 (lamps 2 and 3).
			"By stock/In stock": "(2)", "By stock/Out of stock": "(0)", "By stock/Low stock (under 10)": "(1)",
			"By stock/Under 10, out of stock too": "(1)",
			// price counts: "lampara" only (the price filter is the one counted).
			"By price/Under 10": "(1)", "By price/10 to 50": "(2)", "By price/50 to 200": "(0)", "By price/200 and more": "(1)",
			"By stock/All": "", "By price/All": "",
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("counts\n got %v\nwant %v", got, want)
		}
		if *statements != 2 {
			t.Fatalf("%d counting statements for 2 filters of 8 choices, want one per filter", *statements)
		}
		// Other models' filters are counted too (the engine knows none by name).
		for path, choice := range map[string]string{"/admin/documents": "By last update/Past 7 days", "/admin/users": "By role/Superusers"} {
			c := facetCounts(parse(t, b.get(path)))[choice]
			if c == nil || !strings.HasPrefix(text(c), "(") {
				t.Fatalf("%s: no count beside %q", path, choice)
			}
		}
		if c := facetCounts(parse(t, b.get("/admin/users")))["By role/Superusers"]; text(c) != "(1)" {
			t.Fatalf("superusers counted %q", text(c))
		}

		// A budget no count meets: flagged estimates (PostgreSQL's planner;
		// SQLite had no range counted, so it says it did not count).
		rows := make([]models.Product, 0, 12_000)
		for i := range 12_000 {
			rows = append(rows, models.Product{Name: fmt.Sprintf("Lámpara extra %d", i), Price: models.Cents(int64(100 + i%9000)), Stock: int64(i % 7), Version: 1})
		}
		if err := ts.store.DB.Omit("id").CreateInBatches(&rows, 1000).Error; err != nil {
			t.Fatal(err)
		}
		if dialect == models.Postgres {
			ts.store.DB.Exec("ANALYZE products")
		}
		ts.srv.panel.Site().CountBudget = time.Nanosecond
		c := facetCounts(parse(t, b.get("/admin/products?q=lampara")))["By stock/In stock"]
		title, _ := c.Attr("title")
		switch {
		case c == nil:
			t.Fatal("no count beside In stock")
		case dialect == models.Postgres && (!strings.HasPrefix(text(c), "(≈") || !strings.Contains(title, "estimate")):
			t.Fatalf("estimate %q titled %q", text(c), title)
		case dialect == models.SQLite && (text(c) != "(?)" || !strings.Contains(title, "Not counted")):
			t.Fatalf("uncounted %q titled %q", text(c), title)
		}
		t.Logf("estimated %s (%s)", text(c), title)
	})
}

// TestAdminSelectAllAcrossPages: "Select all N" deletes every product
// matching the list's search and filters, across pages, after a
// confirmation that states the exact count; a product added after the
// confirmation stays, a selection that changed is confirmed again, each row
// gets its history entry, and a clerk without delete_product is refused.
func TestAdminSelectAllAcrossPages(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		b := ts.signedIn("ana", true)
		var rows []models.Product
		for i := range 120 { // 72 lamps (60 in stock), 48 chairs, interleaved
			name := fmt.Sprintf("Silla %03d", i)
			if i%5 < 3 {
				name = fmt.Sprintf("Lámpara %03d", i)
			}
			stock := int64(1)
			if i%6 == 0 {
				stock = 0
			}
			rows = append(rows, models.Product{Name: name, Price: models.Cents(1000), Stock: stock})
		}
		seedProducts(t, ts, rows...)
		count := func(where string, args ...any) int64 {
			var n int64
			ts.store.DB.Model(&models.Product{}).Where(where, args...).Count(&n)
			return n
		}
		const lampsInStock = 60 // i%5 < 3 and i%6 > 0: two pages of 50
		if n := count("name LIKE 'L%' AND stock > 0"); n != lampsInStock {
			t.Fatalf("seeded %d lamps in stock", n)
		}
		listURL := "/admin/products?q=" + url.QueryEscape("lámpara") + "&stock=in"
		list := parse(t, b.get(listURL))
		if n := list.Find("#changelist tbody tr").Length(); n != 50 {
			t.Fatalf("%d rows on the first page", n)
		}
		across := list.Find(`#bulk-form input[name="select_across"]`)
		if across.Length() != 1 || !strings.Contains(text(list.Find("[data-across-choice]")), "Select all 60 products") {
			t.Fatalf("no select-all choice: %q", text(list.Find(".bulk-bar")))
		}
		// The form carries the search and the filter, not ids.
		confirm := b.post("/admin/products/bulk", formOf(list, "#bulk-form", map[string][]string{
			"action": {"delete"}, "select_across": {"1"}}))
		wantStatus(t, confirm, http.StatusOK)
		cd := parse(t, confirm)
		if h := text(cd.Find("main h1")); h != "Delete 60 products?" {
			t.Fatalf("confirmation title %q", h)
		}
		if li := cd.Find(".doomed li"); li.Length() != 21 || text(li.Last()) != "…and 40 more" {
			t.Fatalf("sample: %d items, last %q", li.Length(), text(li.Last()))
		}
		if !strings.Contains(text(cd.Find(".confirm-card p")), "matching “lámpara”; stock: In stock") {
			t.Fatalf("the confirmation does not say what matches: %q", text(cd.Find(".confirm-card p")))
		}
		// Added after the confirmation: not part of what was confirmed.
		late := seedProducts(t, ts, models.Product{Name: "Lámpara tardía", Price: models.Cents(1000), Stock: 5})[0]
		r := b.post("/admin/products/bulk", formOf(cd, ".confirm-card form", nil))
		wantStatus(t, r, http.StatusSeeOther)
		if location(r) != "/admin/products?q=l%C3%A1mpara&stock=in" {
			t.Fatalf("back to %q", location(r))
		}
		if !strings.Contains(text(parse(t, b.get(location(r))).Find(".flash")), "60 products were deleted.") {
			t.Fatal("no success message")
		}
		if n := count("name LIKE 'L%' AND stock > 0"); n != 1 {
			t.Fatalf("%d lamps in stock left, want only the late one", n)
		}
		if n := count("id = ?", late.ID); n != 1 {
			t.Fatal("the product added after the confirmation was deleted")
		}
		if lamps, chairs := count("name LIKE 'L%' AND stock = 0"), count("name LIKE 'S%'"); lamps != 12 || chairs != 48 {
			t.Fatalf("%d lamps out of stock and %d chairs left, want 12 and 48", lamps, chairs)
		}
		var deletes int64
		ts.store.DB.Model(&models.HistoryEntry{}).Where("object_type = 'product' AND action = 'delete' AND actor_name = 'ana'").Count(&deletes)
		if deletes != lampsInStock {
			t.Fatalf("%d history entries of deletion, want %d", deletes, lampsInStock)
		}

		// The selection changed between the confirmation and the click:
		// nothing goes, the page asks again with the new count.
		// (48 chairs fit one page, which offers no "select all": the
		// form is sent as a page without JavaScript could send it.)
		list = parse(t, b.get("/admin/products?q=silla"))
		cd = parse(t, b.post("/admin/products/bulk", formOf(list, "#bulk-form", map[string][]string{
			"action": {"delete"}, "select_across": {"1"}, "q": {"silla"}})))
		if h := text(cd.Find("main h1")); h != "Delete 48 products?" {
			t.Fatalf("confirmation title %q", h)
		}
		var gone models.Product
		ts.store.DB.Where("name LIKE 'S%'").Order("id").First(&gone)
		if err := ts.store.Delete(context.Background(), &models.Product{}, gone.ID, 0); err != nil {
			t.Fatal(err)
		}
		again := b.post("/admin/products/bulk", formOf(cd, ".confirm-card form", nil))
		wantStatus(t, again, http.StatusOK)
		ad := parse(t, again)
		if h := text(ad.Find("main h1")); h != "Delete 47 products?" || !strings.Contains(text(ad.Find(".notice")), "48 then, 47 now") {
			t.Fatalf("re-confirmation %q: %q", h, text(ad.Find(".notice")))
		}
		if n := count("name LIKE 'S%'"); n != 47 {
			t.Fatalf("%d chairs after a changed confirmation, want 47 (nothing deleted)", n)
		}
		wantStatus(t, b.post("/admin/products/bulk", formOf(ad, ".confirm-card form", nil)), http.StatusSeeOther)
		if n := count("name LIKE 'S%'"); n != 0 {
			t.Fatalf("%d chairs left", n)
		}

		// A clerk who may change products but not delete them.
		pw := ts.createStaff("clerk", "view_product", "change_product")
		clerk := ts.browser()
		clerk.login("clerk", pw)
		parse(t, clerk.get("/admin/products"))
		refused := clerk.post("/admin/products/bulk", url.Values{"action": {"delete"}, "select_across": {"1"}, "q": {"lámpara"}})
		wantStatus(t, refused, http.StatusForbidden)
		if !strings.Contains(string(refused.Body), "delete_product") {
			t.Fatalf("the 403 does not name delete_product: %.300s", refused.Body)
		}
		if n := count("name LIKE 'L%'"); n != 13 {
			t.Fatalf("%d lamps after the clerk's refused delete, want 13", n)
		}
	})
}
