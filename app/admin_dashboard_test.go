package app

import (
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"tienda/app/config"
	"tienda/models"
)

// TestAdminDashboardStockAndChart: low stock lists out-of-stock products
// too (first) with a link to the filtered list; the chart keeps every
// non-zero band readable beside an outlier; money carries its currency.
func TestAdminDashboardStockAndChart(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, func(c *config.Config) { c.Currency = "USD" })
		seedProducts(t, ts,
			models.Product{Name: "Agotado", Price: models.Cents(500), Stock: 0},
			models.Product{Name: "Casi", Price: models.Cents(700), Stock: 2},
			models.Product{Name: "Lleno", Price: models.Cents(900), Stock: 500},
			// One outlier band: 999,999.99 × 1,000,000.
			models.Product{Name: "Yate", Price: models.Cents(99999999), Stock: 1000000},
			models.Product{Name: "Silla", Price: models.Cents(4500), Stock: 20},
		)
		b := ts.signedIn("ana", false)
		d := parse(t, b.get("/admin/"))
		low := d.Find("ul.low-stock li")
		if low.Length() != 2 || !strings.Contains(text(low.First()), "Agotado") || !strings.Contains(text(low.First()), "out of stock") {
			t.Fatalf("low stock: %q", text(d.Find("ul.low-stock")))
		}
		link := d.Find(`a[href="/admin/products?stock=short"]`)
		if link.Length() != 1 {
			t.Fatal("no link to the filtered list")
		}
		list := parse(t, b.get("/admin/products?stock=short"))
		if n := list.Find("#changelist tbody tr").Length(); n != 2 {
			t.Fatalf("the filtered list has %d rows, want 2", n)
		}
		if !strings.Contains(text(list.Find("#changelist tbody")), "USD") {
			t.Fatal("prices without their currency")
		}
		bars := d.Find("svg.bar-chart rect.bar")
		if bars.Length() != 5 {
			t.Fatalf("%d bars", bars.Length())
		}
		widths := []int{}
		bars.Each(func(_ int, s *goquery.Selection) {
			w, _ := strconv.Atoi(s.AttrOr("width", "0"))
			widths = append(widths, w)
		})
		// "Under 10" holds 4,514, "10 – 50" 900, "1,000 and more" about
		// 10^12: on a linear scale the small bands would be under a unit
		// wide; here each is at least a third of the outlier's.
		for _, i := range []int{0, 1} {
			if widths[i] < 100 {
				t.Errorf("band %d is %d units wide beside the outlier's %d", i, widths[i], widths[4])
			}
		}
		if widths[2] > 2 || widths[3] > 2 || widths[4] != 300 {
			t.Errorf("bar widths %v", widths)
		}
		if !strings.Contains(text(d.Find("svg.bar-chart")), "USD") || !strings.Contains(text(d.Find("svg.bar-chart desc")), "logarithmic") {
			t.Fatalf("chart text %q", text(d.Find("svg.bar-chart")))
		}
	})
}
