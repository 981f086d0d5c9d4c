package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tienda/models"
	"tienda/models/testdb"
)

// runCmd runs the CLI in-process with the given environment.
func runCmd(t *testing.T, vars map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := env{getenv: func(k string) string { return vars[k] }, stdin: strings.NewReader(""), stdout: &out, stderr: &errb}
	code := run(t.Context(), args, e)
	return code, out.String(), errb.String()
}

func sqliteVars(t *testing.T) map[string]string {
	t.Helper()
	return map[string]string{"DATABASE_URL": filepath.Join(t.TempDir(), "cli.db"), "LOG_LEVEL": "warn"}
}

func TestUsageAndVersion(t *testing.T) {
	cases := []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "usage: tienda"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"version"}, 0, "tienda "},
		{[]string{"migrate"}, 2, "migrate needs one of"},
		{[]string{"migrate", "sideways"}, 2, "migrate needs one of"},
		{[]string{"createsuperuser", "--username", "x"}, 2, "needs --username and --email"},
		{[]string{"serve", "--bogus"}, 2, "flag provided but not defined"},
		{[]string{"seed", "--products", "-1"}, 2, "must be 0 or more"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out, errs := runCmd(t, sqliteVars(t), tc.args...)
			if code != tc.code || !strings.Contains(out+errs, tc.want) {
				t.Fatalf("code %d (want %d), output %q %q", code, tc.code, out, errs)
			}
		})
	}
}

func TestMigrateSeedCreateSuperuser(t *testing.T) {
	for _, dialect := range testdb.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			vars := sqliteVars(t)
			if dialect == models.Postgres {
				_, url := testdb.OpenURL(t, dialect)
				vars["DATABASE_URL"] = url
				// OpenURL migrated the schema; roll all the way back.
				migrateAllDown(t, vars)
			}
			code, out, errs := runCmd(t, vars, "migrate", "status")
			if code != 0 || !strings.Contains(out, "pending") {
				t.Fatalf("status before: %d %q %q", code, out, errs)
			}
			if code, _, errs := runCmd(t, vars, "seed"); code != 1 || !strings.Contains(errs, "pending") {
				t.Fatalf("seed before migrating must refuse: %d %q", code, errs)
			}
			if code, out, errs := runCmd(t, vars, "migrate", "up"); code != 0 || !strings.Contains(out, "applied") {
				t.Fatalf("up: %d %q %q", code, out, errs)
			}
			if code, out, _ := runCmd(t, vars, "migrate", "up"); code != 0 || !strings.Contains(out, "no pending") {
				t.Fatalf("second up: %d %q", code, out)
			}
			if code, out, errs := runCmd(t, vars, "migrate", "redo"); code != 0 || !strings.Contains(out, "redone") {
				t.Fatalf("redo: %d %q %q", code, out, errs)
			}
			if _, out, _ := runCmd(t, vars, "migrate", "status"); strings.Contains(out, "pending") {
				t.Fatalf("status after up still pending:\n%s", out)
			}

			if code, out, errs := runCmd(t, vars, "seed", "--products", "30", "--documents", "3"); code != 0 || !strings.Contains(out, "seeded 30 products and 3 documents") {
				t.Fatalf("seed: %d %q %q", code, out, errs)
			}
			if _, out, _ := runCmd(t, vars, "seed", "--products", "30", "--documents", "3"); !strings.Contains(out, "seeded 0 products and 0 documents") {
				t.Fatalf("seed is not idempotent: %q", out)
			}

			// Without a password source the command fails clearly.
			code, _, errs = runCmd(t, vars, "createsuperuser", "--username", "root", "--email", "root@example.com")
			if code != 1 || !strings.Contains(errs, "TIENDA_SUPERUSER_PASSWORD") {
				t.Fatalf("no password: %d %q", code, errs)
			}
			vars["TIENDA_SUPERUSER_PASSWORD"] = "short"
			if code, _, errs := runCmd(t, vars, "createsuperuser", "--username", "root", "--email", "root@example.com"); code != 1 || !strings.Contains(errs, "password") {
				t.Fatalf("weak password: %d %q", code, errs)
			}
			vars["TIENDA_SUPERUSER_PASSWORD"] = "correct horse battery"
			if code, out, errs := runCmd(t, vars, "createsuperuser", "--username", "root", "--email", "root@example.com"); code != 0 || !strings.Contains(out, `superuser "root" created`) {
				t.Fatalf("createsuperuser: %d %q %q", code, out, errs)
			}
			if code, _, errs := runCmd(t, vars, "createsuperuser", "--username", "ROOT", "--email", "r@example.com"); code != 1 || !strings.Contains(errs, "username") {
				t.Fatalf("duplicate username (case-insensitive): %d %q", code, errs)
			}
			if code, out, _ := runCmd(t, vars, "createsuperuser", "--username", "clerk", "--email", "c@example.com", "--staff"); code != 0 || !strings.Contains(out, "staff user") {
				t.Fatalf("--staff: %d %q", code, out)
			}
			if code, _, errs := runCmd(t, vars, "createsuperuser", "--username", "bad", "--email", "not-an-email"); code != 1 || !strings.Contains(errs, "email") {
				t.Fatalf("bad email: %d %q", code, errs)
			}

			db, err := models.Open(t.Context(), models.DBConfig{URL: vars["DATABASE_URL"]})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = models.Close(db) }()
			store := models.NewStore(db)
			u, err := store.Authenticate(t.Context(), "root", "correct horse battery")
			if err != nil || !u.IsSuperuser || !u.IsStaff {
				t.Fatalf("created superuser cannot log in: %v %+v", err, u)
			}
			u, err = store.UserByUsername(t.Context(), "clerk")
			if err != nil || u.IsSuperuser || !u.IsStaff {
				t.Fatalf("staff user: %v %+v", err, u)
			}
			// --staff gives today's staff rights: the Staff group's.
			if err := store.LoadPermissions(t.Context(), u); err != nil || !models.Permission(u, "change", "product") || models.Permission(u, "view", "user") {
				t.Fatalf("staff user's permissions: %v %v", err, u.Perms.Sorted())
			}
		})
	}
}

func TestServeRefusesWeakSecretInProduction(t *testing.T) {
	for _, secret := range []string{"", "super-secret", "changeme", "secret", strings.Repeat("a", 31)} {
		vars := sqliteVars(t)
		vars["APP_ENV"], vars["SECRET_KEY"] = "production", secret
		code, _, errs := runCmd(t, vars, "serve")
		if code != 1 || !strings.Contains(errs, "SECRET_KEY") || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
			t.Fatalf("secret %q: code %d, stderr %q (want one clear line)", secret, code, errs)
		}
	}
}

func TestServeRefusesPendingMigrationsOnPostgresInProduction(t *testing.T) {
	// testdb skips this without TEST_DATABASE_URL (PostgreSQL).
	_, url := testdb.OpenURL(t, models.Postgres)
	vars := map[string]string{"DATABASE_URL": url, "APP_ENV": "production", "SECRET_KEY": strings.Repeat("k9", 20), "PORT": "0", "LOG_LEVEL": "warn"}
	if code, _, errs := runCmd(t, vars, "migrate", "down"); code != 0 {
		t.Fatalf("down: %s", errs)
	}
	code, _, errs := runCmd(t, vars, "serve")
	if code != 1 || !strings.Contains(errs, "pending") || !strings.Contains(errs, "--migrate") {
		t.Fatalf("serve with pending migrations: %d %q", code, errs)
	}
	// With --migrate it migrates and serves.
	serveUntilReady(t, vars, "--migrate")
}

// TestServeStartsWithoutTheDatabase: with PostgreSQL unreachable at start
// (its network hung), serve starts anyway, /health is 200 and /ready 503;
// once the database answers, /ready turns 200 without a restart.
func TestServeStartsWithoutTheDatabase(t *testing.T) {
	_, proxy, url := testdb.OpenViaProxyURL(t) // skips without TEST_DATABASE_URL
	proxy.Stall()
	vars := map[string]string{"DATABASE_URL": url, "APP_ENV": "production", "SECRET_KEY": strings.Repeat("k9", 20), "PORT": "0", "LOG_LEVEL": "warn"}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out, errb syncBuffer
	addrc := make(chan string, 1)
	e := env{getenv: func(k string) string { return vars[k] }, stdin: strings.NewReader(""), stdout: &out, stderr: &errb,
		ready: func(a string) { addrc <- a }}
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"serve"}, e) }()
	var addr string
	select {
	case addr = <-addrc:
	case code := <-done:
		t.Fatalf("serve exited %d with the database down: %s", code, errb.String())
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start with the database down")
	}
	base := "http://127.0.0.1:" + addr[strings.LastIndex(addr, ":")+1:]
	status := func(path string) int {
		c := &http.Client{Timeout: 10 * time.Second}
		resp, err := c.Get(base + path)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := status("/health"); st != 200 {
		t.Fatalf("/health with the database down: %d", st)
	}
	if st := status("/ready"); st != 503 {
		t.Fatalf("/ready with the database down: %d", st)
	}
	if !strings.Contains(errb.String(), "database unreachable") {
		t.Fatalf("not logged: %s", errb.String())
	}
	proxy.Resume()
	deadline := time.Now().Add(30 * time.Second)
	for status("/ready") != 200 {
		if time.Now().After(deadline) {
			t.Fatalf("/ready never turned 200 once the database answered: %s", errb.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exited %d: %s", code, errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not shut down")
	}
}

func TestServeFirstRunAndGracefulShutdown(t *testing.T) {
	vars := sqliteVars(t)
	vars["PORT"] = "0"
	out := serveUntilReady(t, vars)
	if !strings.Contains(out, `log in as "admin" with password`) || !strings.Contains(out, "/admin/") {
		t.Fatalf("first run did not say how to log in: %q", out)
	}
	// The secret key generated for development is kept beside the database.
	if b, err := os.ReadFile(filepath.Join(filepath.Dir(vars["DATABASE_URL"]), ".tienda_secret_key")); err != nil || len(b) < 32 {
		t.Fatalf("development secret key not kept: %v", err)
	}
	// A second start neither creates another admin nor prints a password.
	out = serveUntilReady(t, vars)
	if strings.Contains(out, "password \"") {
		t.Fatalf("second run printed a password: %q", out)
	}
}

// migrateAllDown rolls back every applied migration.
func migrateAllDown(t *testing.T, vars map[string]string) {
	t.Helper()
	for range 100 {
		_, out, _ := runCmd(t, vars, "migrate", "status")
		if !strings.Contains(out, "applied") {
			return
		}
		if code, _, errs := runCmd(t, vars, "migrate", "down"); code != 0 {
			t.Fatalf("down: %s", errs)
		}
	}
	t.Fatal("migrations never all rolled back")
}

// serveUntilReady starts `tienda serve`, checks /ready and the demo data
// over real HTTP, then cancels the context (as SIGTERM does) and waits for
// a clean exit. It returns what serve printed.
func serveUntilReady(t *testing.T, vars map[string]string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out, errb syncBuffer
	addrc := make(chan string, 1)
	e := env{getenv: func(k string) string { return vars[k] }, stdin: strings.NewReader(""), stdout: &out, stderr: &errb,
		ready: func(a string) { addrc <- a }}
	done := make(chan int, 1)
	go func() { done <- run(ctx, append([]string{"serve"}, args...), e) }()
	var addr string
	select {
	case addr = <-addrc:
	case code := <-done:
		t.Fatalf("serve exited %d: %s", code, errb.String())
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	port := addr[strings.LastIndex(addr, ":")+1:]
	resp, err := http.Get("http://127.0.0.1:" + port + "/ready")
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 200 || body["status"] != "ready" {
		t.Fatalf("/ready: %d %v", resp.StatusCode, body)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exited %d after shutdown: %s", code, errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not shut down")
	}
	return out.String()
}

// syncBuffer is a bytes.Buffer safe for the server goroutine and the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
