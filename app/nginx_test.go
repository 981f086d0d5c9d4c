package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tienda/app/auth"
	"tienda/app/config"
	"tienda/app/web"
	"tienda/models"
	"tienda/models/testdb"
)

// nginxBin finds nginx (Debian installs it in /usr/sbin).
func nginxBin(t testing.TB) string {
	t.Helper()
	return findTool(t, "nginx", "apt-get install -y nginx-light", "/usr/sbin/nginx", "nginx")
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startInstance runs a server on its own database pool, as a second
// process would, and returns its address.
func startInstance(t testing.TB, cfg config.Config, dsn string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	db, err := models.Open(ctx, models.DBConfig{URL: dsn, MaxOpenConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(ctx, cfg, db, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		_ = models.Close(db)
	})
	return ln.Addr().String()
}

// startNginx runs the shipped deploy/nginx.conf (ports and paths
// rewritten) in front of the two upstream addresses and returns its URL.
func startNginx(t testing.TB, bin, a, b string) string {
	t.Helper()
	conf, err := os.ReadFile("../deploy/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	port := freePort(t)
	c := string(conf)
	for _, r := range []struct{ old, repl string }{
		{"pid /run/nginx.pid;", "pid " + filepath.Join(dir, "nginx.pid") + ";"},
		{"/var/log/nginx/", dir + "/"},
		{"listen 80;", fmt.Sprintf("listen 127.0.0.1:%d;", port)},
		{"server 127.0.0.1:8081", "server " + a},
		{"server 127.0.0.1:8082", "server " + b},
		{"worker_processes auto;", "worker_processes 1;\ndaemon off;"},
		{"\nhttp {", fmt.Sprintf("\nhttp {\n    client_body_temp_path %[1]s/body;\n    proxy_temp_path %[1]s/proxy;\n"+
			"    fastcgi_temp_path %[1]s/fastcgi;\n    uwsgi_temp_path %[1]s/uwsgi;\n    scgi_temp_path %[1]s/scgi;", dir)},
	} {
		if !strings.Contains(c, r.old) {
			t.Fatalf("deploy/nginx.conf no longer contains %q", r.old)
		}
		c = strings.ReplaceAll(c, r.old, r.repl)
	}
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(c), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", confPath, "-p", dir, "-e", filepath.Join(dir, "error.log"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	front := fmt.Sprintf("http://127.0.0.1:%d", port)
	if !eventually(t, 5*time.Second, func() bool {
		resp, err := http.Get(front + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}) {
		t.Fatalf("nginx did not come up: %s", stderr.String())
	}
	return front
}

// TestTwoInstancesBehindNginx starts two instances on one database and one
// Redis behind the shipped deploy/nginx.conf, and proves that a token
// made on one works on the other, that the rate limit is shared, and that
// a write through one is never served stale by the other.
func TestTwoInstancesBehindNginx(t *testing.T) {
	bin := nginxBin(t)
	redisURL := redisURL(t)
	dialect := testdb.Dialects()[len(testdb.Dialects())-1] // PostgreSQL when available
	db, dsn := testdb.OpenURL(t, dialect)
	cfg := testConfig()
	cfg.RedisURL = redisURL
	cfg.Prod.RedisPrefix = "tienda-nginx-" + web.NewID() + ":"
	cfg.TrustedProxies = []string{"127.0.0.1"}
	cfg.Prod.RateRead = config.Rate{N: 1000, Window: time.Minute}
	cfg.Prod.RateWrite = config.Rate{N: 1000, Window: time.Minute}
	cfg.Prod.RateAuth = config.Rate{N: 6, Window: time.Minute}
	a := startInstance(t, cfg, dsn)
	b := startInstance(t, cfg, dsn)

	front := startNginx(t, bin, a, b)

	client := &http.Client{Timeout: 10 * time.Second}
	call := func(base, method, path, token string, body any, hdr ...string) (int, http.Header, []byte) {
		t.Helper()
		var r io.Reader
		if body != nil {
			buf, _ := json.Marshal(body)
			r = bytes.NewReader(buf)
		}
		req, _ := http.NewRequest(method, base+path, r)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if token != "" {
			req.Header.Set("Authorization", token)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, out
	}

	// A staff user with today's staff rights: the Staff group (permissions are data).
	staffGroup, err := models.NewStore(db).GroupByName(context.Background(), models.StaffGroup)
	if err != nil {
		t.Fatal(err)
	}
	u := &models.User{Username: "twin", Email: "twin@example.com", IsActive: true, IsStaff: true, Groups: []int64{staffGroup.ID}}
	if err := u.SetPassword(context.Background(), "twin-password-123"); err != nil {
		t.Fatal(err)
	}
	if err := models.NewStore(db).Create(context.Background(), u); err != nil {
		t.Fatal(err)
	}

	t.Run("a token made on one instance works on the other", func(t *testing.T) {
		st, _, body := call("http://"+a, "POST", "/api/v1/auth/token", "", map[string]string{"username": "twin", "password": "twin-password-123"})
		if st != 200 {
			t.Fatalf("login on a: %d %s", st, body)
		}
		var pair auth.TokenPair
		_ = json.Unmarshal(body, &pair)
		if st, _, body := call("http://"+b, "GET", "/api/v1/products", "Bearer "+pair.AccessToken, nil); st != 200 {
			t.Fatalf("access token on b: %d %s", st, body)
		}
		st, _, body = call("http://"+b, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": pair.RefreshToken})
		if st != 200 {
			t.Fatalf("refresh on b: %d %s", st, body)
		}
		// The old refresh token, reused on a, is refused: rotation state is shared.
		if st, _, body := call("http://"+a, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": pair.RefreshToken}); st != 401 {
			t.Fatalf("reused refresh token on a: %d %s", st, body)
		}
	})

	st, _, body := call(front, "POST", "/api/v1/auth/token", "", map[string]string{"username": "twin", "password": "twin-password-123"})
	if st != 200 {
		t.Fatalf("login through nginx: %d %s", st, body)
	}
	var pair auth.TokenPair
	_ = json.Unmarshal(body, &pair)
	token := "Bearer " + pair.AccessToken

	t.Run("a write through one is never served stale by the other", func(t *testing.T) {
		st, hdr, body := call(front, "POST", "/api/v1/products", token, map[string]any{"name": "Twin 0", "price": "1.00", "stock": 1})
		if st != 201 {
			t.Fatalf("create: %d %s", st, body)
		}
		loc := hdr.Get("Location")
		for i := 1; i <= 6; i++ {
			// Warm both caches, write through one, read through the other and nginx.
			call("http://"+a, "GET", loc, token, nil)
			call("http://"+b, "GET", loc, token, nil)
			writer, reader := "http://"+a, "http://"+b
			if i%2 == 0 {
				writer, reader = reader, writer
			}
			name := fmt.Sprintf("Twin %d", i)
			if st, _, body := call(writer, "PATCH", loc, token, map[string]any{"name": name}, "If-Match", "*"); st != 200 {
				t.Fatalf("patch: %d %s", st, body)
			}
			for _, base := range []string{reader, front, front} {
				if _, _, body := call(base, "GET", loc, token, nil); !bytes.Contains(body, []byte(name)) {
					t.Fatalf("round %d: %s served stale %s", i, base, body)
				}
			}
			if _, _, body := call(reader, "GET", "/api/v1/products?sort=name", token, nil); !bytes.Contains(body, []byte(name)) {
				t.Fatalf("round %d: stale list %s", i, body)
			}
		}
	})

	t.Run("the rate limit is shared", func(t *testing.T) {
		// Auth allows 6 per minute per client (a fresh X-Forwarded-For
		// address here); nginx alternates the instances, so each alone
		// would let all 8 through. Distinct usernames keep the login
		// throttle (5 failures per username) out of the picture.
		statuses := []int{}
		for i := 0; i < 8; i++ {
			st, hdr, _ := call(front, "POST", "/api/v1/auth/token", "", map[string]string{"username": fmt.Sprintf("nobody-%d", i), "password": "x"},
				"X-Forwarded-For", "198.51.100.77")
			if hdr.Get("RateLimit-Limit") != "6" {
				t.Fatalf("no RateLimit headers through nginx: %v", hdr)
			}
			statuses = append(statuses, st)
		}
		want := []int{401, 401, 401, 401, 401, 401, 429, 429}
		if fmt.Sprint(statuses) != fmt.Sprint(want) {
			t.Fatalf("statuses through two instances %v, want %v", statuses, want)
		}
	})
}
