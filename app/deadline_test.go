package app

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"tienda/app/config"
	"tienda/app/web"
	"tienda/models"
	"tienda/models/testdb"
)

// TestRequestDeadline: a write stuck behind a lock held by another
// connection answers 503 SERVICE_UNAVAILABLE once REQUEST_TIMEOUT passes
// (its statement is cancelled, nothing is written), while reads of other
// products answer normally meanwhile, and the same write succeeds once the
// lock is gone. On PostgreSQL the lock is a row lock on that product; on
// SQLite it is the database's write lock (one writer at a time).
func TestRequestDeadline(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, func(c *config.Config) {
			c.RequestTimeout = 300 * time.Millisecond
			c.Prod.RateWrite = config.Rate{N: 1 << 20, Window: time.Minute}
			c.Prod.RateRead = config.Rate{N: 1 << 20, Window: time.Minute}
		})
		token := ts.staffToken("dora")
		var ids []int64
		for i := range 5 {
			r := ts.do("POST", "/api/v1/products", map[string]any{"name": fmt.Sprintf("Locked %d", i), "price": "1.00", "stock": 1}, "Authorization", token)
			wantStatus(t, r, 201)
			var p models.Product
			r.JSON(t, &p)
			ids = append(ids, p.ID)
		}
		// Another connection takes the lock and keeps it.
		tx := ts.store.DB.Begin()
		if err := tx.Error; err != nil {
			t.Fatal(err)
		}
		var lockSQL string
		if dialect == models.Postgres {
			lockSQL = fmt.Sprintf("SELECT id FROM products WHERE id = %d FOR UPDATE", ids[0])
		} else {
			lockSQL = fmt.Sprintf("UPDATE products SET stock = stock WHERE id = %d", ids[0])
		}
		if err := tx.Exec(lockSQL).Error; err != nil {
			t.Fatal(err)
		}
		released := false
		release := func() {
			if !released {
				released = true
				tx.Rollback()
			}
		}
		defer release()

		patch := func() *testResponse {
			return ts.do("PATCH", fmt.Sprintf("/api/v1/products/%d", ids[0]), map[string]any{"stock": 42},
				"Authorization", token, "If-Match", `"1"`)
		}
		var wg sync.WaitGroup
		var stuck *testResponse
		var took time.Duration
		wg.Go(func() {
			start := time.Now()
			stuck = patch()
			took = time.Since(start)
		})
		// Meanwhile reads of the other products answer (on PostgreSQL also
		// while the write waits; SQLite readers never wait for the writer).
		for _, id := range ids[1:] {
			r := ts.do("GET", fmt.Sprintf("/api/v1/products/%d", id), nil, "Authorization", token)
			wantStatus(t, r, 200)
		}
		wg.Wait()
		assertEnvelope(t, stuck, 503, web.CodeUnavailable)
		if stuck.Header.Get("Retry-After") == "" {
			t.Fatalf("503 without Retry-After: %v", stuck.Header)
		}
		// Generous bound for a loaded machine: the point is that the request
		// did not wait for the lock (the test holds it for ever).
		if took > 5*time.Second {
			t.Fatalf("the stuck write answered after %v", took)
		}
		release()
		var p models.Product
		if err := ts.store.Get(context.Background(), &p, ids[0]); err != nil || p.Stock != 1 || p.Version != 1 {
			t.Fatalf("the timed-out write changed the row: %+v %v", p, err)
		}
		wantStatus(t, patch(), 200)
	})
}

// TestHungDatabase: with the database's network hung (a proxy that stops
// forwarding, connections left open), every request that needs the
// database answers 503 within its deadline, sign-in included, /ready says
// 503, and once the network moves again the server answers normally
// without a restart.
func TestHungDatabase(t *testing.T) {
	db, proxy := testdb.OpenViaProxy(t) // PostgreSQL (skips without TEST_DATABASE_URL)
	ts := newTestServerOn(t, db, func(c *config.Config) {
		c.RequestTimeout = 500 * time.Millisecond
		c.Prod.CacheTTL = 0
	})
	pw := ts.createUser("hana", true, false)
	token := "Bearer " + ts.login("hana", pw).AccessToken
	r := ts.do("POST", "/api/v1/products", map[string]any{"name": "Before", "price": "1.00", "stock": 1}, "Authorization", token)
	wantStatus(t, r, 201)

	proxy.Stall()
	requests := []struct {
		method, path string
		body         any
		auth         bool
	}{
		{"GET", "/api/v1/products", nil, true},
		{"GET", "/api/v1/products/1", nil, true},
		{"POST", "/api/v1/products", map[string]any{"name": "During", "price": "1.00", "stock": 1}, true},
		{"POST", "/api/v1/auth/token", map[string]string{"username": "hana", "password": pw}, false},
	}
	var wg sync.WaitGroup
	for _, rq := range requests {
		wg.Go(func() {
			hdr := []string{}
			if rq.auth {
				hdr = []string{"Authorization", token}
			}
			start := time.Now()
			r := ts.do(rq.method, rq.path, rq.body, hdr...)
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("%s %s answered after %v", rq.method, rq.path, took)
			}
			if r.Status != 503 || !strings.Contains(string(r.Body), web.CodeUnavailable) || r.Header.Get("Retry-After") == "" {
				t.Errorf("%s %s with the database hung: %d %v %s", rq.method, rq.path, r.Status, r.Header, r.Body)
			}
		})
	}
	wg.Wait()
	if r := ts.do("GET", "/ready", nil); r.Status != 503 {
		t.Errorf("/ready with the database hung: %d %s", r.Status, r.Body)
	}
	if r := ts.do("GET", "/health", nil); r.Status != 200 {
		t.Errorf("/health with the database hung: %d", r.Status)
	}

	proxy.Resume()
	if !eventually(t, 20*time.Second, func() bool {
		return ts.do("GET", "/api/v1/products", nil, "Authorization", token).Status == 200 && ts.do("GET", "/ready", nil).Status == 200
	}) {
		t.Fatal("the server did not recover once the database answered again")
	}
	var page struct {
		Total int `json:"total"`
	}
	ts.do("GET", "/api/v1/products", nil, "Authorization", token).JSON(t, &page)
	if page.Total != 1 {
		t.Fatalf("the create that timed out was written (total %d)", page.Total)
	}
}
