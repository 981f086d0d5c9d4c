package app

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"tienda/models"
)

// TestAdminConflictMerge: the scenario and the merge's other
// paths through the real handlers. The boss sets the price while the
// clerk, editing the same product, changes only the name: saving keeps
// both. A field both changed is a choice; saving applies exactly the
// choices; a version that moved again conflicts again; an object deleted
// meanwhile keeps the typed values and can be created anew.
func TestAdminConflictMerge(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		ctx := context.Background()
		p := &models.Product{Name: "Lámpara", Description: "Luz", Price: models.Cents(32697), Stock: 3}
		if err := ts.store.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		objURL := "/admin/products/" + strconv.FormatInt(p.ID, 10)
		boss, clerk := ts.signedIn("boss", true), ts.signedIn("clerk", false)
		current := func() models.Product {
			var cur models.Product
			ts.store.DB.Take(&cur, p.ID)
			return cur
		}

		t.Run("different fields: nothing lost", func(t *testing.T) {
			clerkForm := parse(t, clerk.get(objURL))
			bossForm := parse(t, boss.get(objURL))
			wantStatus(t, boss.post(objURL, formOf(bossForm, "form.model-form", map[string][]string{"price": {"11.11"}})), http.StatusSeeOther)
			resp := clerk.post(objURL, formOf(clerkForm, "form.model-form", map[string][]string{"name": {"Lámpara de pie"}}))
			wantStatus(t, resp, http.StatusConflict)
			d := parse(t, resp)
			if d.Find("#id_price").AttrOr("value", "") != "11.11" || d.Find("#id_name").AttrOr("value", "") != "Lámpara de pie" {
				t.Fatalf("merged form: price %q name %q", d.Find("#id_price").AttrOr("value", ""), d.Find("#id_name").AttrOr("value", ""))
			}
			// The clerk presses Save as the page says.
			wantStatus(t, clerk.post(objURL, formOf(d, "form.model-form", nil)), http.StatusSeeOther)
			if cur := current(); cur.Price.String() != "11.11" || cur.Name != "Lámpara de pie" {
				t.Fatalf("after the merge: price %s name %q", cur.Price, cur.Name)
			}
		})

		t.Run("both changed a field: a choice per field", func(t *testing.T) {
			clerkForm := parse(t, clerk.get(objURL))
			bossForm := parse(t, boss.get(objURL))
			wantStatus(t, boss.post(objURL, formOf(bossForm, "form.model-form", map[string][]string{"stock": {"50"}, "description": {"Luz cálida"}})), http.StatusSeeOther)
			resp := clerk.post(objURL, formOf(clerkForm, "form.model-form", map[string][]string{"stock": {"4"}, "description": {"Luz fría"}}))
			wantStatus(t, resp, http.StatusConflict)
			d := parse(t, resp)
			choices := d.Find(".merge-choice")
			if choices.Length() != 2 || !strings.Contains(text(d.Find(".conflict")), "You both changed 2 fields") {
				t.Fatalf("%d choices: %s", choices.Length(), text(d.Find(".conflict")))
			}
			stock := text(d.Find("#id_stock"))
			if !strings.Contains(stock, "Keep mine: 4") || !strings.Contains(stock, "Keep theirs: 50") {
				t.Fatalf("stock choice %q", stock)
			}
			// Without a choice the server does not guess.
			wantStatus(t, clerk.post(objURL, formOf(d, "form.model-form", nil)), http.StatusUnprocessableEntity)
			if cur := current(); cur.Stock != 50 {
				t.Fatalf("saved without a choice: %d", cur.Stock)
			}
			// Keep mine for the stock, theirs for the description.
			form := formOf(d, "form.model-form", map[string][]string{"_choice_stock": {"mine"}, "_choice_description": {"theirs"}})
			wantStatus(t, clerk.post(objURL, form), http.StatusSeeOther)
			if cur := current(); cur.Stock != 4 || cur.Description != "Luz cálida" {
				t.Fatalf("choices applied: stock %d description %q", cur.Stock, cur.Description)
			}
		})

		t.Run("moved again while choosing", func(t *testing.T) {
			clerkForm := parse(t, clerk.get(objURL))
			bossForm := parse(t, boss.get(objURL))
			wantStatus(t, boss.post(objURL, formOf(bossForm, "form.model-form", map[string][]string{"stock": {"60"}})), http.StatusSeeOther)
			d := parse(t, clerk.post(objURL, formOf(clerkForm, "form.model-form", map[string][]string{"stock": {"5"}})))
			form := formOf(d, "form.model-form", map[string][]string{"_choice_stock": {"mine"}})
			// The boss saves once more before the clerk's choice arrives.
			bossForm = parse(t, boss.get(objURL))
			wantStatus(t, boss.post(objURL, formOf(bossForm, "form.model-form", map[string][]string{"price": {"12.00"}})), http.StatusSeeOther)
			resp := clerk.post(objURL, form)
			wantStatus(t, resp, http.StatusConflict)
			d = parse(t, resp)
			// The new merge: the stock the clerk chose is the clerk's change
			// now, the price is the boss's.
			if d.Find("#id_stock").AttrOr("value", "") != "5" || d.Find("#id_price").AttrOr("value", "") != "12.00" {
				t.Fatalf("second merge: stock %q price %q", d.Find("#id_stock").AttrOr("value", ""), d.Find("#id_price").AttrOr("value", ""))
			}
			wantStatus(t, clerk.post(objURL, formOf(d, "form.model-form", nil)), http.StatusSeeOther)
			if cur := current(); cur.Stock != 5 || cur.Price.String() != "12.00" {
				t.Fatalf("after the second merge: %d %s", cur.Stock, cur.Price)
			}
		})

		t.Run("deleted meanwhile", func(t *testing.T) {
			clerkForm := parse(t, clerk.get(objURL))
			cur := current()
			octx := models.WithActor(ctx, models.Actor{Username: "boss", Source: models.SourceAdmin})
			if err := ts.store.Delete(octx, &models.Product{}, p.ID, 0); err != nil {
				t.Fatal(err)
			}
			resp := clerk.post(objURL, formOf(clerkForm, "form.model-form", map[string][]string{"name": {"Lámpara renacida"}, "stock": {"9"}}))
			wantStatus(t, resp, http.StatusNotFound)
			d := parse(t, resp)
			if !strings.Contains(text(d.Find(".deleted")), "deleted by boss") || d.Find("#id_name").AttrOr("value", "") != "Lámpara renacida" ||
				d.Find("#id_stock").AttrOr("value", "") != "9" || d.Find("form.model-form").AttrOr("action", "") != "/admin/products/new" {
				t.Fatalf("deleted page: %s", text(d.Find("main")))
			}
			resp = clerk.post("/admin/products/new", formOf(d, "form.model-form", nil))
			wantStatus(t, resp, http.StatusSeeOther)
			var again models.Product
			if err := ts.store.DB.Where("name = ?", "Lámpara renacida").Take(&again).Error; err != nil || again.Stock != 9 || again.Price.String() != cur.Price.String() {
				t.Fatalf("created anew: %v %+v", err, again)
			}
		})
	})
}
