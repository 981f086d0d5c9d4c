package app

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"tienda/app/config"
	"tienda/app/web"
	"tienda/models"
)

func TestAPIKeys(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		staff := ts.staffToken("keymaker")
		pw := ts.createUser("reader", false, false)
		plain := "Bearer " + ts.login("reader", pw).AccessToken

		create := func(token, name, scope string) *testResponse {
			return ts.do("POST", "/api/v1/api-keys", map[string]string{"name": name, "scope": scope}, "Authorization", token)
		}
		newKey := func(name, scope string) (string, map[string]any) {
			t.Helper()
			r := create(staff, name, scope)
			if r.Status != 201 || r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Location") == "" {
				t.Fatalf("create key: %d %v %s", r.Status, r.Header, r.Body)
			}
			var out struct {
				Key    string         `json:"key"`
				APIKey map[string]any `json:"api_key"`
			}
			r.JSON(t, &out)
			if !strings.HasPrefix(out.Key, models.APIKeyPrefix) || out.APIKey["scope"] != scope {
				t.Fatalf("created %s", r.Body)
			}
			return out.Key, out.APIKey
		}
		roKey, roMeta := newKey("reporting", models.ScopeReadOnly)
		rwKey, _ := newKey("sync job", models.ScopeReadWrite)

		t.Run("stored only as a hash", func(t *testing.T) {
			var rows []models.APIKey
			if err := ts.store.DB.Find(&rows).Error; err != nil {
				t.Fatal(err)
			}
			for _, k := range rows {
				if k.KeyHash != models.HashAPIKey(roKey) && k.KeyHash != models.HashAPIKey(rwKey) {
					t.Fatalf("key stored as %q", k.KeyHash)
				}
			}
			list := ts.do("GET", "/api/v1/api-keys", nil, "Authorization", staff)
			if list.Status != 200 || bytes.Contains(list.Body, []byte(roKey)) || bytes.Contains(list.Body, []byte("hash")) {
				t.Fatalf("list: %d %s", list.Status, list.Body)
			}
			if n := len(list.Map(t)["items"].([]any)); n != 2 {
				t.Fatalf("%d keys listed", n)
			}
		})
		t.Run("scopes", func(t *testing.T) {
			// Scopes by meaning: a read-only key does whatever changes no
			// data, POSTs of search, chat and embeddings included.
			product := map[string]any{"name": "by key", "price": "2.50", "stock": 3}
			r := ts.do("POST", "/api/v1/products", product, "Authorization", staff)
			wantStatus(t, r, 201)
			existing := r.Header.Get("Location")
			cases := []struct {
				name, method, path, key string
				body                    any
				status                  int
				code                    string
			}{
				{"read-only lists", "GET", "/api/v1/products", roKey, nil, 200, ""},
				{"read-only reads one", "GET", existing, roKey, nil, 200, ""},
				{"read-only searches", "POST", "/api/v1/documents/search", roKey, map[string]any{"query": "return policy"}, 200, ""},
				{"read-only chats", "POST", "/api/v1/chat", roKey, map[string]any{"message": "what is the return policy?"}, 200, ""},
				{"read-only embeds", "POST", "/api/v1/embeddings", roKey, map[string]any{"input": "lamp"}, 200, ""},
				{"read-only cannot create", "POST", "/api/v1/products", roKey, product, 403, web.CodeForbidden},
				{"read-only cannot change", "PATCH", existing, roKey, map[string]any{"stock": 9}, 403, web.CodeForbidden},
				{"read-only cannot delete", "DELETE", existing, roKey, nil, 403, web.CodeForbidden},
				{"read-write writes", "POST", "/api/v1/products", rwKey, product, 201, ""},
				{"malformed", "GET", "/api/v1/products", "tnd_nonsense", nil, 401, web.CodeUnauthorized},
				{"unknown", "GET", "/api/v1/products", models.APIKeyPrefix + "aaaaaaaaaaaaa_" + strings.Repeat("A", 43), nil, 401, web.CodeUnauthorized},
				{"too long", "GET", "/api/v1/products", strings.Repeat("k", 5000), nil, 401, web.CodeUnauthorized},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					r := ts.do(tc.method, tc.path, tc.body, web.HeaderAPIKey, tc.key, "If-Match", "*")
					if tc.code != "" {
						assertEnvelope(t, r, tc.status, tc.code)
					} else if r.Status != tc.status {
						t.Fatalf("%d %s", r.Status, r.Body)
					}
				})
			}
			if r := ts.do("GET", existing, nil, "Authorization", staff); r.Map(t)["stock"].(float64) != 3 {
				t.Fatal("a read-only key changed a product")
			}
		})
		t.Run("expiry", func(t *testing.T) {
			past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
			r := ts.do("POST", "/api/v1/api-keys", map[string]string{"name": "old", "scope": "read-only", "expires_at": past}, "Authorization", staff)
			if m := assertEnvelope(t, r, 422, web.CodeValidation); m["fields"].(map[string]any)["expires_at"] == nil {
				t.Fatalf("past expiry: %v", m)
			}
			soon := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
			r = ts.do("POST", "/api/v1/api-keys", map[string]string{"name": "temp", "scope": "read-only", "expires_at": soon}, "Authorization", staff)
			wantStatus(t, r, 201)
			var out struct {
				Key    string         `json:"key"`
				APIKey map[string]any `json:"api_key"`
			}
			r.JSON(t, &out)
			if out.APIKey["expires_at"] == nil {
				t.Fatalf("expiry not kept: %s", r.Body)
			}
			wantStatus(t, ts.do("GET", "/api/v1/products", nil, web.HeaderAPIKey, out.Key), 200)
			// Time passes: the key's hour is over.
			if err := ts.store.DB.Model(&models.APIKey{}).Where("prefix = ?", out.APIKey["prefix"]).
				Update("expires_at", time.Now().Add(-time.Second)).Error; err != nil {
				t.Fatal(err)
			}
			assertEnvelope(t, ts.do("GET", "/api/v1/products", nil, web.HeaderAPIKey, out.Key), 401, web.CodeUnauthorized)
		})
		t.Run("last used", func(t *testing.T) {
			var k models.APIKey
			if err := ts.store.DB.Where("prefix = ?", roMeta["prefix"]).Take(&k).Error; err != nil {
				t.Fatal(err)
			}
			if k.LastUsedAt == nil || time.Since(*k.LastUsedAt) > time.Minute {
				t.Fatalf("last used %v", k.LastUsedAt)
			}
		})
		t.Run("who may manage keys", func(t *testing.T) {
			assertEnvelope(t, create(plain, "mine", models.ScopeReadOnly), 403, web.CodeForbidden)
			r := ts.do("POST", "/api/v1/api-keys", map[string]string{"name": "more", "scope": models.ScopeReadWrite}, web.HeaderAPIKey, rwKey)
			assertEnvelope(t, r, 403, web.CodeForbidden)
			m := assertEnvelope(t, create(staff, "", "admin"), 422, web.CodeValidation)
			fields := m["fields"].(map[string]any)
			if fields["name"] == nil || fields["scope"] == nil {
				t.Fatalf("fields %v", fields)
			}
			assertEnvelope(t, ts.do("POST", "/api/v1/api-keys", `{"name":"x","scope":"read-only","owner":1}`, "Authorization", staff), 422, web.CodeValidation)
		})
		t.Run("revoke", func(t *testing.T) {
			id := fmt.Sprint(roMeta["id"])
			// Another staff user cannot revoke it.
			other := ts.staffToken("other-staff")
			assertEnvelope(t, ts.do("DELETE", "/api/v1/api-keys/"+id, nil, "Authorization", other), 404, web.CodeNotFound)
			if r := ts.do("DELETE", "/api/v1/api-keys/"+id, nil, "Authorization", staff); r.Status != 204 {
				t.Fatalf("revoke: %d %s", r.Status, r.Body)
			}
			assertEnvelope(t, ts.do("GET", "/api/v1/products", nil, web.HeaderAPIKey, roKey), 401, web.CodeUnauthorized)
			assertEnvelope(t, ts.do("DELETE", "/api/v1/api-keys/999999", nil, "Authorization", staff), 404, web.CodeNotFound)
			assertEnvelope(t, ts.do("DELETE", "/api/v1/api-keys/abc", nil, "Authorization", staff), 404, web.CodeNotFound)
		})
	})
}

func TestResponseCache(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		testResponseCache(t, newTestServer(t, dialect))
	})
}

func TestResponseCacheInRedis(t *testing.T) {
	testResponseCache(t, newTestServer(t, "sqlite", withRedis(redisURL(t))))
}

func testResponseCache(t *testing.T, ts *testServer) {
	token := ts.staffToken("cacher")
	r := ts.do("POST", "/api/v1/products", map[string]any{"name": "Lamp", "price": "10.00", "stock": 1}, "Authorization", token)
	if r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	loc := r.Header.Get("Location")
	get := func(path string, hdr ...string) *testResponse {
		return ts.do("GET", path, nil, append([]string{"Authorization", token}, hdr...)...)
	}
	for _, path := range []string{"/api/v1/products?page=1&sort=name", loc} {
		first := get(path)
		second := get(path)
		if cc := second.Header.Get("Cache-Control"); cc != "private, no-cache" || !strings.Contains(second.Header.Get("Vary"), "Authorization") {
			t.Fatalf("%s: Cache-Control %q Vary %q", path, cc, second.Header.Get("Vary"))
		}
		if first.Header.Get("X-Cache") != "MISS" || second.Header.Get("X-Cache") != "HIT" || !bytes.Equal(first.Body, second.Body) {
			t.Fatalf("%s: %s then %s", path, first.Header.Get("X-Cache"), second.Header.Get("X-Cache"))
		}
		// Same query, other parameter order: same entry.
		if path != loc {
			if r := get("/api/v1/products?sort=name&page=1"); r.Header.Get("X-Cache") != "HIT" {
				t.Fatalf("normalised query missed")
			}
		}
		etag := second.Header.Get("ETag")
		if nm := get(path, "If-None-Match", etag); nm.Status != 304 || len(nm.Body) != 0 {
			t.Fatalf("If-None-Match %s: %d", etag, nm.Status)
		}
	}
	// A write makes every cached response of the resource stale at once.
	r = ts.do("PATCH", loc, map[string]any{"name": "Lamp v2"}, "Authorization", token, "If-Match", "*")
	if r.Status != 200 {
		t.Fatalf("patch: %d %s", r.Status, r.Body)
	}
	for _, path := range []string{"/api/v1/products?page=1&sort=name", loc} {
		fresh := get(path)
		if fresh.Header.Get("X-Cache") != "MISS" || !bytes.Contains(fresh.Body, []byte("Lamp v2")) {
			t.Fatalf("stale after write: %s %s", fresh.Header.Get("X-Cache"), fresh.Body)
		}
	}
	// Writes that bypass the API (the admin, commands) invalidate too.
	var p models.Product
	if err := ts.store.DB.Where("name = ?", "Lamp v2").Take(&p).Error; err != nil {
		t.Fatal(err)
	}
	get(loc)
	p.Name = "Lamp v3"
	if err := ts.store.Update(context.Background(), &p, p.Version); err != nil {
		t.Fatal(err)
	}
	if r := get(loc); !bytes.Contains(r.Body, []byte("Lamp v3")) {
		t.Fatalf("stale after a store write: %s", r.Body)
	}
	// Errors are not cached; other callers' permissions get their own entries.
	if r := get("/api/v1/products?page=0"); r.Status != 422 || r.Header.Get("X-Cache") != "MISS" {
		t.Fatalf("bad query: %d %s", r.Status, r.Header.Get("X-Cache"))
	}
	if r := get("/api/v1/products?page=0"); r.Status != 422 || r.Header.Get("X-Cache") != "MISS" {
		t.Fatalf("error was cached: %s", r.Header.Get("X-Cache"))
	}
	pw := ts.createUser("plain-cacher", false, false, "API readers")
	other := "Bearer " + ts.login("plain-cacher", pw).AccessToken
	if r := ts.do("GET", loc, nil, "Authorization", other); r.Header.Get("X-Cache") != "MISS" {
		t.Fatalf("another permission class shared the entry")
	}
}

// TestCacheSharedAcrossInstances: two servers on one database (and one
// Redis when set); a write through one is never served stale by the other.
func TestCacheSharedAcrossInstances(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		a := newTestServer(t, dialect)
		b := &testServer{t: t, logs: &bytes.Buffer{}}
		srv, err := New(context.Background(), a.srv.cfg, a.srv.db, a.srv.log)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Close)
		b.srv, b.store = srv, srv.store
		token := a.staffToken("shared")
		r := a.do("POST", "/api/v1/products", map[string]any{"name": "Chair", "price": "5.00", "stock": 2}, "Authorization", token)
		loc := r.Header.Get("Location")
		for i := 0; i < 2; i++ {
			b.do("GET", loc, nil, "Authorization", token)
		}
		if r := b.do("GET", loc, nil, "Authorization", token); r.Header.Get("X-Cache") != "HIT" {
			t.Fatalf("b did not cache")
		}
		if r := a.do("PUT", loc, map[string]any{"name": "Chair 2", "description": "", "price": "6.00", "stock": 2}, "Authorization", token, "If-Match", "*"); r.Status != 200 {
			t.Fatalf("put %d %s", r.Status, r.Body)
		}
		if r := b.do("GET", loc, nil, "Authorization", token); !bytes.Contains(r.Body, []byte("Chair 2")) {
			t.Fatalf("b served stale: %s", r.Body)
		}
	})
}

func TestCompression(t *testing.T) {
	ts := newTestServer(t, "sqlite")
	token := ts.staffToken("zipper")
	for i := 0; i < 10; i++ {
		ts.do("POST", "/api/v1/products", map[string]any{"name": fmt.Sprintf("Item %d", i), "price": "1.00", "stock": i}, "Authorization", token)
	}
	cases := []struct {
		name, accept, encoding string
	}{
		{"gzip", "gzip", "gzip"},
		{"brotli preferred", "br, gzip", "br"},
		{"none", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.do("GET", "/api/v1/products?page_size=50", nil, "Authorization", token, "Accept-Encoding", tc.accept)
			if got := r.Header.Get("Content-Encoding"); got != tc.encoding {
				t.Fatalf("encoding %q, want %q", got, tc.encoding)
			}
			if tc.encoding == "gzip" {
				zr, err := gzip.NewReader(bytes.NewReader(r.Body))
				if err != nil {
					t.Fatal(err)
				}
				b, err := io.ReadAll(zr)
				if err != nil || !bytes.Contains(b, []byte("Item 9")) {
					t.Fatalf("gunzip: %v %s", err, b)
				}
			}
		})
	}
	t.Run("never for event streams", func(t *testing.T) {
		r := ts.do("GET", "/api/v1/products?page_size=50", nil, "Authorization", token, "Accept-Encoding", "gzip", "Accept", "text/event-stream")
		if r.Header.Get("Content-Encoding") != "" {
			t.Fatal("event stream request compressed")
		}
	})
}

func TestMetrics(t *testing.T) {
	ts := newTestServer(t, "sqlite", func(c *config.Config) {
		c.MetricsToken = "metrics-secret-0123456789"
		c.Prod.RateRead = config.Rate{N: 2, Window: time.Minute}
	})
	token := ts.staffToken("metrics")
	r := ts.do("POST", "/api/v1/products", map[string]any{"name": "Counted", "price": "1.00", "stock": 1}, "Authorization", token)
	loc := r.Header.Get("Location")
	ts.do("GET", loc, nil, "Authorization", token)
	ts.do("GET", loc, nil, "Authorization", token)
	ts.do("GET", loc, nil, "Authorization", token) // 429
	ts.do("DELETE", loc, nil, "Authorization", token, "If-Match", "*")
	ts.srv.Metrics().LLMCall("chat", 120*time.Millisecond, fmt.Errorf("boom"))
	ts.srv.Metrics().TokensUsed("completion", 42)
	ts.srv.Metrics().ChatRequest("ok")
	ts.srv.Metrics().DocumentIndexed()

	assertEnvelope(t, ts.do("GET", "/metrics", nil), 401, web.CodeUnauthorized)
	assertEnvelope(t, ts.do("GET", "/metrics", nil, "Authorization", "Bearer wrong"), 401, web.CodeUnauthorized)
	m := ts.do("GET", "/metrics", nil, "Authorization", "Bearer metrics-secret-0123456789")
	if m.Status != 200 || !strings.HasPrefix(m.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("metrics: %d %s", m.Status, m.Header.Get("Content-Type"))
	}
	body := string(m.Body)
	for _, want := range []string{
		`tienda_http_request_duration_seconds_count{method="GET",route="/api/v1/products/:id",status="200"} 2`,
		`tienda_http_request_duration_seconds_count{method="POST",route="/api/v1/products",status="201"} 1`,
		`tienda_http_requests_in_flight`,
		`tienda_rate_limited_total{class="read"} 1`,
		`tienda_requests_refused_total{reason="metrics_token"} 2`,
		`tienda_cache_requests_total{resource="product",result="hit"} 1`,
		`tienda_cache_requests_total{resource="product",result="miss"} 1`,
		`tienda_objects_changed_total{action="create",type="product"} 1`,
		`tienda_objects_changed_total{action="delete",type="product"} 1`,
		`tienda_llm_errors_total{op="chat"} 1`,
		`tienda_llm_tokens_total{kind="completion"} 42`,
		`tienda_chat_requests_total{outcome="ok"} 1`,
		`tienda_documents_indexed_total 1`,
		`go_sql_max_open_connections{db_name="tienda"}`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if t.Failed() {
		t.Log(body)
	}
	// Without a token, /metrics is not served on the public port.
	plain := newTestServer(t, "sqlite")
	assertEnvelope(t, plain.do("GET", "/metrics", nil), 404, web.CodeNotFound)
}

func TestMetricsOnInternalAddress(t *testing.T) {
	ts := newTestServer(t, "sqlite", func(c *config.Config) {
		c.MetricsToken = "ignored-when-addr-is-set"
		c.Prod.MetricsAddr = "127.0.0.1:0"
	})
	assertEnvelope(t, ts.do("GET", "/metrics", nil, "Authorization", "Bearer ignored-when-addr-is-set"), 404, web.CodeNotFound)
	rec := httptest.NewRecorder()
	ts.srv.metrics.Server(ts.srv.cfg.Prod.MetricsAddr).Handler.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "tienda_http_requests_in_flight") {
		t.Fatalf("internal metrics: %d", rec.Code)
	}
}
