package app

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"tienda/app/api"
	"tienda/app/auth"
	"tienda/app/config"
	"tienda/app/web"
	"tienda/models"
	"tienda/models/testdb"
)

// Benchmarks of the production stack (see docs/benchmarks-prod.md). Each
// drives the Fiber handler directly with a fasthttp.RequestCtx, so the
// figures are the server's own cost, without a network or a client.
//
//	go test ./app -run '^$' -bench 'Stack|List' -benchmem

// benchServer is a server with n products and a staff token; edit adjusts
// its configuration (limits are lifted so that they never refuse).
func benchServer(b *testing.B, n int, edit ...func(*config.Config)) (*testServer, string, int64) {
	b.Helper()
	ts := newTestServer(b, "sqlite", append([]func(*config.Config){func(c *config.Config) {
		c.Prod.RateRead = config.Rate{N: 1 << 30, Window: time.Minute}
		c.Prod.RateWrite = config.Rate{N: 1 << 30, Window: time.Minute}
		c.Prod.RateAuth = config.Rate{N: 1 << 30, Window: time.Minute}
	}}, edit...)...)
	token := ts.staffToken("bench")
	ctx := context.Background()
	price, err := models.ParseMoney("9.99")
	if err != nil {
		b.Fatal(err)
	}
	var id int64
	for i := 0; i < n; i++ {
		p := &models.Product{Name: fmt.Sprintf("Product %04d", i), Description: "A product for benchmarks", Price: price, Stock: int64(i)}
		if err := ts.store.Create(ctx, p); err != nil {
			b.Fatal(err)
		}
		id = p.ID
	}
	ts.logs.Reset()
	return ts, token, id
}

// serve runs h on one request for path and checks the status.
func serve(b *testing.B, h fasthttp.RequestHandler, path, token string, want int) {
	var req fasthttp.Request
	req.Header.SetMethod("GET")
	req.SetRequestURI(path)
	req.Header.SetHost("bench")
	req.Header.Set("Authorization", token)
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1234}
	var ctx fasthttp.RequestCtx
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ctx.Init(&req, addr, nil)
		h(&ctx)
		if ctx.Response.StatusCode() != want {
			b.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
		}
	}
}

// BenchmarkStackDetailGET: one product by id through the whole stack
// (metrics, logging, headers, size limit, CORS, rate limit, JWT, cache,
// compression off as the client does not ask for it) against the same
// handler mounted bare (principal set, no other middleware).
func BenchmarkStackDetailGET(b *testing.B) {
	for _, tc := range []struct {
		name  string
		cache time.Duration
	}{{"full_stack_cached", time.Minute}, {"full_stack_uncached", 0}} {
		b.Run(tc.name, func(b *testing.B) {
			ts, token, id := benchServer(b, 100, func(c *config.Config) { c.Prod.CacheTTL = tc.cache })
			serve(b, ts.srv.app.Handler(), fmt.Sprintf("/api/v1/products/%d", id), token, 200)
		})
	}
	b.Run("bare_handler", func(b *testing.B) {
		ts, token, id := benchServer(b, 100)
		products := &api.Resource[models.Product, *models.Product]{
			Store: ts.srv.store, Kind: "product", Title: "Product", Path: "/api/v1/products", Spec: models.ProductList,
		}
		bare := fiber.New(fiber.Config{DisableStartupMessage: true})
		bare.Get("/api/v1/products/:id", func(c *fiber.Ctx) error {
			web.SetPrincipal(c, &web.Principal{UserID: 1, Staff: true})
			return c.Next()
		}, products.Get)
		serve(b, bare.Handler(), fmt.Sprintf("/api/v1/products/%d", id), token, 200)
	})
}

// BenchmarkListGET: a page of 20 from 2,000 products, cached and not.
func BenchmarkListGET(b *testing.B) {
	for _, tc := range []struct {
		name  string
		cache time.Duration
	}{{"cached", time.Minute}, {"uncached", 0}} {
		b.Run(tc.name, func(b *testing.B) {
			ts, token, _ := benchServer(b, 2000, func(c *config.Config) { c.Prod.CacheTTL = tc.cache })
			serve(b, ts.srv.app.Handler(), "/api/v1/products?page=3&sort=name&q=Product", token, 200)
		})
	}
}

// BenchmarkNginx compares one instance with two behind the shipped
// nginx.conf (nginx in front of both, so the proxy's cost is the same),
// on a cached detail GET with 16 concurrent clients. It needs nginx,
// TEST_REDIS_URL (shared state) and, for PostgreSQL, TEST_DATABASE_URL.
func BenchmarkNginx(b *testing.B) {
	bin := nginxBin(b)
	cfg := testConfig()
	cfg.RedisURL = redisURL(b)
	cfg.TrustedProxies = []string{"127.0.0.1"}
	cfg.Prod.RateRead = config.Rate{N: 1 << 30, Window: time.Minute}
	cfg.Prod.RateAuth = config.Rate{N: 1 << 30, Window: time.Minute}
	cfg.Prod.RedisPrefix = "tienda-bench-" + web.NewID() + ":"
	db, dsn := testdb.OpenURL(b, testdb.Dialects()[len(testdb.Dialects())-1])
	store := models.NewStore(db)
	price, _ := models.ParseMoney("5.00")
	p := &models.Product{Name: "Bench", Price: price, Stock: 1}
	if err := store.Create(context.Background(), p); err != nil {
		b.Fatal(err)
	}
	u := &models.User{Username: "bench", Email: "b@example.com", IsActive: true, IsStaff: true}
	if err := u.SetPassword(context.Background(), "bench-password-1"); err != nil {
		b.Fatal(err)
	}
	if err := store.Create(context.Background(), u); err != nil {
		b.Fatal(err)
	}
	a := startInstance(b, cfg, dsn)
	second := startInstance(b, cfg, dsn)
	tokens := auth.NewTokens(cfg.SecretKey, cfg.AccessTokenTTL, cfg.RefreshTokenTTL)
	access, _, err := tokens.Sign(u, auth.TypAccess, "fam", web.NewID(), time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		upA, upB string
	}{{"one_instance", a, a}, {"two_instances", a, second}} {
		b.Run(tc.name, func(b *testing.B) {
			front := startNginx(b, bin, tc.upA, tc.upB)
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			url := fmt.Sprintf("%s/api/v1/products/%d", front, p.ID)
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest("GET", url, nil)
					req.Header.Set("Authorization", "Bearer "+access)
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
		})
	}
}
