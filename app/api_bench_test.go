package app

import (
	"fmt"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"tienda/app/config"
	"tienda/models"
	"tienda/models/testdb"
)

// apiBenchServer seeds n products and returns a server and a staff bearer
// header. PostgreSQL is used when TEST_DATABASE_URL is set (the production
// database), else SQLite.
func apiBenchServer(b *testing.B, n int) (*testServer, string) {
	b.Helper()
	dialects := testdb.Dialects()
	// The handlers' own cost: no rate limits to refuse the load, no
	// response cache to answer for them (app/bench_test.go measures those).
	ts := newTestServer(b, dialects[len(dialects)-1], func(c *config.Config) {
		c.LogLevel = "warn"
		c.Prod.RateAuth, c.Prod.RateRead, c.Prod.RateWrite = config.Rate{}, config.Rate{}, config.Rate{}
		c.Prod.CacheTTL = 0
	})
	if _, err := ts.store.Seed(b.Context(), n, 0); err != nil {
		b.Fatal(err)
	}
	return ts, ts.staffToken("bench")
}

// serve runs one request through the whole app in-process (no socket), so
// that the figures are the server's own cost.
func serveBench(b *testing.B, h fasthttp.RequestHandler, method, uri, auth, body string) {
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(method)
	ctx.Request.SetRequestURI(uri)
	ctx.Request.Header.Set("Authorization", auth)
	if body != "" {
		ctx.Request.Header.SetContentType("application/json")
		ctx.Request.SetBodyString(body)
	}
	h(&ctx)
	if sc := ctx.Response.StatusCode(); sc >= 300 {
		b.Fatalf("%s %s: %d %s", method, uri, sc, ctx.Response.Body())
	}
}

func BenchmarkProductDetail(b *testing.B) {
	ts, auth := apiBenchServer(b, 10_000)
	h := ts.srv.app.Handler()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		serveBench(b, h, "GET", fmt.Sprintf("/api/v1/products/%d", i%10_000+1), auth, "")
	}
}

func BenchmarkProductListPage1(b *testing.B) {
	ts, auth := apiBenchServer(b, 10_000)
	h := ts.srv.app.Handler()
	b.ReportAllocs()
	for b.Loop() {
		serveBench(b, h, "GET", "/api/v1/products?page=1&page_size=20", auth, "")
	}
}

func BenchmarkProductListSearchSorted(b *testing.B) {
	ts, auth := apiBenchServer(b, 10_000)
	h := ts.srv.app.Handler()
	b.ReportAllocs()
	for b.Loop() {
		serveBench(b, h, "GET", "/api/v1/products?q=category+7&sort=-price&in_stock=true", auth, "")
	}
}

func BenchmarkProductCreate(b *testing.B) {
	ts, auth := apiBenchServer(b, 0)
	h := ts.srv.app.Handler()
	body := `{"name":"Bench lamp","description":"` + strings.Repeat("d", 100) + `","price":"19.99","stock":5}`
	b.ReportAllocs()
	for b.Loop() {
		serveBench(b, h, "POST", "/api/v1/products", auth, body)
	}
}

// BenchmarkListCount compares the capped count with a full COUNT(*): the
// list endpoint must not scan a huge table on every request.
func BenchmarkListCount(b *testing.B) {
	db := testdb.Open(b, testdb.Dialects()[len(testdb.Dialects())-1])
	store := models.NewStore(db)
	if _, err := store.Seed(b.Context(), 50_000, 0); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := models.List[models.Product](b.Context(), db, models.ProductList, models.ListParams{Page: 1, PageSize: 20}); err != nil {
			b.Fatal(err)
		}
	}
}
