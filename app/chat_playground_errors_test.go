package app

import (
	"net/http/httptest"
	"strings"
	"testing"

	"tienda/app/web"
)

// TestPlaygroundErrorsAreJSON: the playground's fetch (JSON in, event
// stream accepted) gets the JSON envelope for a refused request, with the
// message and the field, which chat.js shows; pages still get HTML.
func TestPlaygroundErrorsAreJSON(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		b := ts.signedIn("ana", false)
		b.get("/admin/chat")
		req := httptest.NewRequest("POST", "/admin/chat/stream", strings.NewReader(`{"message":"hola","temperature":7}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("X-Csrf-Token", b.csrf)
		r := b.send(req)
		if r.Status != 422 || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("bad temperature: %d %s %.300s", r.Status, r.Header.Get("Content-Type"), r.Body)
		}
		e := errorOf(t, r)
		if e.Code != web.CodeValidation || e.Fields["temperature"] == "" {
			t.Fatalf("envelope %+v", e)
		}
		// A page of the admin still answers its errors as HTML.
		if r := b.get("/admin/products/999999"); !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("page error as %s", r.Header.Get("Content-Type"))
		}
		// chat.js shows message, detail and fields, sends on Enter and keeps
		// the conversation in sessionStorage.
		js := string(ts.do("GET", "/static/js/chat.js", nil).Body)
		for _, want := range []string{"err.fields", "err.detail", `ev.key === "Enter" && !ev.shiftKey`, "sessionStorage"} {
			if !strings.Contains(js, want) {
				t.Errorf("chat.js lacks %s", want)
			}
		}
	})
}
