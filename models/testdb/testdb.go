// Package testdb gives tests a real, migrated database: a fresh SQLite file
// always, and a fresh PostgreSQL schema when TEST_DATABASE_URL is set.
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"gorm.io/gorm"

	"tienda"
	"tienda/models"
)

// Dialects lists the databases tests run on: "sqlite" always, "postgres"
// when TEST_DATABASE_URL is set.
func Dialects() []string {
	if os.Getenv("TEST_DATABASE_URL") != "" {
		return []string{models.SQLite, models.Postgres}
	}
	return []string{models.SQLite}
}

// Open returns a migrated database of the given dialect, removed when the test ends.
func Open(t testing.TB, dialect string) *gorm.DB {
	t.Helper()
	db, _ := OpenURL(t, dialect)
	return db
}

// OpenURL is Open, also returning the URL (for starting a server process on it).
func OpenURL(t testing.TB, dialect string) (*gorm.DB, string) {
	t.Helper()
	ctx := context.Background()
	var dsn string
	switch dialect {
	case models.Postgres:
		dsn = postgresSchema(t)
	default:
		dsn = filepath.Join(t.TempDir(), "test.db")
	}
	db, err := models.Open(ctx, models.DBConfig{URL: dsn, MaxOpenConns: 8})
	if err != nil {
		t.Fatalf("open %s: %v", dialect, err)
	}
	t.Cleanup(func() {
		_ = models.Close(db)
	})
	m, err := models.NewMigrator(db, tienda.Migrations)
	if err != nil {
		t.Fatalf("migrator: %v", err)
	}
	if _, err := m.Up(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return db, dsn
}

// postgresSchema creates a schema of its own for this test and returns a
// URL whose search_path points at it (public stays on the path for shared
// extensions: pg_trgm, and unaccent for search_fold).
func postgresSchema(t testing.TB) string {
	t.Helper()
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		t.Skip("TEST_DATABASE_URL not set")
	}
	ctx := context.Background()
	admin, err := models.Open(ctx, models.DBConfig{URL: base, MaxOpenConns: 1})
	if err != nil {
		t.Fatalf("connect TEST_DATABASE_URL: %v", err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	for _, q := range []string{
		"CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public",
		"CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA public",
		"CREATE SCHEMA " + schema,
	} {
		if err := admin.Exec(q).Error; err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() {
		_ = admin.Exec("DROP SCHEMA " + schema + " CASCADE").Error
		_ = models.Close(admin)
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema+",public")
	u.RawQuery = q.Encode()
	return u.String()
}
