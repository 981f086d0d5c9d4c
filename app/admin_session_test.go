package app

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"gorm.io/gorm"

	"tienda/app/adminpanel"
)

// writeCounter counts the statements that write (INSERT, UPDATE, DELETE)
// run through the server's database handle, by table.
type writeCounter struct {
	mu     sync.Mutex
	on     bool
	writes []string
	vars   [][]any
}

func countWrites(t *testing.T, db *gorm.DB) *writeCounter {
	t.Helper()
	wc := &writeCounter{}
	record := func(tx *gorm.DB) {
		sql := strings.TrimSpace(strings.ToUpper(tx.Statement.SQL.String()))
		if !strings.HasPrefix(sql, "INSERT") && !strings.HasPrefix(sql, "UPDATE") && !strings.HasPrefix(sql, "DELETE") {
			return
		}
		wc.mu.Lock()
		defer wc.mu.Unlock()
		if wc.on {
			wc.writes = append(wc.writes, tx.Statement.SQL.String())
			wc.vars = append(wc.vars, tx.Statement.Vars)
		}
	}
	cb := db.Callback()
	for name, err := range map[string]error{
		"create": cb.Create().After("gorm:create").Register("test:count_writes", record),
		"update": cb.Update().After("gorm:update").Register("test:count_writes", record),
		"delete": cb.Delete().After("gorm:delete").Register("test:count_writes", record),
		"raw":    cb.Raw().After("gorm:raw").Register("test:count_writes", record),
	} {
		if err != nil {
			t.Fatalf("register %s callback: %v", name, err)
		}
	}
	return wc
}

// sessionWrites counts the writes of the last during to session rows.
func (wc *writeCounter) sessionWrites() int {
	wc.mu.Lock()
	defer wc.mu.Unlock()
	n := 0
	for _, vars := range wc.vars {
		if len(vars) > 0 {
			if k, ok := vars[0].(string); ok && strings.HasPrefix(k, "sess:") {
				n++
			}
		}
	}
	return n
}

// during runs fn and returns the writes it made.
func (wc *writeCounter) during(fn func()) []string {
	wc.mu.Lock()
	wc.on, wc.writes, wc.vars = true, nil, nil
	wc.mu.Unlock()
	fn()
	wc.mu.Lock()
	defer wc.mu.Unlock()
	wc.on = false
	return wc.writes
}

// TestAdminPageViewWritesNothing: a signed-in page view reads its session
// once and writes nothing (the session is touched at most once a minute,
// adminpanel.SessionTouchInterval); a change that queues a message writes
// the session once.
func TestAdminPageViewWritesNothing(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		b := ts.signedIn("ana", true)
		wc := countWrites(t, ts.srv.db)
		sessionExpiry := func() int64 {
			var exp int64
			if err := ts.srv.db.Raw("SELECT expires_at FROM kv WHERE key = ?", "sess:"+b.cookies[adminpanel.SessionCookie].Value).Scan(&exp).Error; err != nil {
				t.Fatal(err)
			}
			return exp
		}
		before := sessionExpiry()
		for _, path := range []string{"/admin/", "/admin/products", "/admin/products/new", "/admin/users", "/admin/api-keys", "/admin/recent-actions", "/admin/groups"} {
			var resp *testResponse
			if w := wc.during(func() { resp = b.get(path) }); len(w) != 0 {
				t.Fatalf("GET %s wrote: %q", path, w)
			}
			if resp.Status != http.StatusOK {
				t.Fatalf("GET %s: %d", path, resp.Status)
			}
			if h := resp.Header.Values("Set-Cookie"); len(h) != 0 {
				t.Fatalf("GET %s sets cookies %q", path, h)
			}
		}
		if after := sessionExpiry(); after != before {
			t.Fatalf("the session's expiry moved from %d to %d on page views", before, after)
		}
		// A create writes the product, its history and the session (the
		// flash) — the session once.
		w := wc.during(func() {
			wantStatus(t, b.post("/admin/products/new", url.Values{"name": {"Silla"}, "price": {"10"}, "stock": {"1"}}), http.StatusSeeOther)
		})
		if n := wc.sessionWrites(); n != 1 {
			t.Fatalf("%d session writes for one create: %q", n, w)
		}
		// The next page shows the message and clears it: one write.
		w = wc.during(func() {
			if !strings.Contains(string(b.get("/admin/products").Body), "was added") {
				t.Fatal("no flash after the create")
			}
		})
		if n := wc.sessionWrites(); n != 1 || len(w) != 1 {
			t.Fatalf("taking the flash: %d session writes of %q", n, w)
		}
	})
}
