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

// TestAdminRevertAndRecentActions: a history entry is reverted whole or
// one field, through the version check and validation, as an entry of its
// own; the recent actions page filters and pages across models, and the
// dashboard cuts long values.
func TestAdminRevertAndRecentActions(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		ctx := context.Background()
		b := ts.signedIn("ana", false)
		p := &models.Product{Name: "Lámpara", Description: "Luz", Price: models.Cents(1000), Stock: 3}
		if err := ts.store.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		objURL := "/admin/products/" + strconv.FormatInt(p.ID, 10)
		wantStatus(t, b.post(objURL, formOf(parse(t, b.get(objURL)), "form.model-form", map[string][]string{"price": {"25.00"}, "stock": {"9"}})), http.StatusSeeOther)
		current := func() models.Product {
			var cur models.Product
			ts.store.DB.Take(&cur, p.ID)
			return cur
		}
		hist := parse(t, b.get(objURL+"/history"))
		forms := hist.Find("form.revert-field")
		if forms.Length() != 2 || hist.Find("form.revert-form").Length() != 1 {
			t.Fatalf("%d field reverts, %d entry reverts", forms.Length(), hist.Find("form.revert-form").Length())
		}
		// Revert only the price.
		var priceForm url.Values
		var action string
		for i := range forms.Nodes {
			f := forms.Eq(i)
			if f.Find(`input[name="field"]`).AttrOr("value", "") == "price" {
				action = f.AttrOr("action", "")
				priceForm = url.Values{"version": {f.Find(`input[name="version"]`).AttrOr("value", "")}, "field": {"price"}}
			}
		}
		wantStatus(t, b.post(action, priceForm), http.StatusSeeOther)
		if cur := current(); cur.Price.String() != "10.00" || cur.Stock != 9 {
			t.Fatalf("after reverting the price: %s %d", cur.Price, cur.Stock)
		}
		// The same stale form again: the version moved, nothing happens.
		wantStatus(t, b.post(action, priceForm), http.StatusSeeOther)
		if !strings.Contains(text(parse(t, b.get(objURL+"/history")).Find(".flash-error")), "nothing was reverted") {
			t.Fatal("no message for a stale revert")
		}
		// Revert the whole entry (price and stock) from a fresh history page.
		hist = parse(t, b.get(objURL+"/history"))
		whole := hist.Find("form.revert-form").Last() // the oldest change: price and stock
		wantStatus(t, b.post(whole.AttrOr("action", ""), url.Values{"version": {whole.Find(`input[name="version"]`).AttrOr("value", "")}}), http.StatusSeeOther)
		if cur := current(); cur.Price.String() != "10.00" || cur.Stock != 3 {
			t.Fatalf("after reverting the entry: %s %d", cur.Price, cur.Stock)
		}
		hist = parse(t, b.get(objURL+"/history"))
		if n := hist.Find("table.history tbody tr").Length(); n != 4 || !strings.Contains(text(hist.Find("table.history tbody tr").First()), "Reverted entry #") {
			t.Fatalf("the revert is not its own entry: %d rows, %q", n, text(hist.Find("table.history tbody tr").First()))
		}
		// A revert that fails validation is refused with the message.
		bad := &models.Product{Name: "x", Price: models.Cents(100), Stock: 1}
		if err := ts.store.Create(ctx, bad); err != nil {
			t.Fatal(err)
		}
		e := models.HistoryEntry{ObjectType: "product", ObjectID: bad.ID, ObjectRepr: "x", Action: "update", ActorName: "ana", Source: "admin",
			Changes: `{"stock":{"old":-5,"new":1}}`, Version: 1, CreatedAt: models.Now(), UpdatedAt: models.Now()}
		if err := ts.store.DB.Omit("id").Create(&e).Error; err != nil {
			t.Fatal(err)
		}
		badURL := "/admin/products/" + strconv.FormatInt(bad.ID, 10)
		b.get(badURL + "/history")
		wantStatus(t, b.post(badURL+"/history/"+strconv.FormatInt(e.ID, 10)+"/revert", url.Values{"version": {"1"}}), http.StatusSeeOther)
		if msg := text(parse(t, b.get(badURL+"/history")).Find(".flash-error")); !strings.Contains(msg, "Stock") {
			t.Fatalf("validation message %q", msg)
		}
		// Another object's entry is not this one's.
		wantStatus(t, b.post(objURL+"/history/"+strconv.FormatInt(e.ID, 10)+"/revert", url.Values{"version": {"1"}}), http.StatusNotFound)

		// Recent actions: across models, filtered, paged; long values cut.
		long := strings.Repeat("palabra ", 5000)
		if err := ts.store.Create(ctx, &models.Document{Title: "Largo", Content: long}); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 55; i++ {
			if err := ts.store.Create(ctx, &models.Document{Title: "Doc " + strconv.Itoa(i), Content: "x"}); err != nil {
				t.Fatal(err)
			}
		}
		dash := b.get("/admin/")
		if len(dash.Body) > 200<<10 || parse(t, dash).Find(`a[href="/admin/recent-actions"]`).Length() != 1 {
			t.Fatalf("dashboard: %d bytes, link %d", len(dash.Body), parse(t, dash).Find(`a[href="/admin/recent-actions"]`).Length())
		}
		r := parse(t, b.get("/admin/recent-actions"))
		if n := r.Find("table.history tbody tr").Length(); n != 50 || r.Find(`a[rel="next"]`).Length() != 1 {
			t.Fatalf("first page: %d rows", n)
		}
		r = parse(t, b.get("/admin/recent-actions?model=product&action=update"))
		rows := r.Find("table.history tbody tr")
		if rows.Length() != 4 || strings.Contains(text(rows), "Doc ") {
			t.Fatalf("product changes: %d rows %q", rows.Length(), text(rows))
		}
		r = parse(t, b.get("/admin/recent-actions?model=document&p=2"))
		if n := r.Find("table.history tbody tr").Length(); n != 6 || r.Find(`a[rel="prev"]`).Length() != 1 {
			t.Fatalf("second page of documents: %d rows", n)
		}
		var ana models.User
		ts.store.DB.Where("username = ?", "ana").Take(&ana)
		r = parse(t, b.get("/admin/recent-actions?user="+strconv.FormatInt(ana.ID, 10)+"&since=today"))
		if n := r.Find("table.history tbody tr").Length(); n != 3 {
			t.Fatalf("ana's actions today: %d", n)
		}
		// A clerk without view_user never sees user entries.
		pw := ts.createStaff("clerk", "view_product")
		clerk := ts.browser()
		clerk.login("clerk", pw)
		if strings.Contains(text(parse(t, clerk.get("/admin/recent-actions")).Find("table.history")), "Doc ") {
			t.Fatal("the clerk sees documents in recent actions")
		}
	})
}
