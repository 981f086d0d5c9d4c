package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"tienda/models"
)

// TestAdminSelectAllInBrowser drives Django's "Select all N products" in
// headless Chromium: tick the header box, take the banner's "Select all",
// delete, confirm the stated count, and see the list emptied of exactly
// the matching rows (screenshots of each step).
func TestAdminSelectAllInBrowser(t *testing.T) {
	bin := findChromium(t)
	ts := newTestServer(t, models.SQLite)
	pw := ts.createUser("boss", true, true)
	var rows []models.Product
	for i := range 120 { // 72 lamps over two pages of 50, 48 chairs
		name := fmt.Sprintf("Silla %03d", i)
		if i%5 < 3 {
			name = fmt.Sprintf("Lámpara %03d", i)
		}
		rows = append(rows, models.Product{Name: name, Price: models.Cents(1999), Stock: int64(i % 4)})
	}
	seedProducts(t, ts, rows...)
	base := ts.listen()
	shots := screenshotDir(t)
	ctx := newBrowser(t, bin, chromedp.WindowSize(1280, 900))
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancel)
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	textOf := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return strings.Join(strings.Fields(s), " ")
	}
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	step("sign in", chromedp.Navigate(base+"/admin/login"), chromedp.WaitVisible(chromedp.CSS("#id_username")),
		chromedp.SendKeys(chromedp.CSS("#id_username"), "boss"), chromedp.SendKeys(chromedp.CSS("#id_password"), pw),
		chromedp.Click(chromedp.CSS(`.login-card button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS(".sidebar")))
	step("search", chromedp.Navigate(base+"/admin/products?q=lampara"), chromedp.WaitVisible(chromedp.CSS("#bulk-form")))
	if vis, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`!document.querySelector('[data-across-choice]').hidden`)); vis {
		t.Fatal("with JavaScript the plain select-all checkbox should give way to the banner")
	}
	step("tick the header box", chromedp.Click(chromedp.CSS("[data-select-all]")), chromedp.WaitVisible(chromedp.CSS("[data-across-on]")))
	if got := textOf("[data-across-page]"); got != "All 50 products on this page are selected. Select all 72 products" {
		t.Fatalf("banner %q", got)
	}
	step("select all 72", chromedp.Click(chromedp.CSS("[data-across-on]")), chromedp.WaitVisible(chromedp.CSS("[data-across-all]")))
	if got := textOf("[data-across-all]"); got != "All 72 products are selected. Clear selection" {
		t.Fatalf("banner %q", got)
	}
	if got := textOf("[data-selected-count]"); got != "all 72 selected" {
		t.Fatalf("selection count %q", got)
	}
	shot("select-all-banner")
	step("delete", chromedp.SetValue(chromedp.CSS("#id_action"), "delete"),
		chromedp.Click(chromedp.CSS(`.bulk-bar button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS(".confirm-card")))
	if got := textOf(".confirm-card h1"); got != "Delete 72 products?" {
		t.Fatalf("confirmation %q", got)
	}
	if got := textOf(".doomed li:last-child"); got != "…and 52 more" {
		t.Fatalf("sample ends %q", got)
	}
	shot("select-all-confirm")
	step("confirm", chromedp.Click(chromedp.CSS(".confirm-card button.danger")), chromedp.WaitVisible(chromedp.CSS(".flash-success")))
	if got := textOf(".flash-success"); !strings.Contains(got, "72 products were deleted.") {
		t.Fatalf("flash %q", got)
	}
	if got := textOf(".empty-state h2"); got != "No products match" {
		t.Fatalf("list after the delete: %q", got)
	}
	shot("select-all-done")
	var lamps, chairs int64
	ts.store.DB.Model(&models.Product{}).Where("name LIKE 'L%'").Count(&lamps)
	ts.store.DB.Model(&models.Product{}).Where("name LIKE 'S%'").Count(&chairs)
	if lamps != 0 || chairs != 48 {
		t.Fatalf("%d lamps and %d chairs left, want 0 and 48", lamps, chairs)
	}
}
