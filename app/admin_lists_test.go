package app

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"tienda/models"
)

// TestAdminListsLikeDjango: search words are ANDed (the API's search), a
// page past the end goes to the last page (also after deleting a whole
// last page), and counts have proper plurals.
func TestAdminListsLikeDjango(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		b := ts.signedIn("ana", false)
		seedProducts(t, ts, models.Product{Name: "Lámpara de pie", Price: models.Cents(100), Stock: 1},
			models.Product{Name: "Pie de mesa", Price: models.Cents(100), Stock: 1})
		d := parse(t, b.get("/admin/products?q="+url.QueryEscape("pie lámpara")))
		if rows := d.Find("#changelist tbody tr"); rows.Length() != 1 || !strings.Contains(text(rows), "Lámpara de pie") {
			t.Fatalf("words ANDed: %q", text(d.Find("#changelist tbody")))
		}
		if got := text(d.Find(".pager .count")); got != "1–1 of 1 product" {
			t.Fatalf("plural: %q", got)
		}
		var more []models.Product
		for i := 0; i < 99; i++ {
			more = append(more, models.Product{Name: "Silla " + strconv.Itoa(i), Price: models.Cents(100), Stock: 1})
		}
		seedProducts(t, ts, more...) // 101 products: three pages of 50
		r := b.get("/admin/products?p=999&o=name")
		wantStatus(t, r, http.StatusSeeOther)
		if location(r) != "/admin/products?o=name&p=3" {
			t.Fatalf("past the end goes to %q", location(r))
		}
		// Delete the whole last page: back on the list, it lands on page 2.
		last := parse(t, b.get("/admin/products?p=3&o=name"))
		var ids []string
		for i := range last.Find(`input[name="ids"]`).Nodes {
			ids = append(ids, last.Find(`input[name="ids"]`).Eq(i).AttrOr("value", ""))
		}
		form := formOf(last, "#bulk-form", map[string][]string{"action": {"delete"}, "confirm": {"yes"}, "ids": ids})
		r = b.post("/admin/products/bulk", form)
		wantStatus(t, r, http.StatusSeeOther)
		if location(r) != "/admin/products?o=name&p=3" {
			t.Fatalf("bulk delete returns to %q", location(r))
		}
		r = b.get(location(r))
		wantStatus(t, r, http.StatusSeeOther)
		if location(r) != "/admin/products?o=name&p=2" {
			t.Fatalf("the emptied last page goes to %q", location(r))
		}
		if got := text(parse(t, b.get("/admin/products?o=name&p=2")).Find(".pager .count")); got != "51–100 of 100 products" {
			t.Fatalf("count %q", got)
		}
	})
}
