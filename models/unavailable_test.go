package models_test

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	sqlitedriver "github.com/ncruces/go-sqlite3/driver"
	"gorm.io/gorm"

	"tienda/models"
	"tienda/models/testdb"
)

// Unavailable tells a database that cannot be reached or did not answer
// in time from every other failure, on errors the real drivers produce.
func TestUnavailable(t *testing.T) {
	ctx := context.Background()
	pg := func(t *testing.T) *gorm.DB { return testdb.Open(t, models.Postgres) } // skips without TEST_DATABASE_URL
	cases := []struct {
		name string
		err  func(t *testing.T) error
		want bool
	}{
		{"connection refused", func(t *testing.T) error {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			_ = ln.Close()
			_, err = models.Open(ctx, models.DBConfig{URL: "postgres://postgres@" + addr + "/tienda?sslmode=disable"})
			return err
		}, true},
		{"connection refused, password in the URL", func(t *testing.T) error {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			_ = ln.Close()
			_, err = models.Open(ctx, models.DBConfig{URL: "postgres://postgres:s3cr3t-pw@" + addr + "/tienda?sslmode=disable"})
			if err == nil || strings.Contains(err.Error(), "s3cr3t-pw") {
				t.Fatalf("error shows the password: %v", err)
			}
			return err
		}, true},
		{"sqlite busy after busy_timeout", func(t *testing.T) error {
			path := filepath.Join(t.TempDir(), "busy.db")
			holder, err := models.Open(ctx, models.DBConfig{URL: path})
			if err != nil {
				t.Fatal(err)
			}
			if err := holder.Exec("CREATE TABLE t (x INTEGER)").Error; err != nil {
				t.Fatal(err)
			}
			tx := holder.Begin() // BEGIN IMMEDIATE: the write lock
			defer tx.Rollback()
			if err := tx.Exec("INSERT INTO t VALUES (1)").Error; err != nil {
				t.Fatal(err)
			}
			other, err := sqlitedriver.Open("file:" + path + "?_pragma=busy_timeout(20)&_txlock=immediate")
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			_, err = other.ExecContext(ctx, "INSERT INTO t VALUES (2)")
			return err
		}, true},
		{"sqlite constraint", func(t *testing.T) error {
			st := models.NewStore(testdb.Open(t, models.SQLite))
			u := &models.User{Username: "ana", PasswordHash: "x", IsActive: true}
			if err := st.Create(ctx, u); err != nil {
				t.Fatal(err)
			}
			return st.Create(ctx, &models.User{Username: "ana", PasswordHash: "x", IsActive: true})
		}, false},
		{"not found", func(t *testing.T) error {
			return models.NewStore(testdb.Open(t, models.SQLite)).Get(ctx, &models.Product{}, 42)
		}, false},
		{"validation", func(t *testing.T) error {
			return models.NewStore(testdb.Open(t, models.SQLite)).Create(ctx, &models.Product{})
		}, false},
		{"caller canceled", func(t *testing.T) error {
			gone, cancel := context.WithCancel(ctx)
			cancel()
			return models.NewStore(testdb.Open(t, models.SQLite)).Get(gone, &models.Product{}, 1)
		}, false},
		{"postgres statement past its deadline", func(t *testing.T) error {
			db := pg(t)
			dctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			defer cancel()
			return db.WithContext(dctx).Exec("SELECT pg_sleep(5)").Error
		}, true},
		{"postgres statement_timeout (57014)", func(t *testing.T) error {
			return pg(t).Transaction(func(tx *gorm.DB) error {
				if err := tx.Exec("SET LOCAL statement_timeout = 50").Error; err != nil {
					t.Fatal(err)
				}
				return tx.Exec("SELECT pg_sleep(5)").Error
			})
		}, true},
		{"postgres backend terminated (57P01)", func(t *testing.T) error {
			db := pg(t)
			sqlDB, err := db.DB()
			if err != nil {
				t.Fatal(err)
			}
			conn, err := sqlDB.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			var pid int
			if err := conn.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
				t.Fatal(err)
			}
			if err := db.Exec("SELECT pg_terminate_backend(?)", pid).Error; err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the backend to end", func() bool {
				var n int64
				return db.Raw("SELECT count(*) FROM pg_stat_activity WHERE pid = ?", pid).Scan(&n).Error == nil && n == 0
			})
			_, err = conn.ExecContext(ctx, "SELECT 1")
			return err
		}, true},
		{"postgres too many connections (53300)", func(t *testing.T) error {
			db := pg(t)
			role := fmt.Sprintf("tienda_nolimit_%d", time.Now().UnixNano())
			if err := db.Exec("CREATE ROLE " + role + " LOGIN CONNECTION LIMIT 0").Error; err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = db.Exec("DROP ROLE IF EXISTS " + role).Error })
			u, err := url.Parse(os.Getenv("TEST_DATABASE_URL"))
			if err != nil {
				t.Fatal(err)
			}
			u.User = url.User(role)
			_, err = models.Open(ctx, models.DBConfig{URL: u.String()})
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != "53300" {
				t.Fatalf("connecting as a role with no connections left: %v", err)
			}
			return err
		}, true},
		{"postgres syntax error", func(t *testing.T) error {
			return pg(t).Exec("SELEC 1").Error
		}, false},
		{"bad connection, wrapped", func(*testing.T) error { return fmt.Errorf("get product 1: %w", driver.ErrBadConn) }, true},
		{"connection failure 08006", func(*testing.T) error { return fmt.Errorf("list: %w", &pgconn.PgError{Code: "08006"}) }, true},
		{"cannot connect now 57P03", func(*testing.T) error { return &pgconn.PgError{Code: "57P03"} }, true},
		{"57014 on a canceled context", func(*testing.T) error {
			return errors.Join(&pgconn.PgError{Code: "57014"}, context.Canceled)
		}, false},
		{"unique violation 23505", func(*testing.T) error { return &pgconn.PgError{Code: "23505"} }, false},
		{"no error", func(*testing.T) error { return nil }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.err(t)
			t.Logf("%T: %v", err, err)
			if got := models.Unavailable(err); got != c.want {
				t.Fatalf("Unavailable(%v) = %v, want %v", err, got, c.want)
			}
		})
	}
}

// waitFor polls cond until it holds, failing the test after a generous while.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestUnavailableIsNotEveryDriverError: a missing table is a bug, not an
// outage (SQLite's error type has net.Error's methods, which must not
// make it look like one).
func TestUnavailableIsNotEveryDriverError(t *testing.T) {
	for _, dialect := range testdb.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			db := testdb.Open(t, dialect)
			var n int64
			err := db.Table("no_such_table").Count(&n).Error
			if err == nil || models.Unavailable(err) {
				t.Fatalf("missing table: %v, unavailable %v", err, models.Unavailable(err))
			}
		})
	}
}
