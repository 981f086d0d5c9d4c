package app

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"gorm.io/gorm"

	"tienda/models"
	"tienda/models/testdb"
)

// seedExport inserts n products in one statement: ties in every sort
// column (names, prices and stock repeat; updated_at in a few values) and
// long descriptions, so that an export is several megabytes.
func seedExport(t *testing.T, ts *testServer, n int) {
	t.Helper()
	var q string
	if ts.dialect == models.Postgres {
		q = `INSERT INTO products (name, description, price, stock, version, created_at, updated_at)
SELECT 'Silla ' || (i % 97), 'Silla de roble ' || i || ' ' || repeat('x', 150), (i % 13) + 0.5, i % 7, 1,
       timestamptz '2024-01-01 00:00:00+00', timestamptz '2024-01-01 00:00:00+00' + (i % 5) * interval '1 hour'
FROM generate_series(1, ?) AS s(i)`
	} else {
		q = `WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?)
INSERT INTO products (name, description, price, stock, version, created_at, updated_at)
SELECT 'Silla ' || (i % 97), 'Silla de roble ' || i || ' ' || substr(replace(hex(zeroblob(75)), '0', 'x'), 1, 150), (i % 13) * 100 + 50, i % 7, 1,
       '2024-01-01 00:00:00', strftime('%Y-%m-%d %H:%M:%S', '2024-01-01', '+' || (i % 5) || ' hours')
FROM seq`
	}
	if err := ts.store.DB.Exec(q, n).Error; err != nil {
		t.Fatalf("seed: %v", err)
	}
}

// exportIDs downloads an export through the app and returns its ids.
func exportIDs(t *testing.T, b *browser, path string) []string {
	t.Helper()
	r := b.get(path)
	wantStatus(t, r, 200)
	recs, err := csv.NewReader(strings.NewReader(string(r.Body))).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(recs) == 0 || recs[0][0] != "id" {
		t.Fatalf("%s: no header: %q", path, recs)
	}
	ids := make([]string, 0, len(recs)-1)
	for _, rec := range recs[1:] {
		ids = append(ids, rec[0])
	}
	return ids
}

// listIDs walks every page of an admin list and returns its ids in order.
func listIDs(t *testing.T, b *browser, path string) []string {
	t.Helper()
	var ids []string
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	for p := 1; p < 1000; p++ {
		d := parse(t, b.get(path+sep+"p="+strconv.Itoa(p)))
		rows := d.Find(`#changelist tbody input[name="ids"]`)
		rows.Each(func(_ int, s *goquery.Selection) { ids = append(ids, s.AttrOr("value", "")) })
		if d.Find(`.pager a[rel="next"]`).Length() == 0 {
			return ids
		}
	}
	t.Fatalf("%s: no last page", path)
	return nil
}

// TestExportStreamsTheListInKeysetPages: an export read in several pages
// holds exactly the rows of the list, in the list's order, for every sort
// (ties broken by id, NULLs where each database puts them), filter and
// search.
func TestExportStreamsTheListInKeysetPages(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		ts.srv.panel.Site().CSV.PageSize = 7
		seedExport(t, ts, 130)
		seedProducts(t, ts, models.Product{Name: "=HYPERLINK(\"x\")", Description: "@SUM(1)", Price: models.Cents(100), Stock: 1})
		b := ts.signedIn("ana", true)
		// Users: last_login is NULL for some (sorted first on SQLite, last
		// on PostgreSQL), tied for others.
		for i := range 17 {
			ts.createUser(fmt.Sprintf("user%02d", i), i%2 == 0, false)
		}
		if err := ts.store.DB.Exec("UPDATE users SET last_login = ? WHERE id % 3 = 0", time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)).Error; err != nil {
			t.Fatal(err)
		}
		if err := ts.store.DB.Exec("UPDATE users SET last_login = ? WHERE id % 3 = 1", time.Date(2024, 6, 1, 10, 0, 0, 0, time.UTC)).Error; err != nil {
			t.Fatal(err)
		}
		queries := map[string][]string{
			"products": {"", "o=name", "o=-name", "o=price", "o=-price", "o=stock", "o=-stock", "o=updated_at",
				"o=-updated_at", "o=id", "o=-id", "q=roble+1", "stock=in&o=-price", "price=0-10&o=name", "q=silla&stock=out&o=-stock"},
			"users": {"", "o=last_login", "o=-last_login", "o=-is_staff", "o=email", "role=staff&o=-last_login"},
		}
		for slug, qs := range queries {
			for _, q := range qs {
				want := listIDs(t, b, "/admin/"+slug+"?"+q)
				got := exportIDs(t, b, "/admin/"+slug+"/export.csv?"+q)
				if len(want) == 0 && q == "" {
					t.Fatalf("%s: empty list", slug)
				}
				if !slices.Equal(got, want) {
					t.Fatalf("/admin/%s/export.csv?%s: %d rows %v\nlist: %d rows %v", slug, q, len(got), got, len(want), want)
				}
			}
		}
		// Formula-safe cells, as before.
		r := b.get("/admin/products/export.csv?o=price")
		if !strings.Contains(string(r.Body), `"'=HYPERLINK(""x"")",'@SUM(1),1.00`) {
			t.Fatalf("cells not defused:\n%.300s", r.Body)
		}
	})
}

// exportClient opens a connection that asks for path and then reads
// nothing: its receive buffer is small, so the server's writes block soon.
func exportClient(t *testing.T, base, path, cookie string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		}); err != nil {
			return err
		}
		return serr
	}}
	conn, err := d.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: tienda.test\r\nCookie: %s\r\n\r\n", path, cookie); err != nil {
		t.Fatal(err)
	}
	return conn
}

// exportsServed is how many export requests the handler has answered
// (their streams may still be running).
func exportsServed(t *testing.T, ts *testServer) int {
	t.Helper()
	mfs, err := ts.srv.Metrics().Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, mf := range mfs {
		if mf.GetName() != "tienda_http_request_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "route" && strings.HasSuffix(l.GetValue(), "/export.csv") {
					n += int(m.GetHistogram().GetSampleCount())
				}
			}
		}
	}
	return n
}

// TestExportStreamsDoNotHoldThePool: 20 export clients that never read
// (more than the pool's 8 connections) while API reads answer 200 at once
// and /ready stays 200: no export holds a database connection while it
// waits for its client. One of them, read at last, still gets every row.
func TestExportStreamsDoNotHoldThePool(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts, pages := exportServer(t, dialect)
		const rows = 30_000 // about 6 MB of CSV: more than the sockets and buffers hold
		seedExport(t, ts, rows)
		b := ts.signedIn("ana", false)
		cookie := SessionCookieHeader(b)
		token := ts.staffToken("reader")
		base := ts.listen()
		sqlDB, err := ts.store.DB.DB()
		if err != nil {
			t.Fatal(err)
		}
		clients := make([]net.Conn, 20)
		for i := range clients {
			clients[i] = exportClient(t, base, "/admin/products/export.csv", cookie)
		}
		if !eventually(t, 30*time.Second, func() bool { return exportsServed(t, ts) == len(clients) }) {
			t.Fatalf("%d of %d exports started", exportsServed(t, ts), len(clients))
		}
		hc := &http.Client{Timeout: 15 * time.Second}
		get := func(path string) (int, time.Duration) {
			req, _ := http.NewRequest("GET", base+path, nil)
			req.Header.Set("Authorization", token)
			start := time.Now()
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatalf("GET %s: %v", path, err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			return resp.StatusCode, time.Since(start)
		}
		// Each export first fills its socket's buffers (megabytes on
		// loopback) as fast as it can read pages, two statements at a time
		// for all of them: the API keeps the rest of the pool.
		var filling time.Duration
		for i := range 10 {
			status, took := get("/api/v1/products?page=" + strconv.Itoa(i%5+1))
			filling = max(filling, took)
			if status != 200 || took > 5*time.Second {
				t.Fatalf("API read %d while 20 exports fill their buffers: %d in %v (pool %+v)", i, status, took, sqlDB.Stats())
			}
		}
		// Then each waits for its client: from then on, nothing but the
		// API uses the pool.
		exportStalled(t, ts, pages)
		var slowest time.Duration
		for i := range 20 {
			status, took := get("/api/v1/products?page=" + strconv.Itoa(i%5+1))
			slowest = max(slowest, took)
			if status != 200 || took > 2*time.Second {
				t.Fatalf("API read %d with 20 stalled exports: %d in %v (pool %+v)", i, status, took, sqlDB.Stats())
			}
			if status, took := get("/ready"); status != 200 || took > 2*time.Second {
				t.Fatalf("/ready with 20 stalled exports: %d in %v", status, took)
			}
		}
		if n := sqlDB.Stats().InUse; n != 0 {
			t.Fatalf("stalled exports hold %d connections", n)
		}
		t.Logf("slowest API read while 20 exports filled their buffers: %v; once they all waited for their clients: %v", filling, slowest)
		// The first client reads at last: the whole list, in its order.
		_ = clients[0].SetReadDeadline(time.Now().Add(60 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(clients[0]), nil)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(resp.Body).ReadAll()
		if err != nil {
			t.Fatalf("read the export: %v", err)
		}
		if len(recs) != rows+1 || !resp.Close {
			t.Fatalf("export: %d records, connection kept alive: %v", len(recs), !resp.Close)
		}
		// Default order -updated_at, then -id: within each updated_at, ids fall.
		seen := map[string]bool{}
		for i, rec := range recs[1:] {
			if seen[rec[0]] {
				t.Fatalf("row %d: id %s twice", i, rec[0])
			}
			seen[rec[0]] = true
			if i > 0 {
				prev := recs[i]
				if rec[7] > prev[7] || (rec[7] == prev[7] && mustInt(t, rec[0]) > mustInt(t, prev[0])) {
					t.Fatalf("row %d out of order: %v after %v", i, rec[:1], prev[:1])
				}
			}
		}
	})
}

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// exportServer is a test server whose database counts the statements
// read with Rows (the export's pages), registered before anything runs.
func exportServer(t *testing.T, dialect string) (*testServer, *atomic.Int64) {
	t.Helper()
	db := testdb.Open(t, dialect)
	var pages atomic.Int64
	if err := db.Callback().Row().After("gorm:row").Register("test:export_pages", func(*gorm.DB) { pages.Add(1) }); err != nil {
		t.Fatal(err)
	}
	return newTestServerOn(t, db), &pages
}

// exportStalled waits until the exports have stopped reading pages (each
// waits for its client: the socket buffers are full) and no connection is
// in use.
func exportStalled(t *testing.T, ts *testServer, pages *atomic.Int64) {
	t.Helper()
	sqlDB, err := ts.store.DB.DB()
	if err != nil {
		t.Fatal(err)
	}
	last, stable := int64(-1), 0
	deadline := time.Now().Add(2 * time.Minute)
	for stable < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("exports still reading pages after 2 minutes (%d pages)", pages.Load())
		}
		time.Sleep(200 * time.Millisecond)
		if n := pages.Load(); n == last && sqlDB.Stats().InUse == 0 {
			stable++
		} else {
			last, stable = n, 0
		}
	}
}

// SessionCookieHeader is the browser's cookies as a Cookie header value.
func SessionCookieHeader(b *browser) string {
	var parts []string
	for _, c := range b.cookies {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; ")
}

// TestExportStreamDropsAStalledClient: a client that takes no bytes for
// the write timeout is disconnected (the export ends, short of its rows).
func TestExportStreamDropsAStalledClient(t *testing.T) {
	ts, pages := exportServer(t, models.SQLite)
	ts.srv.panel.Site().CSV.WriteTimeout = 300 * time.Millisecond
	seedExport(t, ts, 30_000)
	b := ts.signedIn("ana", false)
	base := ts.listen()
	conn := exportClient(t, base, "/admin/products/export.csv", SessionCookieHeader(b))
	// Reads nothing: the export fills the socket's buffers, then waits,
	// for longer than the timeout.
	exportStalled(t, ts, pages)
	time.Sleep(time.Second)
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err == nil {
		t.Fatalf("a stalled client got the whole export (%d bytes)", len(body))
	}
	t.Logf("a stalled client got %d bytes before the cut", len(body))
	if n := strings.Count(string(body), "\n"); n >= 30_000 {
		t.Fatalf("%d lines: not cut", n)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server kept the connection open: %v", err)
	}
	// The server is fine, and the next export completes.
	if ids := exportIDs(t, b, "/admin/products/export.csv"); len(ids) != 30_000 {
		t.Fatalf("next export: %d rows", len(ids))
	}
}
