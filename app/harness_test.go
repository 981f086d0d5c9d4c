package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"tienda/app/auth"
	"tienda/app/config"
	"tienda/app/web"
	"tienda/models"
	"tienda/models/testdb"
)

// testServer is a real Server over a real, migrated database, driven
// through Fiber's app.Test (the full middleware stack, no network).
type testServer struct {
	t       testing.TB
	srv     *Server
	store   *models.Store
	dialect string
	logs    *bytes.Buffer
}

// testConfig is the configuration tests start from.
func testConfig() config.Config {
	cfg, err := config.Load(func(k string) string {
		if k == "SECRET_KEY" {
			return "test-secret-key-that-is-long-enough-0123456789"
		}
		return ""
	})
	if err != nil {
		panic(err)
	}
	return cfg
}

// forEachDialect runs fn as a subtest on SQLite, and on PostgreSQL when
// TEST_DATABASE_URL is set.
func forEachDialect(t *testing.T, fn func(t *testing.T, dialect string)) {
	t.Helper()
	for _, d := range testdb.Dialects() {
		t.Run(d, func(t *testing.T) { fn(t, d) })
	}
}

// newTestServer builds a server on a fresh database; edit adjusts the config.
func newTestServer(t testing.TB, dialect string, edit ...func(*config.Config)) *testServer {
	t.Helper()
	return newTestServerOn(t, testdb.Open(t, dialect), edit...)
}

// newTestServerOn builds a server over an existing database (several
// instances can share one).
func newTestServerOn(t testing.TB, db *gorm.DB, edit ...func(*config.Config)) *testServer {
	t.Helper()
	cfg := testConfig()
	for _, e := range edit {
		e(&cfg)
	}
	if cfg.RedisURL != "" && cfg.Prod.RedisPrefix == testConfig().Prod.RedisPrefix {
		// Redis outlives the test: counters and sessions of earlier runs
		// (a throttled "ana" from five minutes ago) must not leak in.
		// Servers meant to share state set the same prefix themselves.
		cfg.Prod.RedisPrefix = "test:" + web.NewID()[:12] + ":"
	}
	logs := &bytes.Buffer{}
	log := slog.New(slog.NewJSONHandler(&lockedWriter{w: logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := New(context.Background(), cfg, db, log)
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	t.Cleanup(srv.Close)
	return &testServer{t: t, srv: srv, store: srv.store, dialect: models.Dialect(db), logs: logs}
}

// testResponse is a read response.
type testResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test on error.
func (r *testResponse) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %q: %v", r.Body, err)
	}
}

// Map decodes the body as a JSON object.
func (r *testResponse) Map(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	r.JSON(t, &m)
	return m
}

// request sends req through the whole app.
func (ts *testServer) request(req *http.Request) *testResponse {
	ts.t.Helper()
	resp, err := ts.srv.app.Test(req, -1)
	if err != nil {
		ts.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		ts.t.Fatalf("read body: %v", err)
	}
	return &testResponse{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

// do sends a request. body may be nil, a string (sent as is) or any value
// (sent as JSON). hdr holds header name/value pairs.
func (ts *testServer) do(method, path string, body any, hdr ...string) *testResponse {
	ts.t.Helper()
	var r io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case string:
		r, ctype = strings.NewReader(b), "application/json"
	case []byte:
		r, ctype = bytes.NewReader(b), "application/json"
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			ts.t.Fatalf("encode body: %v", err)
		}
		r, ctype = bytes.NewReader(buf), "application/json"
	}
	req := httptest.NewRequest(method, path, r)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return ts.request(req)
}

// createUser adds a user with the given flags and returns its password. A
// staff user joins the Staff group, as one made in the admin or with
// createsuperuser --staff does; groups names other groups to join instead.
func (ts *testServer) createUser(username string, staff, superuser bool, groups ...string) string {
	ts.t.Helper()
	pw := "pw-" + username + "-0123456789"
	u := &models.User{Username: username, Email: username + "@example.com", IsActive: true, IsStaff: staff, IsSuperuser: superuser}
	ctx := context.Background()
	if staff && !superuser && len(groups) == 0 {
		groups = []string{models.StaffGroup}
	}
	u.Groups = []int64{}
	for _, name := range groups {
		g, err := ts.store.GroupByName(ctx, name)
		if err != nil {
			ts.t.Fatalf("group %s: %v", name, err)
		}
		u.Groups = append(u.Groups, g.ID)
	}
	if err := u.SetPassword(ctx, pw); err != nil {
		ts.t.Fatal(err)
	}
	if err := ts.store.Create(ctx, u); err != nil {
		ts.t.Fatalf("create user %s: %v", username, err)
	}
	return pw
}

// login returns a token pair for the user.
func (ts *testServer) login(username, password string) auth.TokenPair {
	ts.t.Helper()
	resp := ts.do("POST", "/api/v1/auth/token", map[string]string{"username": username, "password": password})
	if resp.Status != 200 {
		ts.t.Fatalf("login %s: %d %s", username, resp.Status, resp.Body)
	}
	var p auth.TokenPair
	resp.JSON(ts.t, &p)
	return p
}

// staffToken creates a staff user and returns "Bearer <access token>".
func (ts *testServer) staffToken(username string) string {
	ts.t.Helper()
	pw := ts.createUser(username, true, false)
	return "Bearer " + ts.login(username, pw).AccessToken
}

// lockedWriter serialises writes from concurrent handlers into one buffer.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, d time.Duration, cond func() bool) bool {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return cond()
}

// listen serves the app on a real loopback socket until the test ends and
// returns its base URL (for clients that need real HTTP: streaming, size
// limits, browsers).
func (ts *testServer) listen() string {
	ts.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		ts.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ts.srv.Serve(ctx, ln) }()
	ts.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			ts.t.Errorf("serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// createStaff adds a staff user holding exactly perms (no group) and
// returns its password.
func (ts *testServer) createStaff(username string, perms ...string) string {
	ts.t.Helper()
	pw := "pw-" + username + "-0123456789"
	u := &models.User{Username: username, Email: username + "@example.com", IsActive: true, IsStaff: true,
		Groups: []int64{}, UserPermissions: append([]string{}, perms...)}
	ctx := context.Background()
	if err := u.SetPassword(ctx, pw); err != nil {
		ts.t.Fatal(err)
	}
	if err := ts.store.Create(ctx, u); err != nil {
		ts.t.Fatalf("create staff %s: %v", username, err)
	}
	return pw
}
