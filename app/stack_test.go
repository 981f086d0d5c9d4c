package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"tienda/app/auth"
	"tienda/app/config"
	"tienda/app/web"
	"time"

	"github.com/gofiber/fiber/v2"
)

// logLines returns the JSON log lines written so far.
func (ts *testServer) logLines() []map[string]any {
	ts.t.Helper()
	var out []map[string]any
	for _, line := range bytes.Split(ts.logs.Bytes(), []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			ts.t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// accessLine returns the access line of the request with correlation id cid.
func (ts *testServer) accessLine(cid string) map[string]any {
	ts.t.Helper()
	for _, l := range ts.logLines() {
		if l["msg"] == "request" && l["correlation_id"] == cid {
			return l
		}
	}
	ts.t.Fatalf("no access line for %s in %s", cid, ts.logs.String())
	return nil
}

func assertEnvelope(t *testing.T, r *testResponse, status int, code string) map[string]any {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	m := r.Map(t)
	if m["code"] != code {
		t.Fatalf("code %v, want %s: %s", m["code"], code, r.Body)
	}
	cid, _ := m["correlation_id"].(string)
	if cid == "" || cid != r.Header.Get(web.HeaderCorrelationID) {
		t.Fatalf("correlation id body %q header %q", cid, r.Header.Get(web.HeaderCorrelationID))
	}
	return m
}

func TestCorrelationID(t *testing.T) {
	ts := newTestServer(t, "sqlite")
	cases := []struct {
		name, sent string
		kept       bool
	}{
		{"sane", "req-123_abc.DEF", true},
		{"too long", strings.Repeat("a", 10*1024), false},
		{"tab", "abc\tdef", false},
		{"markup", "<script>alert(1)</script>", false},
		{"spaces and quotes", `a "b" c`, false},
		{"absent", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/api/v1/products", nil)
			if tc.sent != "" {
				req.Header[web.HeaderCorrelationID] = []string{tc.sent}
			}
			r := ts.request(req)
			got := r.Header.Get(web.HeaderCorrelationID)
			if tc.kept && got != tc.sent {
				t.Fatalf("id %q not kept: %q", tc.sent, got)
			}
			if !tc.kept && (got == tc.sent || !regexp.MustCompile(`^[0-9a-f]{24}$`).MatchString(got)) {
				t.Fatalf("id %q should be replaced by a generated one, got %q", tc.sent, got)
			}
			assertEnvelope(t, r, 401, web.CodeUnauthorized)
			line := ts.accessLine(got)
			if line["method"] != "GET" || line["status"] != float64(401) {
				t.Fatalf("access line %v", line)
			}
		})
	}
}

func TestSecurityHeaders(t *testing.T) {
	ts := newTestServer(t, "sqlite", func(c *config.Config) { c.TrustedProxies = []string{"0.0.0.0/32"} })
	ts.srv.proxies = web.NewProxies(ts.srv.cfg.TrustedProxies)
	cases := []struct {
		name, path, proto string
		page, hsts        bool
	}{
		{"api over http", "/api/v1/products", "", false, false},
		{"api behind trusted https proxy", "/health", "https", false, true},
		{"admin page", "/admin/", "", true, false},
		{"docs page", "/api/docs", "https", true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hdr := []string{}
			if tc.proto != "" {
				hdr = append(hdr, "X-Forwarded-Proto", tc.proto)
			}
			r := ts.do("GET", tc.path, nil, hdr...)
			for k, want := range map[string]string{
				"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin",
			} {
				if got := r.Header.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if r.Header.Get("Permissions-Policy") == "" {
				t.Error("no Permissions-Policy")
			}
			if s := r.Header.Get("Server"); s != "" {
				t.Errorf("Server banner %q", s)
			}
			if got := r.Header.Get("Strict-Transport-Security") != ""; got != tc.hsts {
				t.Errorf("HSTS present = %v, want %v", got, tc.hsts)
			}
			csp := r.Header.Get("Content-Security-Policy")
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
				t.Errorf("CSP allows unsafe code: %s", csp)
			}
			if tc.page != strings.Contains(csp, "'nonce-") {
				t.Errorf("CSP for %s: %s", tc.path, csp)
			}
			if !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Errorf("CSP without frame-ancestors: %s", csp)
			}
		})
	}
	// Nonces differ per request.
	a := ts.do("GET", "/admin/", nil).Header.Get("Content-Security-Policy")
	b := ts.do("GET", "/admin/", nil).Header.Get("Content-Security-Policy")
	if a == b {
		t.Fatalf("same CSP nonce twice: %s", a)
	}
	// HSTS is not granted to an untrusted peer claiming https.
	plain := newTestServer(t, "sqlite")
	if h := plain.do("GET", "/health", nil, "X-Forwarded-Proto", "https").Header.Get("Strict-Transport-Security"); h != "" {
		t.Fatalf("HSTS from an untrusted X-Forwarded-Proto: %s", h)
	}
}

func TestRequestSizeLimit(t *testing.T) {
	const limit = 1024
	ts := newTestServer(t, "sqlite", func(c *config.Config) { c.MaxRequestSize = limit })
	token := ts.staffToken("sizer")
	big := `{"name":"` + strings.Repeat("x", 4*limit) + `","price":"1.00","stock":1}`

	t.Run("declared length", func(t *testing.T) {
		r := ts.do("POST", "/api/v1/products", big, "Authorization", token)
		assertEnvelope(t, r, 413, web.CodePayloadTooLarge)
		// Refused before authentication: the access line carries no user.
		line := ts.accessLine(r.Header.Get(web.HeaderCorrelationID))
		if _, ok := line["user_id"]; ok {
			t.Fatalf("oversized request was authenticated: %v", line)
		}
		if strings.Contains(ts.logs.String(), strings.Repeat("x", 100)) {
			t.Fatal("the body reached the logs")
		}
	})
	t.Run("bad token is not even checked", func(t *testing.T) {
		r := ts.do("POST", "/api/v1/products", big, "Authorization", "Bearer garbage")
		assertEnvelope(t, r, 413, web.CodePayloadTooLarge)
	})
	t.Run("chunked", func(t *testing.T) {
		req := httptest.NewRequest("POST", "/api/v1/products", io.MultiReader(strings.NewReader(big)))
		req.ContentLength = -1
		req.TransferEncoding = []string{"chunked"}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", token)
		r := ts.request(req)
		assertEnvelope(t, r, 413, web.CodePayloadTooLarge)
	})
	t.Run("chunked under the limit passes", func(t *testing.T) {
		body := `{"name":"small","price":"1.00","stock":1}`
		req := httptest.NewRequest("POST", "/api/v1/products", io.MultiReader(strings.NewReader(body)))
		req.ContentLength = -1
		req.TransferEncoding = []string{"chunked"}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", token)
		if r := ts.request(req); r.Status != 201 {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
	})
	t.Run("compressed bodies refused", func(t *testing.T) {
		r := ts.do("POST", "/api/v1/products", `{}`, "Authorization", token, "Content-Encoding", "gzip")
		assertEnvelope(t, r, 415, web.CodeUnsupportedMedia)
	})
}

// TestRefusedOverTheNetwork proves the body is never waited for:
// headers announcing 100 MB (or a chunked body that keeps coming) get the
// 413 while the client has sent almost nothing, and the connection closes;
// a header fasthttp cannot parse (control characters in the correlation id)
// still gets the JSON envelope.
func TestRefusedOverTheNetwork(t *testing.T) {
	ts := newTestServer(t, "sqlite", func(c *config.Config) { c.MaxRequestSize = 4096 })
	addr := strings.TrimPrefix(ts.listen(), "http://")
	cases := []struct {
		name, head string
		body       func(w io.Writer)
	}{
		// The server pre-reads at most min(limit, 8 KB) before deciding.
		{"content-length", "Content-Length: 104857600\r\n", func(w io.Writer) { _, _ = w.Write(bytes.Repeat([]byte("x"), 8192)) }},
		{"control characters in the correlation id", "X-Correlation-ID: abc\x01def\r\nContent-Length: 2\r\n", func(w io.Writer) { _, _ = w.Write([]byte("{}")) }},
		{"chunked", "Transfer-Encoding: chunked\r\n", func(w io.Writer) {
			for i := 0; i < 10; i++ {
				fmt.Fprintf(w, "%x\r\n%s\r\n", 1000, bytes.Repeat([]byte("x"), 1000))
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			fmt.Fprintf(conn, "POST /api/v1/products HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n%s\r\n", tc.head)
			tc.body(conn)
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("no response while the body is incomplete: %v", err)
			}
			defer resp.Body.Close()
			want, code := 413, web.CodePayloadTooLarge
			if strings.Contains(tc.head, "X-Correlation-ID") {
				want, code = 400, web.CodeBadRequest
			}
			if resp.StatusCode != want || !resp.Close {
				t.Fatalf("status %d, close %v", resp.StatusCode, resp.Close)
			}
			var env web.Error
			if err := json.NewDecoder(resp.Body).Decode(&env); err != nil || env.Code != code || env.CorrelationID == "" {
				t.Fatalf("envelope %+v %v", env, err)
			}
		})
	}
}

func TestCORS(t *testing.T) {
	ts := newTestServer(t, "sqlite", func(c *config.Config) { c.CORSOrigins = []string{"https://shop.example.com"} })
	preflight := func(origin string) *testResponse {
		return ts.do("OPTIONS", "/api/v1/products", nil, "Origin", origin,
			"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization,content-type")
	}
	t.Run("allowed preflight", func(t *testing.T) {
		r := preflight("https://shop.example.com")
		if r.Status != 204 {
			t.Fatalf("status %d %s", r.Status, r.Body)
		}
		if got := r.Header.Get("Access-Control-Allow-Origin"); got != "https://shop.example.com" {
			t.Fatalf("allow origin %q", got)
		}
		if !strings.Contains(r.Header.Get("Access-Control-Allow-Methods"), "POST") ||
			!strings.Contains(strings.ToLower(r.Header.Get("Access-Control-Allow-Headers")), "authorization") {
			t.Fatalf("preflight headers %v", r.Header)
		}
		if r.Header.Get("Access-Control-Max-Age") == "" {
			t.Fatal("no max age")
		}
	})
	t.Run("disallowed preflight", func(t *testing.T) {
		r := preflight("https://evil.example.net")
		assertEnvelope(t, r, 403, web.CodeForbidden)
		if r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatal("disallowed origin got an allow header")
		}
	})
	t.Run("simple request from an allowed origin", func(t *testing.T) {
		r := ts.do("GET", "/health", nil, "Origin", "https://shop.example.com")
		if r.Header.Get("Access-Control-Allow-Origin") != "https://shop.example.com" ||
			!strings.Contains(r.Header.Get("Access-Control-Expose-Headers"), "X-Correlation-ID") {
			t.Fatalf("headers %v", r.Header)
		}
	})
	t.Run("simple request from another origin", func(t *testing.T) {
		r := ts.do("GET", "/health", nil, "Origin", "https://evil.example.net")
		if r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatal("other origin allowed")
		}
	})
}

func TestRateLimitInMemory(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		testRateLimit(t, newTestServer(t, dialect, rateLimits, func(c *config.Config) { c.TrustedProxies = []string{"0.0.0.0/32"} }))
	})
}

func TestRateLimitInRedis(t *testing.T) {
	url := redisURL(t)
	testRateLimit(t, newTestServer(t, "sqlite", rateLimits, withRedis(url), func(c *config.Config) { c.TrustedProxies = []string{"0.0.0.0/32"} }))
}

func rateLimits(c *config.Config) {
	c.Prod.RateRead = config.Rate{N: 3, Window: time.Minute}
	c.Prod.RateWrite = config.Rate{N: 2, Window: time.Minute}
	c.Prod.RateAuth = config.Rate{N: 4, Window: time.Minute}
}

func testRateLimit(t *testing.T, ts *testServer) {
	ts.srv.proxies = web.NewProxies(ts.srv.cfg.TrustedProxies)
	alice := ts.staffToken("alice") // one auth request
	bob := ts.staffToken("bob")     // two
	t.Run("reads per user", func(t *testing.T) {
		for i := 0; i < 3; i++ {
			r := ts.do("GET", "/api/v1/products", nil, "Authorization", alice)
			if r.Status != 200 {
				t.Fatalf("read %d: %d %s", i, r.Status, r.Body)
			}
			if r.Header.Get("RateLimit-Limit") != "3" || r.Header.Get("RateLimit-Remaining") != fmt.Sprint(2-i) {
				t.Fatalf("read %d headers %v", i, r.Header)
			}
		}
		r := ts.do("GET", "/api/v1/products", nil, "Authorization", alice, web.HeaderCorrelationID, "limit-me-1")
		m := assertEnvelope(t, r, 429, web.CodeRateLimited)
		if m["correlation_id"] != "limit-me-1" {
			t.Fatalf("429 lost the correlation id: %v", m)
		}
		if ra := r.Header.Get("Retry-After"); ra == "" || ra == "0" {
			t.Fatalf("Retry-After %q", ra)
		}
		if r.Header.Get("RateLimit-Remaining") != "0" || r.Header.Get("RateLimit-Reset") == "" || r.Header.Get("RateLimit-Policy") != "3;w=60" {
			t.Fatalf("headers %v", r.Header)
		}
		// Bob has his own allowance.
		if r := ts.do("GET", "/api/v1/products", nil, "Authorization", bob); r.Status != 200 {
			t.Fatalf("bob limited by alice: %d", r.Status)
		}
		// Writes have their own allowance.
		if r := ts.do("POST", "/api/v1/products", map[string]any{"name": "w", "price": "1.00", "stock": 1}, "Authorization", alice); r.Status != 201 {
			t.Fatalf("write limited by reads: %d %s", r.Status, r.Body)
		}
	})
	t.Run("anonymous clients by address, forged X-Forwarded-For ignored", func(t *testing.T) {
		// The peer (0.0.0.0) is a trusted proxy: the right-most entry is
		// the client; entries to its left are whatever the client wrote.
		for i := 0; i < 3; i++ {
			r := ts.do("GET", "/api/v1/documents", nil, "X-Forwarded-For", fmt.Sprintf("10.9.9.%d, 203.0.113.7", i))
			if r.Status != 401 {
				t.Fatalf("anonymous read %d: %d", i, r.Status)
			}
		}
		r := ts.do("GET", "/api/v1/documents", nil, "X-Forwarded-For", "198.51.100.1, 203.0.113.7")
		assertEnvelope(t, r, 429, web.CodeRateLimited)
		if r := ts.do("GET", "/api/v1/documents", nil, "X-Forwarded-For", "203.0.113.8"); r.Status != 401 {
			t.Fatalf("another client limited: %d", r.Status)
		}
	})
	t.Run("signed-in users are not counted against their address", func(t *testing.T) {
		// Many users behind one address (an office's NAT) each have their
		// own allowance, and do not spend the address's anonymous one.
		for _, name := range []string{"carla", "dario", "elena"} {
			pw := ts.createUser(name, true, false)
			// Signed in from elsewhere: the auth allowance of 0.0.0.0 is the
			// subject of another subtest.
			r := ts.do("POST", "/api/v1/auth/token", map[string]string{"username": name, "password": pw}, "X-Forwarded-For", "198.51.100.9")
			var pair auth.TokenPair
			r.JSON(t, &pair)
			tok := "Bearer " + pair.AccessToken
			for i := 0; i < 3; i++ {
				if r := ts.do("GET", "/api/v1/products", nil, "Authorization", tok, "X-Forwarded-For", "192.0.2.77"); r.Status != 200 {
					t.Fatalf("%s read %d: %d", name, i, r.Status)
				}
			}
		}
		if r := ts.do("GET", "/api/v1/products", nil, "X-Forwarded-For", "192.0.2.77"); r.Status != 401 || r.Header.Get("RateLimit-Remaining") != "2" {
			t.Fatalf("anonymous after the users: %d remaining %q", r.Status, r.Header.Get("RateLimit-Remaining"))
		}
	})
	t.Run("invented tokens count against the address", func(t *testing.T) {
		for i := 0; i < 3; i++ {
			ts.do("GET", "/api/v1/products", nil, "Authorization", fmt.Sprintf("Bearer fake-%d", i), "X-Forwarded-For", "192.0.2.50")
		}
		r := ts.do("GET", "/api/v1/products", nil, "Authorization", "Bearer fake-x", "X-Forwarded-For", "192.0.2.50")
		assertEnvelope(t, r, 429, web.CodeRateLimited)
	})
	t.Run("auth endpoints", func(t *testing.T) {
		// Two token requests were made from 0.0.0.0 by staffToken; the
		// limit is 4, so two more pass and the fifth is refused.
		body := map[string]string{"username": "nobody", "password": "wrong-password"}
		for i := 0; i < 2; i++ {
			if r := ts.do("POST", "/api/v1/auth/token", body); r.Status != 401 {
				t.Fatalf("login %d: %d %s", i+3, r.Status, r.Body)
			}
		}
		r := ts.do("POST", "/api/v1/auth/token", body)
		assertEnvelope(t, r, 429, web.CodeRateLimited)
	})
	t.Run("health is never limited", func(t *testing.T) {
		for i := 0; i < 10; i++ {
			if r := ts.do("GET", "/health", nil); r.Status != 200 {
				t.Fatalf("health %d", r.Status)
			}
		}
	})
}

// TestRedisRateLimitIsAtomicAndShared: concurrent requests on two servers
// sharing one Redis never pass more than the limit together.
func TestRedisRateLimitIsAtomicAndShared(t *testing.T) {
	url := redisURL(t)
	prefix := "tienda-test-" + web.NewID() + ":"
	limit := func(c *config.Config) {
		c.Prod.RateRead = config.Rate{N: 10, Window: time.Minute}
		c.Prod.RedisPrefix = prefix
	}
	a := newTestServer(t, "sqlite", limit, withRedis(url))
	b := newTestServer(t, "sqlite", limit, withRedis(url))
	const n = 40
	results := make(chan int, n)
	for i := 0; i < n; i++ {
		srv := a
		if i%2 == 1 {
			srv = b
		}
		go func() {
			resp, err := srv.srv.app.Test(httptest.NewRequest("GET", "/api/v1/products", nil), -1)
			if err != nil {
				results <- 0
				return
			}
			resp.Body.Close()
			results <- resp.StatusCode
		}()
	}
	counts := map[int]int{}
	for i := 0; i < n; i++ {
		counts[<-results]++
	}
	if counts[401] != 10 || counts[429] != n-10 {
		t.Fatalf("want 10 passed (401: not signed in) and %d limited, got %v", n-10, counts)
	}
}

// redisURL is TEST_REDIS_URL. Without it a Redis test skips on a
// developer's machine (make test needs no server), but fails in CI, which
// always sets it.
func redisURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("TEST_REDIS_URL")
	if u == "" && os.Getenv("CI") != "" {
		t.Fatal("TEST_REDIS_URL is not set in CI: .ci/run sets it")
	}
	if u == "" {
		t.Skip("TEST_REDIS_URL not set")
	}
	return u
}

// withRedis points the server at the test Redis under a key prefix of its own.
func withRedis(url string) func(*config.Config) {
	return func(c *config.Config) {
		c.RedisURL = url
		if c.Prod.RedisPrefix == "tienda:" {
			c.Prod.RedisPrefix = "tienda-test-" + web.NewID() + ":"
		}
	}
}

func TestProdConfig(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		err  string
		ok   func(config.Config) bool
	}{
		{"defaults", nil, "", func(c config.Config) bool {
			return c.Prod.RateRead.N == 600 && c.Prod.RateAuth.String() == "10/1m0s" && c.Prod.CacheTTL == time.Minute && c.Prod.Compress &&
				c.Prod.RedisTimeout == 200*time.Millisecond && c.Prod.RedisProbe == 2*time.Second
		}},
		{"redis timeouts", map[string]string{"REDIS_TIMEOUT": "100ms", "REDIS_PROBE_INTERVAL": "5s"}, "", func(c config.Config) bool {
			return c.Prod.RedisTimeout == 100*time.Millisecond && c.Prod.RedisProbe == 5*time.Second
		}},
		{"bad redis timeout", map[string]string{"REDIS_TIMEOUT": "0"}, "REDIS_TIMEOUT", nil},
		{"bad redis probe", map[string]string{"REDIS_PROBE_INTERVAL": "soon"}, "REDIS_PROBE_INTERVAL", nil},
		{"rate off", map[string]string{"RATE_LIMIT_READ": "off"}, "", func(c config.Config) bool { return c.Prod.RateRead.Off() }},
		{"bad rate", map[string]string{"RATE_LIMIT_WRITE": "lots"}, "RATE_LIMIT_WRITE", nil},
		{"bad rate window", map[string]string{"RATE_LIMIT_AUTH": "5/soon"}, "RATE_LIMIT_AUTH", nil},
		{"bad cache ttl", map[string]string{"CACHE_TTL": "forever"}, "CACHE_TTL", nil},
		{"bad metrics addr", map[string]string{"METRICS_ADDR": "9090"}, "METRICS_ADDR", nil},
		{"bad origin", map[string]string{"CORS_ORIGINS": "shop.example.com"}, "CORS_ORIGINS", nil},
		{"origin with path", map[string]string{"CORS_ORIGINS": "https://shop.example.com/app"}, "CORS_ORIGINS", nil},
		{"wildcard in development", map[string]string{"CORS_ORIGINS": "*"}, "", func(c config.Config) bool { return c.CORSOrigins[0] == "*" }},
		{"wildcard in production", map[string]string{"CORS_ORIGINS": "*", "APP_ENV": "production"}, "CORS_ORIGINS", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Load(func(k string) string {
				if k == "SECRET_KEY" {
					return "a-production-grade-secret-key-0123456789abcdef"
				}
				return tc.env[k]
			})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one naming %s", err, tc.err)
				}
				return
			}
			if err != nil || !tc.ok(cfg) {
				t.Fatalf("config %+v, err %v", cfg.Prod, err)
			}
		})
	}
}

func TestGracefulShutdownDrainsInFlight(t *testing.T) {
	ts := newTestServer(t, "sqlite", func(c *config.Config) { c.ShutdownTimeout = 5 * time.Second })
	started := make(chan struct{})
	ts.srv.app.Get("/test/slow", func(c *fiber.Ctx) error {
		close(started)
		time.Sleep(300 * time.Millisecond)
		return c.SendString("done")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- ts.srv.Serve(ctx, ln) }()
	got := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/test/slow")
		if err != nil {
			got <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got <- string(b)
	}()
	<-started
	cancel() // as SIGTERM does in cmd/tienda
	if body := <-got; body != "done" {
		t.Fatalf("in-flight request cut: %q", body)
	}
	if err := <-served; err != nil {
		t.Fatalf("serve: %v", err)
	}
}

// TestSlowBodyIsCutOff: a client that sends its body too slowly (slow
// loris) is cut off by the read timeout while the size layer reads the
// streamed body, with a 400 envelope, instead of holding a handler forever.
func TestSlowBodyIsCutOff(t *testing.T) {
	ts := newTestServer(t, "sqlite")
	ts.srv.app.Server().ReadTimeout = 300 * time.Millisecond
	addr := strings.TrimPrefix(ts.listen(), "http://")
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	fmt.Fprint(conn, "POST /api/v1/auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{\"\r\n")
	// ...and nothing more.
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a stalled body: %v", err)
	}
	defer resp.Body.Close()
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Fatalf("stalled body held the connection for %v", elapsed)
	}
	var env web.Error
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil || resp.StatusCode != 400 || env.Code != web.CodeBadRequest {
		t.Fatalf("status %d envelope %+v %v", resp.StatusCode, env, err)
	}
}

// TestErrorsBeforeTheMiddleware: fasthttp refuses oversized headers before
// any middleware runs; the answer still carries the security headers and
// the JSON envelope with a correlation id.
func TestErrorsBeforeTheMiddleware(t *testing.T) {
	ts := newTestServer(t, "sqlite")
	base := ts.listen()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	huge := strings.Repeat("x", 40<<10)
	if _, err := fmt.Fprintf(conn, "GET /api/v1/products HTTP/1.1\r\nHost: t\r\nX-Big: %s\r\n\r\n", huge); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 431 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	for _, h := range []string{"X-Content-Type-Options", "X-Frame-Options", "Content-Security-Policy", "X-Correlation-ID"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("431 without %s: %v", h, resp.Header)
		}
	}
	var env struct {
		Code          string `json:"code"`
		CorrelationID string `json:"correlation_id"`
	}
	if err := json.Unmarshal(body, &env); err != nil || env.Code == "" || env.CorrelationID == "" {
		t.Fatalf("431 body is not the envelope: %s", body)
	}
}
