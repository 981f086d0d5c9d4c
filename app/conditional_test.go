package app

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"tienda/app/config"
	"tienda/app/web"
)

// TestConditionalRequests: If-Match compares strongly (a weak tag never
// matches), "*" matches any version, a list matches when one tag names
// the current version; a write without If-Match is refused with 428 and
// the current ETag; If-None-Match compares weakly. Each refused write
// leaves the record as it was.
func TestConditionalRequests(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		auth := ts.staffToken("olga")
		r := ts.do("POST", "/api/v1/products", map[string]any{"name": "Cond", "price": "1.00", "stock": 1}, "Authorization", auth)
		wantStatus(t, r, 201)
		path := r.Header.Get("Location")
		stock := func() float64 { return ts.do("GET", path, nil, "Authorization", auth).Map(t)["stock"].(float64) }
		cases := []struct {
			name, method, ifMatch string
			status                int
			code                  string
		}{
			{"PATCH without If-Match", "PATCH", "", 428, web.CodePreconditionRequired},
			{"PUT without If-Match", "PUT", "", 428, web.CodePreconditionRequired},
			{"DELETE without If-Match", "DELETE", "", 428, web.CodePreconditionRequired},
			{"weak tag of the current version", "PATCH", `W/"1"`, 412, web.CodePreconditionFailed},
			{"unquoted version", "PATCH", `1`, 412, web.CodePreconditionFailed},
			{"another version", "PATCH", `"7"`, 412, web.CodePreconditionFailed},
			{"garbage", "DELETE", `"x", W/"y"`, 412, web.CodePreconditionFailed},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				hdr := []string{"Authorization", auth}
				if tc.ifMatch != "" {
					hdr = append(hdr, "If-Match", tc.ifMatch)
				}
				var body any
				if tc.method != "DELETE" {
					body = map[string]any{"name": "Cond", "description": "", "price": "1.00", "stock": 99}
				}
				r := ts.do(tc.method, path, body, hdr...)
				assertEnvelope(t, r, tc.status, tc.code)
				if r.Header.Get("ETag") != `"1"` {
					t.Fatalf("refusal without the current ETag: %v", r.Header)
				}
				if stock() != 1 {
					t.Fatal("a refused write changed the record")
				}
			})
		}
		// A list matches when one strong tag names the current version.
		wantStatus(t, ts.do("PATCH", path, map[string]any{"stock": 2}, "Authorization", auth, "If-Match", `W/"1", "9", "1"`), 200)
		// "*" matches whatever the version is.
		wantStatus(t, ts.do("PATCH", path, map[string]any{"stock": 3}, "Authorization", auth, "If-Match", "*"), 200)
		// If-None-Match is weak: W/"3" is the current version too.
		if r := ts.do("GET", path, nil, "Authorization", auth, "If-None-Match", `W/"3"`); r.Status != 304 {
			t.Fatalf("If-None-Match W/\"3\": %d", r.Status)
		}
		if r := ts.do("GET", path, nil, "Authorization", auth, "If-None-Match", `"1", "2"`); r.Status != 200 {
			t.Fatalf("If-None-Match of old versions: %d", r.Status)
		}
		// A missing record is a 404 whatever If-Match says.
		assertEnvelope(t, ts.do("PATCH", "/api/v1/products/99999", map[string]any{"stock": 1}, "Authorization", auth), 404, web.CodeNotFound)
		assertEnvelope(t, ts.do("DELETE", "/api/v1/products/99999", nil, "Authorization", auth, "If-Match", "*"), 404, web.CodeNotFound)
		wantStatus(t, ts.do("DELETE", path, nil, "Authorization", auth, "If-Match", `"3"`), 204)
	})
}

// TestBlindWritesLoseNothing: eight clients doing read-modify-write
// increments without If-Match used to lose most of them (80 acknowledged,
// final value 42). By default such writes are refused with 428; clients
// that send the ETag they read either win or get 412 and retry, so every
// acknowledged increment is in the final value.
func TestBlindWritesLoseNothing(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, func(c *config.Config) {
			c.Prod.RateWrite = config.Rate{N: 1 << 20, Window: 60e9}
			c.Prod.RateRead = config.Rate{N: 1 << 20, Window: 60e9}
		})
		auth := ts.staffToken("pia")
		r := ts.do("POST", "/api/v1/products", map[string]any{"name": "Counter", "price": "1.00", "stock": 0}, "Authorization", auth)
		path := r.Header.Get("Location")
		send := func(method, body string, hdr ...string) *testResponse {
			req := httptest.NewRequest(method, path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", auth)
			for i := 0; i+1 < len(hdr); i += 2 {
				req.Header.Set(hdr[i], hdr[i+1])
			}
			return ts.request(req)
		}
		if r := send("PATCH", `{"stock":1}`); r.Status != 428 {
			t.Fatalf("blind write: %d %s", r.Status, r.Body)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		acked := 0
		for range 8 {
			wg.Go(func() {
				for range 10 {
					for {
						cur := send("GET", "")
						var p struct {
							Stock int64 `json:"stock"`
						}
						cur.JSON(t, &p)
						w := send("PATCH", fmt.Sprintf(`{"stock":%d}`, p.Stock+1), "If-Match", cur.Header.Get("ETag"))
						if w.Status == 200 {
							mu.Lock()
							acked++
							mu.Unlock()
							break
						}
						if w.Status != 412 {
							t.Errorf("increment: %d %s", w.Status, w.Body)
							return
						}
					}
				}
			})
		}
		wg.Wait()
		var p struct {
			Stock int64 `json:"stock"`
		}
		send("GET", "").JSON(t, &p)
		if acked != 80 || p.Stock != 80 {
			t.Fatalf("%d increments acknowledged, final stock %d: updates were lost", acked, p.Stock)
		}
	})
}

// TestRequireIfMatchOff: REQUIRE_IF_MATCH=false restores last-write-wins
// for clients that cannot send If-Match.
func TestRequireIfMatchOff(t *testing.T) {
	ts := newTestServer(t, "sqlite", func(c *config.Config) { c.RequireIfMatch = false })
	auth := ts.staffToken("quim")
	r := ts.do("POST", "/api/v1/products", map[string]any{"name": "Blind", "price": "1.00", "stock": 0}, "Authorization", auth)
	path := r.Header.Get("Location")
	wantStatus(t, ts.do("PATCH", path, map[string]any{"stock": 5}, "Authorization", auth), 200)
	wantStatus(t, ts.do("DELETE", path, nil, "Authorization", auth), 204)
}

// TestIfMatchAnyIsNeverRefused: If-Match: * accepts whatever version is
// there, so concurrent writes with it all succeed (a write overtaken by
// another is redone on the new version, never answered 412), and a field
// one PATCH did not send is never put back by it.
func TestIfMatchAnyIsNeverRefused(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, func(c *config.Config) {
			c.Prod.RateWrite = config.Rate{N: 1 << 20, Window: 60e9}
		})
		auth := ts.staffToken("rosa")
		r := ts.do("POST", "/api/v1/products", map[string]any{"name": "Any", "description": "initial", "price": "1.00", "stock": 0}, "Authorization", auth)
		path := r.Header.Get("Location")
		var wg sync.WaitGroup
		for w := range 6 {
			wg.Go(func() {
				for i := range 8 {
					body := fmt.Sprintf(`{"stock":%d}`, 100+i)
					if w%2 == 1 {
						body = fmt.Sprintf(`{"description":"by writer %d"}`, w)
					}
					req := httptest.NewRequest("PATCH", path, strings.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Authorization", auth)
					req.Header.Set("If-Match", "*")
					if resp := ts.request(req); resp.Status != 200 {
						t.Errorf("PATCH with If-Match: *: %d %s", resp.Status, resp.Body)
						return
					}
				}
			})
		}
		wg.Wait()
		p := ts.do("GET", path, nil, "Authorization", auth).Map(t)
		if p["stock"].(float64) != 107 || !strings.HasPrefix(p["description"].(string), "by writer") {
			t.Fatalf("a field was put back by a PATCH that did not send it: %v", p)
		}
	})
}
