package graphql

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"tienda/app/web"
	"tienda/models"
)

// serve runs one operation through Serve in a Fiber app whose only other
// layer authenticates everyone as a staff user.
func serve(t *testing.T, h *Handler, query string) (int, map[string]any) {
	t.Helper()
	app := fiber.New()
	app.Post("/", func(c *fiber.Ctx) error {
		web.SetPrincipal(c, &web.Principal{UserID: 1, Username: "staff", Staff: true,
			Perms: models.NewPermSet("view_product", "view_document", "view_chat")})
		return c.Next()
	}, h.Serve)
	body, _ := json.Marshal(map[string]string{"query": query})
	req := httptest.NewRequest("POST", "/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	return resp.StatusCode, out
}

// TestPanicIsInternal: a resolver that panics (here: no store at all)
// answers INTERNAL with nothing of the panic, which is logged.
func TestPanicIsInternal(t *testing.T) {
	var logs bytes.Buffer
	h := New(Options{Log: slog.New(slog.NewJSONHandler(&logs, nil))})
	status, out := serve(t, h, `{ products { total } }`)
	b, _ := json.Marshal(out)
	if status != 200 || !strings.Contains(string(b), `"code":"INTERNAL"`) || !strings.Contains(string(b), `"message":"Internal server error."`) ||
		strings.Contains(string(b), "nil pointer") || strings.Contains(string(b), "runtime") {
		t.Fatalf("%d %s", status, b)
	}
	if !strings.Contains(logs.String(), "graphql resolver panic") || !strings.Contains(logs.String(), "nil pointer") {
		t.Fatalf("panic not logged: %s", logs.String())
	}
}

// TestDepthCountsFragments: a fragment's fields count at the depth where
// it is spread, inline fragments add no level. (No store: the operations
// that pass the limit fail later, which does not matter here.)
func TestDepthCountsFragments(t *testing.T) {
	h := New(Options{MaxDepth: 3, Introspection: true})
	for q, ok := range map[string]bool{
		`{ products { items { id } } }`:                                                                                                 true,
		`{ products { ...P } } fragment P on ProductPage { items { id } }`:                                                              true,
		`{ products { ...P } } fragment P on ProductPage { items { ... on Product { id } } }`:                                           true,
		`{ searchDocuments(query: "x") { document { index { state } } } }`:                                                              false,
		`{ ...Q } fragment Q on Query { searchDocuments(query: "x") { document { ...D } } } fragment D on Document { index { state } }`: false,
	} {
		status, out := serve(t, h, q)
		b, _ := json.Marshal(out)
		tooDeep := strings.Contains(string(b), "DEPTH_LIMIT_EXCEEDED")
		if ok == tooDeep {
			t.Fatalf("%s: %d %s", q, status, b)
		}
	}
}

func TestNames(t *testing.T) {
	for in, want := range map[string]string{"page_size": "pageSize", "top_k": "topK", "name": "name", "history[0].role": "history[0].role"} {
		if got := inputName(in); got != want {
			t.Fatalf("inputName(%q) = %q", in, got)
		}
	}
	for in, want := range map[string]string{"createdAt": "created_at", "-updatedAt": "-updated_at", "price": "price", "-id": "-id"} {
		if got := jsonName(in); got != want {
			t.Fatalf("jsonName(%q) = %q", in, got)
		}
	}
}
