package app

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"tienda/models"
)

// TestAdminDjangoFlowsInBrowser drives issue 13's flows in headless
// Chromium, leaving a screenshot of each: a clerk with change_product only,
// the two-browser conflict merge, a revert from the history, the API-key
// page's reload, and the playground's error.
func TestAdminDjangoFlowsInBrowser(t *testing.T) {
	bin := findChromium(t)
	ts := newTestServer(t, models.SQLite)
	rootPW := ts.createUser("boss", true, true)
	clerkPW := ts.createStaff("clerk", "change_product", "view_chat")
	p := &models.Product{Name: "Lámpara de pie", Description: "Luz cálida", Price: models.Cents(32697), Stock: 3}
	if err := ts.store.Create(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	objURL := "/admin/products/" + strconv.FormatInt(p.ID, 10)
	base := ts.listen()
	shots := screenshotDir(t)

	type tab struct {
		ctx  context.Context
		name string
	}
	open := func(name string) tab {
		ctx := newBrowser(t, bin, chromedp.WindowSize(1280, 900))
		ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
		t.Cleanup(cancel)
		return tab{ctx: ctx, name: name}
	}
	step := func(b tab, what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(b.ctx, actions...); err != nil {
			t.Fatalf("%s: %s: %v", b.name, what, err)
		}
	}
	textOf := func(b tab, sel string) string {
		t.Helper()
		s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("%s: text of %s: %v", b.name, sel, err)
		}
		return strings.Join(strings.Fields(s), " ")
	}
	count := func(b tab, sel string) int {
		t.Helper()
		n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+strconv.Quote(sel)+`).length`))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	shot := func(b tab, name string) {
		t.Helper()
		png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	login := func(b tab, user, pw string) {
		step(b, "sign in", chromedp.Navigate(base+"/admin/login"), chromedp.WaitVisible(chromedp.CSS("#id_username")),
			chromedp.SendKeys(chromedp.CSS("#id_username"), user), chromedp.SendKeys(chromedp.CSS("#id_password"), pw),
			chromedp.Click(chromedp.CSS(`.login-card button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS(".sidebar")))
	}
	boss, clerk := open("boss"), open("clerk")
	login(boss, "boss", rootPW)
	login(clerk, "clerk", clerkPW)

	// The clerk: may edit the product, not add or delete; no documents.
	step(clerk, "list", chromedp.Navigate(base+"/admin/products"), chromedp.WaitVisible(chromedp.CSS("#changelist")))
	if count(clerk, `a[href="/admin/products/new"]`) != 0 || count(clerk, `.sidebar a[href="/admin/documents"]`) != 0 {
		t.Fatal("the clerk is offered what it may not do")
	}
	step(clerk, "form", chromedp.Navigate(base+objURL), chromedp.WaitVisible(chromedp.CSS("#id_name")))
	if count(clerk, ".delete-link") != 0 || count(clerk, `button[name="_save"]`) != 1 {
		t.Fatal("the clerk's form buttons")
	}
	shot(clerk, "clerk-form")
	step(clerk, "documents refused", chromedp.Navigate(base+"/admin/documents"), chromedp.WaitVisible(chromedp.CSS(".error-card")))
	if got := textOf(clerk, ".error-card"); !strings.Contains(got, "view_document") || count(clerk, ".sidebar") != 1 {
		t.Fatalf("the clerk's 403: %q", got)
	}
	shot(clerk, "clerk-403")

	// The conflict merge: both open the product; the boss sets the price
	// and the stock, the clerk changes the name and the stock.
	step(clerk, "open", chromedp.Navigate(base+objURL), chromedp.WaitVisible(chromedp.CSS("#id_name")))
	step(boss, "open", chromedp.Navigate(base+objURL), chromedp.WaitVisible(chromedp.CSS("#id_price")),
		chromedp.SetValue(chromedp.CSS("#id_price"), "11.11"), chromedp.SetValue(chromedp.CSS("#id_stock"), "50"),
		chromedp.Click(chromedp.CSS(`button[name="_continue"]`)), chromedp.WaitVisible(chromedp.CSS(".flash-success")))
	step(clerk, "save late", chromedp.SetValue(chromedp.CSS("#id_name"), "Lámpara de pie XL"),
		chromedp.SetValue(chromedp.CSS("#id_stock"), "4"),
		chromedp.Click(chromedp.CSS(`button[name="_continue"]`)), chromedp.WaitVisible(chromedp.CSS(".conflict")))
	if got, _ := chromedp.Run(clerk.ctx, chromedp.Value(chromedp.CSS("#id_price"))); got != "11.11" {
		t.Fatalf("the merged form's price %q, want the boss's", got)
	}
	if count(clerk, ".merge-choice") != 1 || !strings.Contains(textOf(clerk, "#id_stock"), "Keep theirs: 50") {
		t.Fatalf("the stock choice: %q", textOf(clerk, ".conflict"))
	}
	shot(clerk, "conflict-merge")
	step(clerk, "keep mine", chromedp.Click(chromedp.CSS(`input[name="_choice_stock"][value="mine"]`)),
		chromedp.Click(chromedp.CSS(`button[name="_continue"]`)), chromedp.WaitVisible(chromedp.CSS(".flash-success")))
	var cur models.Product
	ts.store.DB.Take(&cur, p.ID)
	if cur.Name != "Lámpara de pie XL" || cur.Price.String() != "11.11" || cur.Stock != 4 {
		t.Fatalf("after the merge: %q %s %d", cur.Name, cur.Price, cur.Stock)
	}

	// A revert, from the boss's history page: the name goes back.
	step(boss, "history", chromedp.Navigate(base+objURL+"/history"), chromedp.WaitVisible(chromedp.CSS("table.history")))
	shot(boss, "history-revert")
	step(boss, "revert the name", chromedp.Click(chromedp.CSS(`form.revert-field:has(input[name="field"][value="name"]) button`)),
		chromedp.WaitVisible(chromedp.CSS(".flash-success")))
	ts.store.DB.Take(&cur, p.ID)
	if cur.Name != "Lámpara de pie" || cur.Stock != 4 {
		t.Fatalf("after the revert: %q %d", cur.Name, cur.Stock)
	}
	shot(boss, "history-reverted")

	// API keys: create, see it once; a reload shows it no more and makes nothing.
	step(boss, "new key", chromedp.Navigate(base+"/admin/api-keys"), chromedp.WaitVisible(chromedp.CSS("#id_name")),
		chromedp.SendKeys(chromedp.CSS("#id_name"), "stock sync"),
		chromedp.Click(chromedp.CSS(`.api-key-form button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS("#id_new_key")))
	shot(boss, "api-key-created")
	step(boss, "reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("table.api-keys")))
	if count(boss, "#id_new_key") != 0 {
		t.Fatal("the key is shown after a reload")
	}
	if keys, _ := ts.store.ListAPIKeys(context.Background(), 0); len(keys) != 1 {
		t.Fatalf("%d keys after a reload", len(keys))
	}
	shot(boss, "api-key-reloaded")

	// The playground: a bad temperature shows the server's message and field.
	step(clerk, "playground", chromedp.Navigate(base+"/admin/chat"), chromedp.WaitVisible(chromedp.CSS("#chat-message")),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('details.chat-settings').open = true`),
		chromedp.SetValue(chromedp.CSS("#chat-temperature"), "7"),
		chromedp.SendKeys(chromedp.CSS("#chat-message"), "¿Devoluciones?\r"),
		chromedp.WaitVisible(chromedp.CSS(".chat-error .chat-error-fields")))
	if got := textOf(clerk, ".chat-error"); !strings.Contains(got, "temperature") || strings.Contains(got, "Request failed") {
		t.Fatalf("playground error %q", got)
	}
	shot(clerk, "playground-error")
	// The conversation survives leaving the page.
	step(clerk, "away and back", chromedp.Navigate(base+"/admin/products"), chromedp.WaitVisible(chromedp.CSS("#changelist")),
		chromedp.Navigate(base+"/admin/chat"), chromedp.WaitVisible(chromedp.CSS(".chat-turn")))
	if !strings.Contains(textOf(clerk, "#chat-log"), "¿Devoluciones?") {
		t.Fatalf("conversation lost: %q", textOf(clerk, "#chat-log"))
	}
}
