package models_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"tienda/models"
	"tienda/models/testdb"
)

func TestSchemasMatchAcrossDialects(t *testing.T) {
	if len(testdb.Dialects()) < 2 {
		t.Skip("TEST_DATABASE_URL not set: only SQLite available")
	}
	cols := map[string]map[string][]string{}
	for _, d := range testdb.Dialects() {
		db := testdb.Open(t, d)
		tables, err := db.Migrator().GetTables()
		if err != nil {
			t.Fatal(err)
		}
		cols[d] = map[string][]string{}
		for _, tb := range tables {
			// FTS5 virtual tables (and their shadow tables) are SQLite's
			// counterpart of PostgreSQL's tsvector GIN index, not schema.
			if strings.HasPrefix(tb, "goose_") || strings.HasPrefix(tb, "sqlite_") || strings.Contains(tb, "_fts") {
				continue
			}
			ct, err := db.Migrator().ColumnTypes(tb)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range ct {
				cols[d][tb] = append(cols[d][tb], c.Name())
			}
			sort.Strings(cols[d][tb])
		}
	}
	a, _ := json.Marshal(cols[models.SQLite])
	b, _ := json.Marshal(cols[models.Postgres])
	if string(a) != string(b) {
		t.Fatalf("schemas differ:\nsqlite:   %s\npostgres: %s", a, b)
	}
}

func TestMigrationVersionsMatch(t *testing.T) {
	// Same version numbers in both folders, so both dialects move in step.
	read := func(d string) []string {
		entries, err := migrationsDir(d)
		if err != nil {
			t.Fatal(err)
		}
		return entries
	}
	s, p := read("sqlite"), read("postgres")
	if strings.Join(s, ",") != strings.Join(p, ",") {
		t.Fatalf("migration versions differ: sqlite %v, postgres %v", s, p)
	}
	if len(s) == 0 {
		t.Fatal("no migrations found")
	}
}

func TestStoreCRUDVersionAndHistory(t *testing.T) {
	for _, d := range testdb.Dialects() {
		t.Run(d, func(t *testing.T) {
			db := testdb.Open(t, d)
			st := models.NewStore(db)
			ctx := models.WithActor(context.Background(), models.Actor{UserID: 7, Username: "ana", Source: models.SourceAPI})
			p := &models.Product{Name: "Lámpara", Price: models.Cents(1999), Stock: 3}
			if err := st.Create(ctx, p); err != nil {
				t.Fatal(err)
			}
			if p.ID == 0 || p.Version != 1 {
				t.Fatalf("after create: id %d version %d", p.ID, p.Version)
			}
			var got models.Product
			if err := st.Get(ctx, &got, p.ID); err != nil {
				t.Fatal(err)
			}
			if got.Price.String() != "19.99" || got.Name != "Lámpara" {
				t.Fatalf("read back %+v (price %s)", got, got.Price)
			}
			got.Price = models.Cents(2499)
			if err := st.Update(ctx, &got, 1); err != nil {
				t.Fatal(err)
			}
			if got.Version != 2 {
				t.Fatalf("version after update = %d", got.Version)
			}
			stale := *p
			stale.Stock = 99
			err := st.Update(ctx, &stale, 1)
			var vc *models.VersionConflictError
			if !errors.As(err, &vc) || vc.Current.GetVersion() != 2 {
				t.Fatalf("stale update: got %v", err)
			}
			if err := st.Delete(ctx, &models.Product{}, p.ID, 1); !errors.As(err, &vc) {
				t.Fatalf("stale delete: got %v", err)
			}
			if err := st.Delete(ctx, &models.Product{}, p.ID, 2); err != nil {
				t.Fatal(err)
			}
			if err := st.Get(ctx, &got, p.ID); !errors.Is(err, models.ErrNotFound) {
				t.Fatalf("after delete: %v", err)
			}
			h, err := st.History(ctx, "product", p.ID, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(h) != 3 || h[0].Action != "delete" || h[1].Action != "update" || h[2].Action != "create" {
				t.Fatalf("history = %+v", h)
			}
			created := h[2]
			cc := created.ChangeMap()
			if created.ObjectID != p.ID || created.ObjectRepr != "Lámpara" || created.ActorID == nil || *created.ActorID != 7 || created.ActorName != "ana" ||
				string(cc["name"].New) != `"Lámpara"` || string(cc["price"].New) != "19.99" || string(cc["stock"].New) != "3" || cc["name"].Old != nil {
				t.Fatalf("create entry = %+v", created)
			}
			ch := h[1].ChangeMap()
			if string(ch["price"].Old) != "19.99" || string(ch["price"].New) != "24.99" || len(ch) != 1 {
				t.Fatalf("update changes = %v", h[1].Changes)
			}
			if h[1].ActorName != "ana" || h[1].Source != "api" {
				t.Fatalf("actor = %q %q", h[1].ActorName, h[1].Source)
			}
		})
	}
}

func TestValidationMessagesByJSONName(t *testing.T) {
	v := models.NewValidator()
	cases := []struct {
		name string
		p    models.Product
		want map[string]string
	}{
		{"empty name, unset price", models.Product{}, map[string]string{"name": "is required", "price": "is required"}},
		{"negative price and stock", models.Product{Name: "x", Price: models.Cents(-1), Stock: -1},
			map[string]string{"price": "must be 0 or more", "stock": "must be 0 or more"}},
		{"long name", models.Product{Name: strings.Repeat("a", 81), Price: models.Cents(0)}, map[string]string{"name": "must be at most 80 characters"}},
		{"NUL in name", models.Product{Name: "a\x00b", Price: models.Cents(0)}, map[string]string{"name": "must not contain NUL bytes"}},
		{"valid", models.Product{Name: "ok", Price: models.Cents(0)}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := v.Struct(&c.p)
			if c.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ve *models.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("got %v", err)
			}
			for k, msg := range c.want {
				if ve.Fields[k] != msg {
					t.Errorf("%s: got %q want %q", k, ve.Fields[k], msg)
				}
			}
		})
	}
}

func TestParseMoney(t *testing.T) {
	cases := []struct {
		in   string
		want string
		ok   bool
	}{
		{"12", "12.00", true}, {"12.3", "12.30", true}, {"0.05", "0.05", true}, {"9999999999.99", "9999999999.99", true},
		{"1.234", "", false}, {"NaN", "", false}, {"1e400", "", false}, {"Infinity", "", false}, {"", "", false},
		{"12345678901", "", false}, {"-3", "-3.00", true}, {"abc", "", false},
	}
	for _, c := range cases {
		m, err := models.ParseMoney(c.in)
		if (err == nil) != c.ok || (c.ok && m.String() != c.want) {
			t.Errorf("ParseMoney(%q) = %s, %v", c.in, m, err)
		}
	}
}

func TestAuthenticateAndUniqueUsername(t *testing.T) {
	for _, d := range testdb.Dialects() {
		t.Run(d, func(t *testing.T) {
			st := models.NewStore(testdb.Open(t, d))
			ctx := context.Background()
			u := &models.User{Username: "Maria", IsActive: true, IsStaff: true}
			if err := u.SetPassword(ctx, "correct horse"); err != nil {
				t.Fatal(err)
			}
			if err := st.Create(ctx, u); err != nil {
				t.Fatal(err)
			}
			dup := &models.User{Username: "maria", PasswordHash: "x", IsActive: true}
			var ce *models.ConflictError
			if err := st.Create(ctx, dup); !errors.As(err, &ce) || ce.Field != "username" {
				t.Fatalf("duplicate username: %v", err)
			}
			// The refused create left no history entry behind (one statement on
			// PostgreSQL, one transaction on SQLite).
			if h, err := st.RecentHistory(ctx, 10); err != nil || len(h) != 1 || h[0].ObjectID != u.ID {
				t.Fatalf("history after a refused create = %+v, %v", h, err)
			}
			if _, err := st.Authenticate(ctx, "MARIA", "correct horse"); err != nil {
				t.Fatalf("login: %v", err)
			}
			for _, pw := range []string{"wrong", ""} {
				if _, err := st.Authenticate(ctx, "maria", pw); !errors.Is(err, models.ErrInvalidCredentials) {
					t.Fatalf("wrong password: %v", err)
				}
			}
			if _, err := st.Authenticate(ctx, "nobody", "x"); !errors.Is(err, models.ErrInvalidCredentials) {
				t.Fatal("unknown user accepted")
			}
		})
	}
}

// Get reads products without GORM on PostgreSQL (direct.go): the record it
// fills must be the one GORM's Take fills, field for field, and the
// statements (the create's too) must reach tracing through Store.Span.
func TestGetMatchesGORM(t *testing.T) {
	for _, d := range testdb.Dialects() {
		t.Run(d, func(t *testing.T) {
			db := testdb.Open(t, d)
			st := models.NewStore(db)
			var spans []string
			st.Span = func(ctx context.Context, name string) (context.Context, func(error)) {
				return ctx, func(err error) { spans = append(spans, fmt.Sprintf("%s:%v", name, err)) }
			}
			ctx := context.Background()
			p := &models.Product{Name: "Silla", Description: "de roble", Price: models.Cents(12345), Stock: 7}
			if err := st.Create(ctx, p); err != nil {
				t.Fatal(err)
			}
			var got, want models.Product
			if err := st.Get(ctx, &got, p.ID); err != nil {
				t.Fatal(err)
			}
			if err := db.Take(&want, p.ID).Error; err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) || got.Name != "Silla" || got.Price.String() != "123.45" {
				t.Fatalf("Get = %+v, GORM = %+v", got, want)
			}
			// SQLite keeps whole seconds; PostgreSQL must give back the instant.
			if d == models.Postgres && !got.CreatedAt.Equal(p.CreatedAt) {
				t.Fatalf("created_at %v, created with %v", got.CreatedAt, p.CreatedAt)
			}
			if err := st.Get(ctx, &got, p.ID+1000); !errors.Is(err, models.ErrNotFound) {
				t.Fatalf("missing product: %v", err)
			}
			// The create's statement, then the two reads.
			wantSpans := []string{"db.query:<nil>", "db.query:<nil>", "db.query:" + models.ErrNotFound.Error()}
			if d == models.SQLite {
				wantSpans = nil // GORM's own callbacks serve SQLite
			}
			if !reflect.DeepEqual(spans, wantSpans) {
				t.Fatalf("spans = %q, want %q", spans, wantSpans)
			}
		})
	}
}
