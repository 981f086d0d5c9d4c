package app

import (
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"tienda/models"
)

// Admin page benchmarks through the whole app (session, CSRF, engine,
// templ) on a seeded products table. ADMIN_BENCH_ROWS sets the table size
// (default 100000) and ADMIN_BENCH_DIALECT=postgres runs them on
// TEST_DATABASE_URL. Results go in docs/benchmarks-admin.md.
func adminBenchServer(b *testing.B) (*testServer, *browser) {
	b.Helper()
	rows := 100_000
	if v, err := strconv.Atoi(os.Getenv("ADMIN_BENCH_ROWS")); err == nil && v > 0 {
		rows = v
	}
	dialect := models.SQLite
	if os.Getenv("ADMIN_BENCH_DIALECT") == models.Postgres {
		if os.Getenv("TEST_DATABASE_URL") == "" {
			b.Fatal("ADMIN_BENCH_DIALECT=postgres needs TEST_DATABASE_URL")
		}
		dialect = models.Postgres
	}
	ts := newTestServer(b, dialect)
	start := time.Now()
	seedBench(b, ts, rows)
	b.Logf("%s: seeded %d products in %s", dialect, rows, time.Since(start).Round(time.Millisecond))
	pw := ts.createUser("bench", true, false)
	br := ts.browser()
	br.login("bench", pw)
	return ts, br
}

// seedBench inserts rows products in one statement, with the values of
// models.SeedProduct (so every run measures the same data).
func seedBench(b *testing.B, ts *testServer, rows int) {
	b.Helper()
	var q string
	if ts.dialect == models.Postgres {
		q = `INSERT INTO products (name, description, price, stock, version, created_at, updated_at)
SELECT 'Product ' || lpad(i::text, 6, '0'),
       'Seeded product ' || i || ', category ' || (i % 50) || ': a plain description of about a hundred characters, like a shop would have.',
       ((((i::bigint * 7919) % 100000) + 99) / 100.0)::numeric(12,2), (i::bigint * 37) % 1000, 1,
       timestamptz '2024-01-01 00:00:00+00' + i * interval '1 second', timestamptz '2024-01-01 00:00:00+00' + i * interval '1 second'
FROM generate_series(1, ?) AS s(i)`
	} else {
		q = `WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?)
INSERT INTO products (name, description, price, stock, version, created_at, updated_at)
SELECT printf('Product %06d', i),
       'Seeded product ' || i || ', category ' || (i % 50) || ': a plain description of about a hundred characters, like a shop would have.',
       ((i * 7919) % 100000) + 99, (i * 37) % 1000, 1,
       strftime('%Y-%m-%d %H:%M:%S', '2024-01-01', '+' || i || ' seconds'), strftime('%Y-%m-%d %H:%M:%S', '2024-01-01', '+' || i || ' seconds')
FROM seq`
	}
	if err := ts.store.DB.Exec(q, rows).Error; err != nil {
		b.Fatalf("seed: %v", err)
	}
	if err := ts.store.DB.Exec("ANALYZE").Error; err != nil {
		b.Fatalf("analyze: %v", err)
	}
}

// runPage requests path b.N times and reports the median latency.
func runPage(b *testing.B, br *browser, path string) {
	b.Helper()
	if r := br.get(path); r.Status != 200 {
		b.Fatalf("%s: %d", path, r.Status)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		r := br.send(httptest.NewRequest("GET", path, nil))
		lat = append(lat, time.Since(t0))
		if r.Status != 200 {
			b.Fatalf("%s: %d", path, r.Status)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
}

// BenchmarkAdminProductList: 50 rows with a search, a filter and a sort.
func BenchmarkAdminProductList(b *testing.B) {
	_, br := adminBenchServer(b)
	cases := []struct{ name, path string }{
		// A distinctive search term, as staff type them ("lámpara", a code).
		{"search+filter+sort", "/admin/products?q=042&stock=low&o=-price"},
		// Worst case for trigram indexes: every seeded row contains "category".
		{"common-words-search+filter+sort", "/admin/products?q=category+7%3A&stock=low&o=-price"},
		{"filter+sort", "/admin/products?price=50-200&o=name"},
		{"unfiltered", "/admin/products"},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) { runPage(b, br, c.path) })
	}
}

// BenchmarkAdminChangeForm: the change form of one product.
func BenchmarkAdminChangeForm(b *testing.B) {
	_, br := adminBenchServer(b)
	runPage(b, br, "/admin/products/4242")
}
