package admin_test

import (
	"io"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"tienda/models"
)

// FuzzFormBinding posts arbitrary form values to the add form of a
// registered model: whatever is typed, the answer is a redirect (saved)
// or the form again with its messages (422), never a 5xx, and a saved
// record passes the model's validation.
func FuzzFormBinding(f *testing.F) {
	h := newHarness(f, models.SQLite, registerWidgets)
	for _, seed := range [][5]string{
		{"Widget", "notes", "3", "1.50", "on"},
		{"", "", "", "", ""},
		{"a\x00b", "\xff\xfe", "-1", "1e9", "maybe"},
		{strings.Repeat("w", 41), strings.Repeat("n", 501), "1000", "99999999.999", ""},
		{"ok", "line\r\nbreak", "9223372036854775808", "-0.01", "on"},
		{"ok", "", " 7 ", "00012.30", "true"},
	} {
		f.Add(seed[0], seed[1], seed[2], seed[3], seed[4])
	}
	f.Fuzz(func(t *testing.T, name, notes, qty, price, active string) {
		form := url.Values{"name": {name}, "notes": {notes}, "qty": {qty}, "price": {price}}
		if active != "" {
			form.Set("active", active)
		}
		req := httptest.NewRequest("POST", "/admin/widgets/new", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Test-User", "root")
		r, err := h.app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(r.Body)
		r.Body.Close()
		switch r.StatusCode {
		case 303:
			var w Widget
			if err := h.store.DB.Order("id DESC").Take(&w).Error; err != nil {
				t.Fatal(err)
			}
			if err := h.store.Validate.Struct(&w); err != nil {
				t.Fatalf("saved a widget that fails validation: %+v: %v", w, err)
			}
		case 422:
			if !strings.Contains(string(body), `class="error"`) {
				t.Fatalf("422 without an inline message: %.300s", body)
			}
		default:
			t.Fatalf("form %v: status %d: %.300s", form, r.StatusCode, body)
		}
	})
}
