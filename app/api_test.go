package app

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tienda/app/auth"
	"tienda/app/config"
	"tienda/app/web"
	"tienda/models"
	"tienda/models/testdb"
)

func TestHealthAndReady(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		for _, path := range []string{"/health", "/ready"} {
			resp := ts.do("GET", path, nil)
			if resp.Status != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "application/json") {
				t.Fatalf("%s: %d %s", path, resp.Status, resp.Body)
			}
		}
	})
}

func TestReadyFailsWhenDatabaseIsGone(t *testing.T) {
	ts := newTestServer(t, models.SQLite)
	_ = models.Close(ts.srv.db)
	resp := ts.do("GET", "/ready", nil)
	if resp.Status != 503 {
		t.Fatalf("ready with closed database: %d %s", resp.Status, resp.Body)
	}
	if strings.Contains(string(resp.Body), "sql") {
		t.Fatalf("readiness leaks database details: %s", resp.Body)
	}
	if got := ts.do("GET", "/health", nil).Status; got != 200 {
		t.Fatalf("health must stay 200 while the process lives, got %d", got)
	}
}

// apiError is the JSON error envelope.
type apiError struct {
	Error         string            `json:"error"`
	Detail        string            `json:"detail"`
	Code          string            `json:"code"`
	Fields        map[string]string `json:"fields"`
	CorrelationID string            `json:"correlation_id"`
}

func errorOf(t testing.TB, r *testResponse) apiError {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error response is %q, not JSON: %s", ct, r.Body)
	}
	var e apiError
	r.JSON(t, &e)
	if e.Error == "" || e.Code == "" || e.CorrelationID == "" {
		t.Fatalf("incomplete error envelope: %s", r.Body)
	}
	return e
}

func TestProductCRUD(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		auth := ts.staffToken("alice")

		resp := ts.do("POST", "/api/v1/products", `{"name":"Lámpara","description":"Brass desk lamp","price":"19.99","stock":3}`, "Authorization", auth)
		if resp.Status != 201 {
			t.Fatalf("create: %d %s", resp.Status, resp.Body)
		}
		var p map[string]any
		resp.JSON(t, &p)
		id := int64(p["id"].(float64))
		if loc := resp.Header.Get("Location"); loc != fmt.Sprintf("/api/v1/products/%d", id) {
			t.Fatalf("Location = %q", loc)
		}
		if resp.Header.Get("ETag") != `"1"` || p["version"].(float64) != 1 {
			t.Fatalf("ETag %q version %v", resp.Header.Get("ETag"), p["version"])
		}
		if p["price"] != 19.99 || p["stock"].(float64) != 3 || p["name"] != "Lámpara" {
			t.Fatalf("created product: %s", resp.Body)
		}
		path := fmt.Sprintf("/api/v1/products/%d", id)

		got := ts.do("GET", path, nil, "Authorization", auth)
		if got.Status != 200 || got.Header.Get("ETag") != `"1"` {
			t.Fatalf("get: %d %s", got.Status, got.Body)
		}
		if nm := ts.do("GET", path, nil, "Authorization", auth, "If-None-Match", `"1"`); nm.Status != 304 {
			t.Fatalf("If-None-Match current: %d", nm.Status)
		}

		// PATCH changes only what was sent.
		patched := ts.do("PATCH", path, `{"stock":7}`, "Authorization", auth, "If-Match", `"1"`)
		if patched.Status != 200 {
			t.Fatalf("patch: %d %s", patched.Status, patched.Body)
		}
		pm := patched.Map(t)
		if pm["stock"].(float64) != 7 || pm["name"] != "Lámpara" || pm["price"] != 19.99 || pm["version"].(float64) != 2 {
			t.Fatalf("patched: %s", patched.Body)
		}

		// A stale If-Match changes nothing.
		stale := ts.do("PATCH", path, `{"stock":1}`, "Authorization", auth, "If-Match", `"1"`)
		if stale.Status != 412 || errorOf(t, stale).Code != "PRECONDITION_FAILED" {
			t.Fatalf("stale patch: %d %s", stale.Status, stale.Body)
		}
		if after := ts.do("GET", path, nil, "Authorization", auth).Map(t); after["stock"].(float64) != 7 {
			t.Fatalf("stale write changed the record: %v", after)
		}

		// PUT replaces every writable field and needs all of them: each
		// missing one is named, and nothing is erased.
		missing := ts.do("PUT", path, `{"name":"Only name"}`, "Authorization", auth, "If-Match", `"2"`)
		if missing.Status != 422 {
			t.Fatalf("PUT with missing fields: %d %s", missing.Status, missing.Body)
		}
		if f := errorOf(t, missing).Fields; f["description"] == "" || f["price"] == "" || f["stock"] == "" || f["name"] != "" {
			t.Fatalf("PUT with missing fields names %v", f)
		}
		put := ts.do("PUT", path, `{"name":"Lamp","description":"","price":5,"stock":0}`, "Authorization", auth, "If-Match", `"2"`)
		if put.Status != 200 {
			t.Fatalf("put: %d %s", put.Status, put.Body)
		}
		if pm := put.Map(t); pm["price"] != 5.0 || pm["description"] != "" || pm["version"].(float64) != 3 {
			t.Fatalf("put result: %s", put.Body)
		}

		// Read-only fields in the body are ignored, not applied.
		ro := ts.do("PATCH", path, `{"id":999,"version":99,"stock":2}`, "Authorization", auth, "If-Match", `"3"`)
		if ro.Status != 200 || ro.Map(t)["id"].(float64) != float64(id) {
			t.Fatalf("read-only fields: %d %s", ro.Status, ro.Body)
		}

		if del := ts.do("DELETE", path, nil, "Authorization", auth, "If-Match", `"1"`); del.Status != 412 {
			t.Fatalf("stale delete: %d %s", del.Status, del.Body)
		}
		if del := ts.do("DELETE", path, nil, "Authorization", auth, "If-Match", `"4"`); del.Status != 204 {
			t.Fatalf("delete: %d %s", del.Status, del.Body)
		}
		if gone := ts.do("GET", path, nil, "Authorization", auth); gone.Status != 404 || errorOf(t, gone).Code != "NOT_FOUND" {
			t.Fatalf("deleted product: %d %s", gone.Status, gone.Body)
		}
		if del := ts.do("DELETE", path, nil, "Authorization", auth); del.Status != 404 {
			t.Fatalf("second delete: %d", del.Status)
		}

		// History recorded every API write with its actor and changes.
		entries, err := ts.store.History(t.Context(), "product", id, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 5 {
			t.Fatalf("history has %d entries, want 5 (create, patch, put, patch, delete)", len(entries))
		}
		for _, e := range entries {
			if e.ActorName != "alice" || e.Source != string(models.SourceAPI) {
				t.Fatalf("history entry without actor/source: %+v", e)
			}
		}
	})
}

func TestProductValidation(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		auth := ts.staffToken("bob")
		valid := `{"name":"Chair","description":"Oak","price":"10.50","stock":1}`
		long := strings.Repeat("x", 81)
		cases := []struct {
			name, body, ctype string
			status            int
			code, field       string
		}{
			{"malformed JSON", `{"name":`, "", 400, "BAD_REQUEST", ""},
			{"not an object", `[1,2]`, "", 400, "BAD_REQUEST", ""},
			{"wrong content type", valid, "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE", ""},
			{"empty body", ``, "", 400, "BAD_REQUEST", ""},
			{"unknown field", `{"name":"A","description":"","price":1,"stock":1,"colour":"red"}`, "", 422, "VALIDATION_ERROR", "colour"},
			{"missing name", `{"description":"","price":1,"stock":1}`, "", 422, "VALIDATION_ERROR", "name"},
			{"empty name", `{"name":"","description":"","price":1,"stock":1}`, "", 422, "VALIDATION_ERROR", "name"},
			{"name too long", `{"name":"` + long + `","description":"","price":1,"stock":1}`, "", 422, "VALIDATION_ERROR", "name"},
			{"description too long", `{"name":"A","description":"` + strings.Repeat("d", 201) + `","price":1,"stock":1}`, "", 422, "VALIDATION_ERROR", "description"},
			{"negative price", `{"name":"A","description":"","price":-1,"stock":1}`, "", 422, "VALIDATION_ERROR", "price"},
			{"three decimals", `{"name":"A","description":"","price":"1.999","stock":1}`, "", 422, "VALIDATION_ERROR", "price"},
			{"price not a number", `{"name":"A","description":"","price":"cheap","stock":1}`, "", 422, "VALIDATION_ERROR", "price"},
			{"price too large", `{"name":"A","description":"","price":"99999999999","stock":1}`, "", 422, "VALIDATION_ERROR", "price"},
			{"negative stock", `{"name":"A","description":"","price":1,"stock":-1}`, "", 422, "VALIDATION_ERROR", "stock"},
			{"fractional stock", `{"name":"A","description":"","price":1,"stock":1.5}`, "", 422, "VALIDATION_ERROR", "stock"},
			{"stock as string", `{"name":"A","description":"","price":1,"stock":"many"}`, "", 422, "VALIDATION_ERROR", "stock"},
			{"name as number", `{"name":5,"description":"","price":1,"stock":1}`, "", 422, "VALIDATION_ERROR", "name"},
			{"null name", `{"name":null,"description":"","price":1,"stock":1}`, "", 422, "VALIDATION_ERROR", "name"},
			{"control characters in name", `{"name":"a\u0000b","description":"","price":1,"stock":1}`, "", 422, "VALIDATION_ERROR", "name"},
			{"10000-character name", `{"name":"` + strings.Repeat("n", 10000) + `","description":"","price":1,"stock":1}`, "", 422, "VALIDATION_ERROR", "name"},
			{"whitespace-only name", `{"name":"   ","description":"","price":1,"stock":1}`, "", 422, "VALIDATION_ERROR", "name"},
			{"NaN price", `{"name":"A","description":"","price":"NaN","stock":1}`, "", 422, "VALIDATION_ERROR", "price"},
			{"Infinity price", `{"name":"A","description":"","price":"Infinity","stock":1}`, "", 422, "VALIDATION_ERROR", "price"},
			{"bare NaN is not JSON", `{"name":"A","description":"","price":NaN,"stock":1}`, "", 400, "BAD_REQUEST", ""},
			{"1e400 price", `{"name":"A","description":"","price":1e400,"stock":1}`, "", 422, "VALIDATION_ERROR", "price"},
			{"exponent price", `{"name":"A","description":"","price":"1e3","stock":1}`, "", 422, "VALIDATION_ERROR", "price"},
			{"stock beyond int64", `{"name":"A","description":"","price":1,"stock":9223372036854775808}`, "", 422, "VALIDATION_ERROR", "stock"},
			{"stock as boolean", `{"name":"A","description":"","price":1,"stock":true}`, "", 422, "VALIDATION_ERROR", "stock"},
			{"price as object", `{"name":"A","description":"","price":{"amount":1},"stock":1}`, "", 422, "VALIDATION_ERROR", "price"},
			{"trailing garbage", `{"name":"A","description":"","price":1,"stock":1} x`, "", 400, "BAD_REQUEST", ""},
			{"duplicate keys", `{"name":"A","name":"B","description":"","price":1,"stock":1}`, "", 400, "BAD_REQUEST", ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				req := httptest.NewRequest("POST", "/api/v1/products", strings.NewReader(tc.body))
				ct := tc.ctype
				if ct == "" {
					ct = "application/json"
				}
				req.Header.Set("Content-Type", ct)
				req.Header.Set("Authorization", auth)
				resp := ts.request(req)
				if resp.Status != tc.status {
					t.Fatalf("status %d, want %d: %s", resp.Status, tc.status, resp.Body)
				}
				e := errorOf(t, resp)
				if e.Code != tc.code {
					t.Fatalf("code %q, want %q", e.Code, tc.code)
				}
				if tc.field != "" && e.Fields[tc.field] == "" {
					t.Fatalf("no message for field %q: %s", tc.field, resp.Body)
				}
			})
		}
		// Nothing of the bad input was stored.
		list := ts.do("GET", "/api/v1/products", nil, "Authorization", auth).Map(t)
		if list["total"].(float64) != 0 {
			t.Fatalf("bad input stored rows: %v", list)
		}
	})
}

func TestProductListing(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		auth := ts.staffToken("carol")
		if _, err := ts.store.Seed(t.Context(), 45, 0); err != nil {
			t.Fatal(err)
		}
		extra := []string{
			`{"name":"Lámpara de pie","description":"Floor lamp 100% brass","price":"120.00","stock":0}`,
			`{"name":"Lamp_shade","description":"A shade","price":"0.00","stock":4}`,
		}
		for _, b := range extra {
			if r := ts.do("POST", "/api/v1/products", b, "Authorization", auth); r.Status != 201 {
				t.Fatalf("create: %d %s", r.Status, r.Body)
			}
		}
		type page struct {
			Items []struct {
				ID    int64       `json:"id"`
				Name  string      `json:"name"`
				Price json.Number `json:"price"`
				Stock int64       `json:"stock"`
			} `json:"items"`
			Total    int64 `json:"total"`
			Page     int   `json:"page"`
			PageSize int   `json:"page_size"`
			HasNext  bool  `json:"has_next"`
		}
		get := func(q string) page {
			t.Helper()
			r := ts.do("GET", "/api/v1/products?"+q, nil, "Authorization", auth)
			if r.Status != 200 {
				t.Fatalf("list %q: %d %s", q, r.Status, r.Body)
			}
			var p page
			r.JSON(t, &p)
			return p
		}
		p := get("")
		if p.Total != 47 || len(p.Items) != 20 || p.Page != 1 || p.PageSize != 20 || !p.HasNext {
			t.Fatalf("default page: total %d items %d page %d size %d next %v", p.Total, len(p.Items), p.Page, p.PageSize, p.HasNext)
		}
		last := get("page=3&page_size=20")
		if len(last.Items) != 7 || last.HasNext {
			t.Fatalf("last page: %d items, has_next %v", len(last.Items), last.HasNext)
		}
		if beyond := get("page=9"); len(beyond.Items) != 0 || beyond.HasNext {
			t.Fatalf("page past the end: %+v", beyond)
		}
		// Search is case-insensitive, over name and description, and
		// treats LIKE wildcards literally.
		if s := get("q=l%C3%A1mpara"); s.Total != 1 || s.Items[0].Name != "Lámpara de pie" {
			t.Fatalf("search lámpara: %+v", s)
		}
		if s := get("q=" + url.QueryEscape("100%")); s.Total != 1 {
			t.Fatalf("search 100%%: %+v", s)
		}
		if s := get("q=" + url.QueryEscape("p_shade")); s.Total != 1 {
			t.Fatalf("search with underscore: %+v", s)
		}
		if s := get("q=" + url.QueryEscape("%")); s.Total != 1 {
			t.Fatalf("a lone %% must match literally: %+v", s)
		}
		// SQL and script payloads are searched for as text.
		for _, q := range []string{"' OR 1=1 --", "'; DROP TABLE products; --", "<script>alert(1)</script>", `\`, "%_%"} {
			if s := get("q=" + url.QueryEscape(q)); s.Total != 0 {
				t.Fatalf("payload %q matched %d rows", q, s.Total)
			}
		}
		if all := get(""); all.Total != 47 {
			t.Fatalf("payloads changed the table: %d rows", all.Total)
		}
		// Sorting.
		byPrice := get("sort=-price&page_size=100")
		for i := 1; i < len(byPrice.Items); i++ {
			a, _ := byPrice.Items[i-1].Price.Float64()
			b, _ := byPrice.Items[i].Price.Float64()
			if a < b {
				t.Fatalf("sort=-price out of order at %d: %s < %s", i, byPrice.Items[i-1].Price, byPrice.Items[i].Price)
			}
		}
		byName := get("sort=name&page_size=3")
		if byName.Items[0].Name != "Lamp_shade" {
			t.Fatalf("sort=name first = %q", byName.Items[0].Name)
		}
		// Filters.
		for _, it := range get("in_stock=false&page_size=100").Items {
			if it.Stock != 0 {
				t.Fatalf("in_stock=false returned stock %d", it.Stock)
			}
		}
		ranged := get("min_price=100&max_price=200.5&page_size=100")
		for _, it := range ranged.Items {
			v, _ := it.Price.Float64()
			if v < 100 || v > 200.5 {
				t.Fatalf("price %s outside 100..200.5", it.Price)
			}
		}
		if ranged.Total == 0 {
			t.Fatal("price range matched nothing")
		}

		bad := []struct{ q, field string }{
			{"page=0", "page"}, {"page=abc", "page"}, {"page_size=101", "page_size"}, {"page_size=0", "page_size"},
			{"sort=password", "sort"}, {"sort=name%3Bdrop%20table%20products", "sort"}, {"min_price=-1", "min_price"},
			{"max_price=abc", "max_price"}, {"in_stock=maybe", "in_stock"}, {"page=-1", "page"},
			{"page_size=100000", "page_size"}, {"sort=unknown", "sort"}, {"sort=-", "sort"},
			{"q=" + strings.Repeat("q", 201), "q"},
		}
		for _, b := range bad {
			r := ts.do("GET", "/api/v1/products?"+b.q, nil, "Authorization", auth)
			if r.Status != 422 || errorOf(t, r).Fields[b.field] == "" {
				t.Fatalf("%s: %d %s", b.q, r.Status, r.Body)
			}
		}
	})
}

func TestDocumentsAPI(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		auth := ts.staffToken("dora")
		r := ts.do("POST", "/api/v1/documents", `{"title":"Returns","content":"Lamps can be returned within 30 days."}`, "Authorization", auth)
		if r.Status != 201 {
			t.Fatalf("create document: %d %s", r.Status, r.Body)
		}
		if r := ts.do("POST", "/api/v1/documents", `{"title":"","content":""}`, "Authorization", auth); r.Status != 422 {
			t.Fatalf("empty document: %d", r.Status)
		} else if e := errorOf(t, r); e.Fields["title"] == "" || e.Fields["content"] == "" {
			t.Fatalf("fields: %v", e.Fields)
		}
		big := `{"title":"Big","content":"` + strings.Repeat("a", 1<<20+1) + `"}`
		if r := ts.do("POST", "/api/v1/documents", big, "Authorization", auth); r.Status != 422 && r.Status != 413 {
			t.Fatalf("content over 1 MB: %d", r.Status)
		}
		list := ts.do("GET", "/api/v1/documents?q=returned", nil, "Authorization", auth).Map(t)
		if list["total"].(float64) != 1 {
			t.Fatalf("document search: %v", list)
		}
	})
}

// noAuthRateLimit leaves login attempts to the login throttle alone (the
// per-client rate limit on auth endpoints has tests of its own).
func noAuthRateLimit(c *config.Config) { c.Prod.RateAuth = config.Rate{} }

func TestAuthFlows(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, noAuthRateLimit)
		pw := ts.createUser("erin", true, false)

		// Wrong password, unknown user and inactive user look the same.
		inactivePW := ts.createUser("frank", true, false)
		var u models.User
		if err := ts.store.DB.Where("username = ?", "frank").Take(&u).Error; err != nil {
			t.Fatal(err)
		}
		if err := ts.store.DB.Model(&u).Update("is_active", false).Error; err != nil {
			t.Fatal(err)
		}
		var bodies []string
		for _, c := range []struct{ user, pw string }{{"erin", "wrong-password"}, {"nobody", "whatever-pass"}, {"frank", inactivePW}} {
			r := ts.do("POST", "/api/v1/auth/token", map[string]string{"username": c.user, "password": c.pw})
			if r.Status != 401 || r.Header.Get("WWW-Authenticate") == "" {
				t.Fatalf("login %s: %d", c.user, r.Status)
			}
			e := errorOf(t, r)
			bodies = append(bodies, e.Error+"|"+e.Detail)
		}
		if bodies[0] != bodies[1] || bodies[1] != bodies[2] {
			t.Fatalf("login failures differ (leak which users exist): %q", bodies)
		}

		// Form login works too; usernames are case-insensitive.
		req := httptest.NewRequest("POST", "/api/v1/auth/token", strings.NewReader(url.Values{"username": {"ERIN"}, "password": {pw}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if r := ts.request(req); r.Status != 200 {
			t.Fatalf("form login: %d %s", r.Status, r.Body)
		}

		pair := ts.login("erin", pw)
		if pair.TokenType != "bearer" || pair.ExpiresIn != 900 || pair.AccessToken == "" || pair.RefreshToken == "" {
			t.Fatalf("pair: %+v", pair)
		}
		bearer := "Bearer " + pair.AccessToken
		if r := ts.do("GET", "/api/v1/products", nil, "Authorization", bearer); r.Status != 200 {
			t.Fatalf("access token: %d", r.Status)
		}
		// A refresh token is not an access token.
		if r := ts.do("GET", "/api/v1/products", nil, "Authorization", "Bearer "+pair.RefreshToken); r.Status != 401 {
			t.Fatalf("refresh token used as access: %d", r.Status)
		}
		// And an access token is not a refresh token.
		if r := ts.do("POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": pair.AccessToken}); r.Status != 401 {
			t.Fatalf("access token used to refresh: %d", r.Status)
		}

		// Rotation: the new pair works, the old refresh token does not,
		// and presenting it again revokes the whole family.
		r := ts.do("POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": pair.RefreshToken})
		if r.Status != 200 {
			t.Fatalf("refresh: %d %s", r.Status, r.Body)
		}
		var next auth.TokenPair
		r.JSON(t, &next)
		if next.RefreshToken == pair.RefreshToken {
			t.Fatal("refresh did not rotate")
		}
		if r := ts.do("POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": pair.RefreshToken}); r.Status != 401 {
			t.Fatalf("reused refresh token: %d", r.Status)
		}
		if r := ts.do("POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": next.RefreshToken}); r.Status != 401 {
			t.Fatalf("family not revoked after reuse: %d", r.Status)
		}

		// Logout revokes.
		fresh := ts.login("erin", pw)
		if r := ts.do("POST", "/api/v1/auth/logout", map[string]string{"refresh_token": fresh.RefreshToken}); r.Status != 204 {
			t.Fatalf("logout: %d %s", r.Status, r.Body)
		}
		if r := ts.do("POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": fresh.RefreshToken}); r.Status != 401 {
			t.Fatalf("refresh after logout: %d", r.Status)
		}
	})
}

func TestBearerTokenChecks(t *testing.T) {
	ts := newTestServer(t, models.SQLite)
	pw := ts.createUser("gina", true, false)
	good := ts.login("gina", pw)
	key := auth.SigningKey(ts.srv.cfg.SecretKey)
	var issued auth.Claims
	if _, _, err := jwt.NewParser().ParseUnverified(good.AccessToken, &issued); err != nil {
		t.Fatal(err)
	}
	claims := func(edit func(*auth.Claims)) *auth.Claims {
		now := time.Now()
		c := &auth.Claims{Type: auth.TypAccess, Username: "gina", Staff: true, Family: issued.Family}
		c.Issuer, c.Audience, c.Subject, c.ID = auth.Issuer, jwt.ClaimStrings{auth.Audience}, "1", "x"
		c.IssuedAt, c.ExpiresAt = jwt.NewNumericDate(now), jwt.NewNumericDate(now.Add(time.Minute))
		edit(c)
		return c
	}
	sign := func(m jwt.SigningMethod, k any, c *auth.Claims) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	cases := []struct {
		name  string
		token string
	}{
		{"missing", ""},
		{"garbage", "Bearer not-a-jwt"},
		{"wrong scheme", "Basic " + good.AccessToken},
		{"alg none", "Bearer " + sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(func(*auth.Claims) {}))},
		{"HS512", "Bearer " + sign(jwt.SigningMethodHS512, key, claims(func(*auth.Claims) {}))},
		{"wrong key", "Bearer " + sign(jwt.SigningMethodHS256, []byte("another-key-another-key-another-key"), claims(func(*auth.Claims) {}))},
		{"expired", "Bearer " + sign(jwt.SigningMethodHS256, key, claims(func(c *auth.Claims) { c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Minute)) }))},
		{"wrong issuer", "Bearer " + sign(jwt.SigningMethodHS256, key, claims(func(c *auth.Claims) { c.Issuer = "evil" }))},
		{"wrong audience", "Bearer " + sign(jwt.SigningMethodHS256, key, claims(func(c *auth.Claims) { c.Audience = jwt.ClaimStrings{"other"} }))},
		{"no subject", "Bearer " + sign(jwt.SigningMethodHS256, key, claims(func(c *auth.Claims) { c.Subject = "" }))},
		{"no jti", "Bearer " + sign(jwt.SigningMethodHS256, key, claims(func(c *auth.Claims) { c.ID = "" }))},
		{"refresh type", "Bearer " + sign(jwt.SigningMethodHS256, key, claims(func(c *auth.Claims) { c.Type = auth.TypRefresh }))},
		{"issued in the future", "Bearer " + sign(jwt.SigningMethodHS256, key, claims(func(c *auth.Claims) { c.IssuedAt = jwt.NewNumericDate(time.Now().Add(time.Hour)) }))},
		{"unknown user", "Bearer " + sign(jwt.SigningMethodHS256, key, claims(func(c *auth.Claims) { c.Subject = "999" }))},
		{"no session family", "Bearer " + sign(jwt.SigningMethodHS256, key, claims(func(c *auth.Claims) { c.Family = "" }))},
		{"another session's family", "Bearer " + sign(jwt.SigningMethodHS256, key, claims(func(c *auth.Claims) { c.Family = "not-a-family" }))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.do("GET", "/api/v1/products", nil, "Authorization", tc.token)
			if r.Status != 401 || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("status %d, WWW-Authenticate %q", r.Status, r.Header.Get("WWW-Authenticate"))
			}
			if errorOf(t, r).Code != "UNAUTHORIZED" {
				t.Fatal("code")
			}
		})
	}
	// The same claims, correctly signed, pass: the cases above fail for
	// the one reason each names.
	ok := "Bearer " + sign(jwt.SigningMethodHS256, key, claims(func(*auth.Claims) {}))
	if r := ts.do("GET", "/api/v1/products", nil, "Authorization", ok); r.Status != 200 {
		t.Fatalf("control token: %d %s", r.Status, r.Body)
	}
}

func TestPermissions(t *testing.T) {
	ts := newTestServer(t, models.SQLite)
	// Permissions are data: the "API readers" group (migration 00007) may
	// read, an account with no permission may not even do that.
	pw := ts.createUser("viewer", false, false, "API readers")
	viewer := "Bearer " + ts.login("viewer", pw).AccessToken
	staff := ts.staffToken("staffer")
	if r := ts.do("GET", "/api/v1/products", nil, "Authorization", viewer); r.Status != 200 {
		t.Fatalf("non-staff read: %d", r.Status)
	}
	pw = ts.createUser("nobody", false, false)
	nobody := "Bearer " + ts.login("nobody", pw).AccessToken
	if r := ts.do("GET", "/api/v1/products", nil, "Authorization", nobody); r.Status != 403 || !strings.Contains(errorOf(t, r).Detail, "view_product") {
		t.Fatalf("read without view_product: %d %s", r.Status, r.Body)
	}
	body := `{"name":"X","description":"","price":1,"stock":1}`
	if r := ts.do("POST", "/api/v1/products", body, "Authorization", viewer); r.Status != 403 || errorOf(t, r).Code != "FORBIDDEN" {
		t.Fatalf("non-staff write: %d %s", r.Status, r.Body)
	}
	if r := ts.do("POST", "/api/v1/products", body, "Authorization", staff); r.Status != 201 {
		t.Fatalf("staff write: %d", r.Status)
	}
}

func TestLoginThrottle(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, noAuthRateLimit)
		pw := ts.createUser("hank", true, false)
		for i := 0; i < 5; i++ {
			if r := ts.do("POST", "/api/v1/auth/token", map[string]string{"username": "hank", "password": "wrong-" + strconv.Itoa(i)}); r.Status != 401 {
				t.Fatalf("attempt %d: %d", i, r.Status)
			}
		}
		// Now even the right password is refused, with a clear 429.
		r := ts.do("POST", "/api/v1/auth/token", map[string]string{"username": "hank", "password": pw})
		if r.Status != 429 || r.Header.Get("Retry-After") == "" || errorOf(t, r).Code != "RATE_LIMITED" {
			t.Fatalf("throttled login: %d %s", r.Status, r.Body)
		}
		// An unknown username is throttled the same way (no existence leak).
		for i := 0; i < 5; i++ {
			ts.do("POST", "/api/v1/auth/token", map[string]string{"username": "ghost", "password": "x"})
		}
		r2 := ts.do("POST", "/api/v1/auth/token", map[string]string{"username": "ghost", "password": "x"})
		if r2.Status != 429 || errorOf(t, r2).Error != errorOf(t, r).Error {
			t.Fatalf("unknown user throttling differs: %d %s", r2.Status, r2.Body)
		}
	})
}

func TestConcurrentUpdatesLoseNothing(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		auth := ts.staffToken("ivan")
		r := ts.do("POST", "/api/v1/products", `{"name":"Race","description":"","price":1,"stock":0}`, "Authorization", auth)
		path := r.Header.Get("Location")
		// Ten writers all claim version 1: exactly one may win.
		var wg sync.WaitGroup
		codes := make([]int, 10)
		for i := range codes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req := httptest.NewRequest("PATCH", path, strings.NewReader(fmt.Sprintf(`{"stock":%d}`, i+1)))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", auth)
				req.Header.Set("If-Match", `"1"`)
				resp, err := ts.srv.app.Test(req, -1)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				codes[i] = resp.StatusCode
			}()
		}
		wg.Wait()
		won := 0
		for _, c := range codes {
			switch c {
			case 200:
				won++
			case 412:
			default:
				t.Fatalf("unexpected status %d among %v", c, codes)
			}
		}
		if won != 1 {
			t.Fatalf("%d writers won with the same If-Match, want 1: %v", won, codes)
		}
	})
}

func TestUnknownRoutesAndMethods(t *testing.T) {
	ts := newTestServer(t, models.SQLite)
	auth := ts.staffToken("jane")
	if r := ts.do("GET", "/api/v1/nothing", nil, "Authorization", auth); r.Status != 404 || errorOf(t, r).Code != "NOT_FOUND" {
		t.Fatalf("unknown route: %d %s", r.Status, r.Body)
	}
	if r := ts.do("GET", "/api/v1/products/abc", nil, "Authorization", auth); r.Status != 404 {
		t.Fatalf("non-numeric id: %d", r.Status)
	}
	if r := ts.do("GET", "/api/v1/products/99999999999999999999", nil, "Authorization", auth); r.Status != 404 {
		t.Fatalf("overflowing id: %d", r.Status)
	}
}

func TestErrorsCarryCorrelationID(t *testing.T) {
	ts := newTestServer(t, models.SQLite)
	r := ts.do("GET", "/api/v1/products", nil, "X-Correlation-ID", "req-42")
	if r.Header.Get("X-Correlation-ID") != "req-42" || errorOf(t, r).CorrelationID != "req-42" {
		t.Fatalf("correlation id not echoed: %v %s", r.Header, r.Body)
	}
	bad := ts.do("GET", "/health", nil, "X-Correlation-ID", strings.Repeat("a", 500))
	if got := bad.Header.Get("X-Correlation-ID"); got == "" || len(got) > 128 {
		t.Fatalf("absurd correlation id kept: %q", got)
	}
	if !strings.Contains(ts.logs.String(), `"correlation_id":"req-42"`) {
		t.Fatal("access log line lacks the correlation id")
	}
}

func TestSecretsStayOutOfLogs(t *testing.T) {
	ts := newTestServer(t, models.SQLite)
	pw := ts.createUser("kate", true, false)
	pair := ts.login("kate", pw)
	ts.do("POST", "/api/v1/auth/token", map[string]string{"username": "kate", "password": "a-wrong-secret-password"})
	ts.do("POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": pair.RefreshToken})
	ts.do("GET", "/api/v1/products", nil, "Authorization", "Bearer "+pair.AccessToken)
	logs := ts.logs.String()
	for _, secret := range []string{pw, "a-wrong-secret-password", pair.AccessToken, pair.RefreshToken, ts.srv.cfg.SecretKey} {
		if strings.Contains(logs, secret) {
			t.Fatalf("a secret reached the logs")
		}
	}
}

// TestThrottleSharedAcrossInstances runs two servers over one shared store
// (the database, or Redis when TEST_REDIS_URL is set): failures counted by
// one instance lock the account on the other.
func TestThrottleSharedAcrossInstances(t *testing.T) {
	stores := map[string]func(*config.Config){"database": func(*config.Config) {}}
	if url := os.Getenv("TEST_REDIS_URL"); url != "" {
		prefix := "test-shared-" + web.NewID() + ":" // one namespace for both instances
		stores["redis"] = func(c *config.Config) { c.RedisURL, c.Prod.RedisPrefix = url, prefix }
	}
	for name, edit := range stores {
		t.Run(name, func(t *testing.T) {
			db := testdb.Open(t, models.SQLite)
			a := newTestServerOn(t, db, edit, noAuthRateLimit)
			b := newTestServerOn(t, db, edit, noAuthRateLimit)
			user := "user" + web.NewID()[:8] // Redis keeps counts between runs
			pw := a.createUser(user, true, false)
			for i := range 5 {
				srv := a
				if i%2 == 1 {
					srv = b
				}
				srv.do("POST", "/api/v1/auth/token", map[string]string{"username": user, "password": "wrong"})
			}
			if r := b.do("POST", "/api/v1/auth/token", map[string]string{"username": user, "password": pw}); r.Status != 429 {
				t.Fatalf("second instance did not see the shared failures: %d %s", r.Status, r.Body)
			}
		})
	}
}

func TestMethodNotAllowedAndInternalErrors(t *testing.T) {
	ts := newTestServer(t, models.SQLite)
	auth := ts.staffToken("lena")
	r := ts.do("PATCH", "/api/v1/products", `{}`, "Authorization", auth)
	if r.Status != 405 || errorOf(t, r).Code != "METHOD_NOT_ALLOWED" {
		t.Fatalf("PATCH on the collection: %d %s", r.Status, r.Body)
	}
	// Drop the table under the running server: the client gets a plain
	// 500 envelope; the log gets the cause with the correlation id.
	if err := ts.store.DB.Exec("DROP TABLE products").Error; err != nil {
		t.Fatal(err)
	}
	r = ts.do("GET", "/api/v1/products", nil, "Authorization", auth, "X-Correlation-ID", "boom-1")
	e := errorOf(t, r)
	if r.Status != 500 || e.Code != "INTERNAL" {
		t.Fatalf("internal error: %d %s", r.Status, r.Body)
	}
	body := strings.ToLower(string(r.Body))
	for _, leak := range []string{"sql", "products", "table", "goroutine", ".go:"} {
		if strings.Contains(body, leak) {
			t.Fatalf("500 body leaks %q: %s", leak, r.Body)
		}
	}
	if !strings.Contains(ts.logs.String(), `"correlation_id":"boom-1"`) || !strings.Contains(ts.logs.String(), "no such table") {
		t.Fatal("the cause of the 500 was not logged with its correlation id")
	}
}

func TestReadyRecoversAfterMigrations(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		if _, err := ts.srv.migrator.Down(t.Context()); err != nil {
			t.Fatal(err)
		}
		r := ts.do("GET", "/ready", nil)
		if r.Status != 503 || r.Map(t)["reason"] != "migrations pending" {
			t.Fatalf("ready with a pending migration: %d %s", r.Status, r.Body)
		}
		if _, err := ts.srv.migrator.Up(t.Context()); err != nil {
			t.Fatal(err)
		}
		if r := ts.do("GET", "/ready", nil); r.Status != 200 {
			t.Fatalf("ready after migrating: %d %s", r.Status, r.Body)
		}
	})
}

func TestPasswordChangeAndDeactivationRevokeRefreshTokens(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, noAuthRateLimit)
		pw := ts.createUser("nora", true, false)
		u, err := ts.store.UserByUsername(t.Context(), "nora")
		if err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name   string
			change func(u *models.User)
		}{
			{"new password", func(u *models.User) { _ = u.SetPassword(t.Context(), "another-password-123") }},
			{"deactivated", func(u *models.User) { u.IsActive = false }},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				if err := ts.store.DB.Model(&models.User{}).Where("id = ?", u.ID).Updates(map[string]any{"is_active": true}).Error; err != nil {
					t.Fatal(err)
				}
				u, _ = ts.store.UserByUsername(t.Context(), "nora")
				if err := u.SetPassword(t.Context(), pw); err != nil {
					t.Fatal(err)
				}
				if err := ts.store.Update(t.Context(), u, u.Version); err != nil {
					t.Fatal(err)
				}
				pair := ts.login("nora", pw)
				tc.change(u)
				if err := ts.store.Update(t.Context(), u, u.Version); err != nil {
					t.Fatal(err)
				}
				if r := ts.do("POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": pair.RefreshToken}); r.Status != 401 {
					t.Fatalf("refresh after %s: %d %s", tc.name, r.Status, r.Body)
				}
			})
		}
	})
}

// TestListKeysetCursor: next_after walks the list as page numbers do, and
// a bad cursor (or one combined with page) is a 422 on "after".
func TestListKeysetCursor(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		auth := ts.staffToken("kira")
		for i := range 12 {
			wantStatus(t, ts.do("POST", "/api/v1/products", map[string]any{"name": fmt.Sprintf("Cursor %02d", i), "price": "1.00", "stock": i}, "Authorization", auth), 201)
		}
		type page struct {
			Items []struct {
				ID int64 `json:"id"`
			} `json:"items"`
			Page      int    `json:"page"`
			Total     int    `json:"total"`
			HasNext   bool   `json:"has_next"`
			NextAfter string `json:"next_after"`
		}
		var seen []int64
		path := "/api/v1/products?sort=-stock&page_size=5"
		for n := 0; n < 10; n++ {
			var p page
			r := ts.do("GET", path, nil, "Authorization", auth)
			wantStatus(t, r, 200)
			r.JSON(t, &p)
			if p.Total != 12 || (n > 0 && p.Page != 0) {
				t.Fatalf("page %d: %+v", n, p)
			}
			for _, it := range p.Items {
				seen = append(seen, it.ID)
			}
			if !p.HasNext {
				break
			}
			path = "/api/v1/products?sort=-stock&page_size=5&after=" + p.NextAfter
		}
		if len(seen) != 12 || seen[0] != 12 || seen[11] != 1 {
			t.Fatalf("walked %v", seen)
		}
		var first page
		ts.do("GET", "/api/v1/products?sort=-stock&page_size=5", nil, "Authorization", auth).JSON(t, &first)
		for _, bad := range []string{
			"/api/v1/products?sort=name&after=" + first.NextAfter,
			"/api/v1/products?after=%00",
			"/api/v1/products?sort=-stock&page=2&after=" + first.NextAfter,
		} {
			r := ts.do("GET", bad, nil, "Authorization", auth)
			if m := assertEnvelope(t, r, 422, web.CodeValidation); m["fields"].(map[string]any)["after"] == nil {
				t.Fatalf("%s: %v", bad, m)
			}
		}
	})
}
