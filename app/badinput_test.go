package app

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"tienda/app/config"
	"tienda/app/web"
	"tienda/models"
)

// snapshot is what a refused request must leave as it was: every table a
// request could write, by count and by content of the records under test.
type snapshot struct {
	products, documents, users, history, keys, tokens int64
	product, document                                 string
}

func takeSnapshot(t *testing.T, ts *testServer, productID, documentID int64) snapshot {
	t.Helper()
	var s snapshot
	db := ts.store.DB
	for table, dst := range map[string]*int64{"products": &s.products, "documents": &s.documents, "users": &s.users,
		"history": &s.history, "api_keys": &s.keys, "refresh_tokens": &s.tokens} {
		if err := db.Table(table).Count(dst).Error; err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
	}
	var p models.Product
	if err := ts.store.Get(context.Background(), &p, productID); err != nil {
		t.Fatal(err)
	}
	var d models.Document
	if err := ts.store.Get(context.Background(), &d, documentID); err != nil {
		t.Fatal(err)
	}
	s.product = fmt.Sprintf("%s|%s|%s|%d|%d", p.Name, p.Description, p.Price, p.Stock, p.Version)
	s.document = fmt.Sprintf("%s|%s|%d", d.Title, d.Content, d.Version)
	return s
}

// TestBadInputEverywhere sends bad input to every route that takes input,
// API and admin forms, on both databases: NUL bytes, invalid UTF-8,
// overlong strings, numbers at and past the bounds, wrong types, duplicate
// keys, trailing data, huge arrays and objects, wrong content types and
// malformed headers. Each answer is a 4xx with the error envelope (or the
// admin form with its message), never a 500, and nothing is written.
func TestBadInputEverywhere(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, func(c *config.Config) {
			c.MaxRequestSize = 64 << 10
			c.Prod.RateRead = config.Rate{N: 1 << 20, Window: 60e9}
			c.Prod.RateWrite = config.Rate{N: 1 << 20, Window: 60e9}
			c.Prod.RateAuth = config.Rate{N: 1 << 20, Window: 60e9}
		})
		token := ts.staffToken("tess")
		r := ts.do("POST", "/api/v1/products", map[string]any{"name": "Intact", "description": "as it was", "price": "10.00", "stock": 5}, "Authorization", token)
		wantStatus(t, r, 201)
		var p models.Product
		r.JSON(t, &p)
		r = ts.do("POST", "/api/v1/documents", map[string]any{"title": "Intact doc", "content": "as it was"}, "Authorization", token)
		wantStatus(t, r, 201)
		var d models.Document
		r.JSON(t, &d)
		product := fmt.Sprintf("/api/v1/products/%d", p.ID)
		document := fmt.Sprintf("/api/v1/documents/%d", d.ID)
		before := takeSnapshot(t, ts, p.ID, d.ID)

		huge := "[" + strings.Repeat("1,", 20000) + "1]"
		many := "{"
		for i := range 5000 {
			many += fmt.Sprintf(`"u%d":1,`, i)
		}
		many += `"name":"x"}`
		productBodies := []struct {
			name, body string
			status     int
			field      string
		}{
			{"NUL in a string", `{"name":"a\u0000b","description":"","price":"1.00","stock":1}`, 422, "name"},
			{"invalid UTF-8", "{\"name\":\"a\xff\xfeb\",\"description\":\"\",\"price\":\"1.00\",\"stock\":1}", 422, "name"},
			{"control character", `{"name":"a\u0007b","description":"","price":"1.00","stock":1}`, 422, "name"},
			{"name too long", `{"name":"` + strings.Repeat("n", 81) + `","description":"","price":"1.00","stock":1}`, 422, "name"},
			{"description too long", `{"name":"x","description":"` + strings.Repeat("d", 201) + `","price":"1.00","stock":1}`, 422, "description"},
			{"price past the bound", `{"name":"x","description":"","price":"100000000.00","stock":1}`, 422, "price"},
			{"price negative", `{"name":"x","description":"","price":"-0.01","stock":1}`, 422, "price"},
			{"price three decimals", `{"name":"x","description":"","price":"1.001","stock":1}`, 422, "price"},
			{"price a bool", `{"name":"x","description":"","price":true,"stock":1}`, 422, "price"},
			{"price huge number", `{"name":"x","description":"","price":1e400,"stock":1}`, 422, "price"},
			{"stock past the bound", `{"name":"x","description":"","price":"1.00","stock":1000000001}`, 422, "stock"},
			{"stock 2^63-1", `{"name":"x","description":"","price":"1.00","stock":9223372036854775807}`, 422, "stock"},
			{"stock past int64", `{"name":"x","description":"","price":"1.00","stock":9223372036854775808}`, 422, "stock"},
			{"stock negative", `{"name":"x","description":"","price":"1.00","stock":-1}`, 422, "stock"},
			{"stock a fraction", `{"name":"x","description":"","price":"1.00","stock":1.5}`, 422, "stock"},
			{"stock a string", `{"name":"x","description":"","price":"1.00","stock":"many"}`, 422, "stock"},
			{"name a number", `{"name":5,"description":"","price":"1.00","stock":1}`, 422, "name"},
			{"name an array", `{"name":["x"],"description":"","price":"1.00","stock":1}`, 422, "name"},
			{"name null", `{"name":null,"description":"","price":"1.00","stock":1}`, 422, "name"},
			{"huge array", `{"name":` + huge + `,"description":"","price":"1.00","stock":1}`, 422, "name"},
			{"many unknown keys", many, 422, "_unknown"},
			{"unknown field", `{"name":"x","description":"","price":"1.00","stock":1,"color":"red"}`, 422, "color"},
			{"duplicate key", `{"name":"x","name":"y","description":"","price":"1.00","stock":1}`, 400, ""},
			{"trailing object", `{"name":"x","description":"","price":"1.00","stock":1}}{"x":1}`, 400, ""},
			{"trailing array", `{"name":"x","description":"","price":"1.00","stock":1}]`, 400, ""},
			{"two objects", `{"name":"x","description":"","price":"1.00","stock":1} {}`, 400, ""},
			{"not an object", `["name","x"]`, 400, ""},
			{"a string", `"x"`, 400, ""},
			{"malformed", `{"name":"x",`, 400, ""},
			{"empty", ``, 400, ""},
			{"nested too deep", strings.Repeat("[", 20000) + strings.Repeat("]", 20000), 400, ""},
			{"too large", `{"name":"` + strings.Repeat("x", 70<<10) + `"}`, 413, ""},
		}
		type call struct {
			method, path, ctype, body string
			hdr                       []string
		}
		send := func(c call) *testResponse {
			req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
			if c.ctype != "" {
				req.Header.Set("Content-Type", c.ctype)
			}
			req.Header.Set("Authorization", token)
			for i := 0; i+1 < len(c.hdr); i += 2 {
				req.Header.Set(c.hdr[i], c.hdr[i+1])
			}
			return ts.request(req)
		}
		check := func(t *testing.T, r *testResponse, status int, field string) {
			t.Helper()
			if r.Status != status {
				t.Fatalf("status %d, want %d: %.300s", r.Status, status, r.Body)
			}
			e := errorOf(t, r)
			if field != "" && e.Fields[field] == "" {
				t.Fatalf("no message on %q: %.300s", field, r.Body)
			}
			if after := takeSnapshot(t, ts, p.ID, d.ID); after != before {
				t.Fatalf("a refused request wrote:\nbefore %+v\nafter  %+v", before, after)
			}
		}
		for _, target := range []struct{ method, path string }{
			{"POST", "/api/v1/products"}, {"PUT", product}, {"PATCH", product},
		} {
			for _, tc := range productBodies {
				t.Run(target.method+" product: "+tc.name, func(t *testing.T) {
					check(t, send(call{target.method, target.path, "application/json", tc.body, []string{"If-Match", "*"}}), tc.status, tc.field)
				})
			}
		}
		documentBodies := []struct {
			name, body string
			status     int
			field      string
		}{
			{"NUL in title", `{"title":"a\u0000","content":"c"}`, 422, "title"},
			{"NUL in content", `{"title":"t","content":"a\u0000b"}`, 422, "content"},
			{"invalid UTF-8 in content", "{\"title\":\"t\",\"content\":\"\xc3\x28\"}", 422, "content"},
			{"content a number", `{"title":"t","content":7}`, 422, "content"},
			{"title missing", `{"content":"c"}`, 422, "title"},
			{"PUT without content", `{"title":"t"}`, 422, "content"},
		}
		for _, target := range []struct{ method, path string }{{"POST", "/api/v1/documents"}, {"PUT", document}} {
			for _, tc := range documentBodies {
				if target.method == "POST" && tc.name == "PUT without content" {
					continue
				}
				t.Run(target.method+" document: "+tc.name, func(t *testing.T) {
					check(t, send(call{target.method, target.path, "application/json", tc.body, []string{"If-Match", "*"}}), tc.status, tc.field)
				})
			}
		}
		others := []struct {
			name string
			c    call
			st   int
			fld  string
		}{
			{"text/plain body", call{"POST", "/api/v1/products", "text/plain", `{"name":"x","price":"1.00"}`, nil}, 415, ""},
			{"form body to the API", call{"POST", "/api/v1/products", "application/x-www-form-urlencoded", "name=x&price=1.00", nil}, 415, ""},
			{"no content type", call{"PATCH", product, "", `{"stock":1}`, []string{"If-Match", "*"}}, 415, ""},
			{"bad Content-Type parameters", call{"POST", "/api/v1/products", "application/json; charset", `{}`, nil}, 415, ""},
			{"compressed body", call{"POST", "/api/v1/products", "application/json", `{}`, []string{"Content-Encoding", "gzip"}}, 415, ""},
			{"weak If-Match", call{"PATCH", product, "application/json", `{"stock":9}`, []string{"If-Match", `W/"1"`}}, 412, ""},
			{"garbage If-Match", call{"DELETE", product, "", ``, []string{"If-Match", `garbage, "x", W/`}}, 412, ""},
			{"NUL in the search", call{"GET", "/api/v1/products?q=%00%27", "", "", nil}, 422, "q"},
			{"invalid UTF-8 in the search", call{"GET", "/api/v1/documents?q=%ff%fe", "", "", nil}, 422, "q"},
			{"search too long", call{"GET", "/api/v1/products?q=" + strings.Repeat("a", 201), "", "", nil}, 422, "q"},
			{"NUL in sort", call{"GET", "/api/v1/products?sort=%00", "", "", nil}, 422, "sort"},
			{"unknown sort", call{"GET", "/api/v1/products?sort=password", "", "", nil}, 422, "sort"},
			{"page zero", call{"GET", "/api/v1/products?page=0", "", "", nil}, 422, "page"},
			{"page huge", call{"GET", "/api/v1/products?page=99999999999999999999", "", "", nil}, 422, "page"},
			{"page_size past the bound", call{"GET", "/api/v1/products?page_size=101", "", "", nil}, 422, "page_size"},
			{"min_price NUL", call{"GET", "/api/v1/products?min_price=%00", "", "", nil}, 422, "min_price"},
			{"in_stock garbage", call{"GET", "/api/v1/products?in_stock=maybe", "", "", nil}, 422, "in_stock"},
			{"id not a number", call{"GET", "/api/v1/products/%00", "", "", nil}, 404, ""},
			{"id past int64", call{"PATCH", "/api/v1/products/99999999999999999999", "application/json", `{"stock":1}`, []string{"If-Match", "*"}}, 404, ""},
			{"search NUL", call{"POST", "/api/v1/documents/search", "application/json", `{"query":"a\u0000"}`, nil}, 422, "query"},
			{"chat invalid UTF-8", call{"POST", "/api/v1/chat", "application/json", "{\"message\":\"\xff\"}", nil}, 422, "message"},
			{"chat NUL in history", call{"POST", "/api/v1/chat", "application/json", `{"message":"hi","history":[{"role":"user","content":"\u0000"}]}`, nil}, 422, "history[0].content"},
			{"embeddings NUL", call{"POST", "/api/v1/embeddings", "application/json", `{"input":["ok","\u0000"]}`, nil}, 422, "input[1]"},
			{"API key name NUL", call{"POST", "/api/v1/api-keys", "application/json", `{"name":"a\u0000","scope":"read-only"}`, nil}, 422, "name"},
			{"API key past expiry", call{"POST", "/api/v1/api-keys", "application/json", `{"name":"a","scope":"read-only","expires_at":"2001-01-01T00:00:00Z"}`, nil}, 422, "expires_at"},
			{"API key expiry not a time", call{"POST", "/api/v1/api-keys", "application/json", `{"name":"a","scope":"read-only","expires_at":"soon"}`, nil}, 422, "expires_at"},
		}
		for _, tc := range others {
			t.Run(tc.name, func(t *testing.T) { check(t, send(tc.c), tc.st, tc.fld) })
		}
		// Without authentication: sign-in and refresh.
		anon := []struct {
			name, path, body string
			st               int
			fld              string
		}{
			{"sign-in NUL username", "/api/v1/auth/token", `{"username":"a\u0000'","password":"x"}`, 422, "username"},
			{"sign-in invalid UTF-8 password", "/api/v1/auth/token", "{\"username\":\"tess\",\"password\":\"\xff\"}", 422, "password"},
			{"sign-in username a number", "/api/v1/auth/token", `{"username":1,"password":"x"}`, 422, "username"},
			{"refresh NUL", "/api/v1/auth/refresh", `{"refresh_token":"\u0000"}`, 401, ""},
			{"refresh a number", "/api/v1/auth/refresh", `{"refresh_token":5}`, 422, "refresh_token"},
			{"logout trailing data", "/api/v1/auth/logout", `{"refresh_token":"x"}]`, 400, ""},
		}
		for _, tc := range anon {
			t.Run(tc.name, func(t *testing.T) {
				r := ts.do("POST", tc.path, tc.body)
				check(t, r, tc.st, tc.fld)
			})
		}
		// Header values with NUL bytes never reach a handler: fasthttp
		// refuses them while reading the request, and the answer is still
		// the envelope with the security headers (a real socket, since
		// app.Test refuses to send them at all).
		base := ts.listen()
		for _, h := range []string{"X-API-Key: tnd_\x00abc", "Authorization: Bearer a\x00b", "X-Correlation-ID: a\x00b", "If-Match: \"1\x00\""} {
			t.Run("raw header "+strings.Split(h, ":")[0], func(t *testing.T) {
				resp := rawRequest(t, base, "GET /api/v1/products HTTP/1.1\r\nHost: t\r\n"+h+"\r\n\r\n")
				if resp.status != 400 || !strings.Contains(resp.body, `"code":"BAD_REQUEST"`) || resp.header.Get("X-Content-Type-Options") == "" {
					t.Fatalf("%q: %d %v %s", h, resp.status, resp.header, resp.body)
				}
			})
		}
		// A correlation id that is not sane is replaced, not echoed.
		req := httptest.NewRequest("GET", "/api/v1/products", nil)
		req.Header.Set("Authorization", token)
		req.Header.Set(web.HeaderCorrelationID, "<script>")
		if r := ts.request(req); r.Status != 200 || r.Header.Get(web.HeaderCorrelationID) == "<script>" {
			t.Fatalf("correlation id: %d %q", r.Status, r.Header.Get(web.HeaderCorrelationID))
		}

		// The admin: forms keep what was typed and say what is wrong.
		b := ts.signedIn("una", true)
		b.get("/admin/") // a page, for the session's CSRF token
		before = takeSnapshot(t, ts, p.ID, d.ID)
		formCases := []struct {
			name, path string
			form       url.Values
			status     int
			errFor     string // the input whose message must show
		}{
			{"product NUL", "/admin/products/new", url.Values{"name": {"a\x00b"}, "description": {""}, "price": {"1.00"}, "stock": {"1"}}, 422, "name"},
			{"product invalid UTF-8", "/admin/products/new", url.Values{"name": {"a\xffb"}, "description": {""}, "price": {"1.00"}, "stock": {"1"}}, 422, "name"},
			{"product stock past the bound", "/admin/products/new", url.Values{"name": {"x"}, "description": {""}, "price": {"1.00"}, "stock": {"1000000001"}}, 422, "stock"},
			{"product price past the bound", "/admin/products/new", url.Values{"name": {"x"}, "description": {""}, "price": {"100000000.00"}, "stock": {"1"}}, 422, "price"},
			{"product stock not a number", "/admin/products/new", url.Values{"name": {"x"}, "description": {""}, "price": {"1.00"}, "stock": {"lots"}}, 422, "stock"},
			{"product change NUL", fmt.Sprintf("/admin/products/%d", p.ID), url.Values{"version": {fmt.Sprint(p.Version)}, "name": {"\x00"}, "description": {""}, "price": {"1.00"}, "stock": {"1"}}, 422, "name"},
			{"document NUL", "/admin/documents/new", url.Values{"title": {"t"}, "content": {"a\x00"}}, 422, "content"},
			{"user NUL", "/admin/users/new", url.Values{"username": {"a\x00"}, "email": {"a@example.com"}, "password": {"a-long-password-1"}}, 422, "username"},
		}
		for _, tc := range formCases {
			t.Run("admin "+tc.name, func(t *testing.T) {
				r := b.post(tc.path, tc.form)
				if r.Status != tc.status {
					t.Fatalf("status %d, want %d: %.400s", r.Status, tc.status, r.Body)
				}
				doc := parse(t, r)
				if msg := text(doc.Find("#id_" + tc.errFor + "_error")); msg == "" {
					t.Fatalf("no message next to %s: %s", tc.errFor, text(doc.Find("form")))
				}
				if after := takeSnapshot(t, ts, p.ID, d.ID); after != before {
					t.Fatalf("a refused form wrote:\nbefore %+v\nafter  %+v", before, after)
				}
			})
		}
		for _, q := range []string{"%00%27", "%ff", strings.Repeat("a", 300)} {
			for _, list := range []string{"products", "documents", "users"} {
				t.Run("admin list q="+q[:min(len(q), 8)]+" "+list, func(t *testing.T) {
					r := b.get("/admin/" + list + "?q=" + q)
					if r.Status != 422 || !strings.Contains(text(parse(t, r).Find("main")), "q: must") {
						t.Fatalf("admin %s list with q=%q: %d %s", list, q, r.Status, text(parse(t, r).Find("main")))
					}
				})
			}
		}
		lf := b.ts.browser()
		lf.get("/admin/login")
		for _, name := range []string{"a\x00b", "\xff\xfe"} {
			t.Run("admin login "+fmt.Sprintf("%q", name), func(t *testing.T) {
				r := lf.post("/admin/login", url.Values{"username": {name}, "password": {"whatever"}})
				if r.Status != 422 || text(parse(t, r).Find("#login-error")) == "" {
					t.Fatalf("admin login with %q: %d", name, r.Status)
				}
			})
		}
	})
}

type rawResponse struct {
	status int
	header http.Header
	body   string
}

// rawRequest writes a request byte for byte to the server at base and
// reads the answer.
func rawRequest(t *testing.T, base, request string) rawResponse {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return rawResponse{status: resp.StatusCode, header: resp.Header, body: string(b)}
}
