package models_test

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"testing"

	"gorm.io/gorm"

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
			// The refused create left no history entry behind.
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

// A product's create is one statement on PostgreSQL (create.go): the row
// it stores must be the record it was given, field for field, with its
// history entry; a duplicate id answers a ConflictError and leaves no
// history behind.
func TestCreateStoresTheRecordAndItsHistory(t *testing.T) {
	for _, d := range testdb.Dialects() {
		t.Run(d, func(t *testing.T) {
			db := testdb.Open(t, d)
			st := models.NewStore(db)
			// GORM's callbacks (tracing's among them) see every statement.
			var statements []string
			seen := func(kind string) func(*gorm.DB) {
				return func(tx *gorm.DB) { statements = append(statements, kind+":"+tx.Statement.Table) }
			}
			if err := errors.Join(db.Callback().Create().After("gorm:create").Register("test:create", seen("create")),
				db.Callback().Row().After("gorm:row").Register("test:row", seen("row"))); err != nil {
				t.Fatal(err)
			}
			var changes []string
			st.OnChange = func(_ context.Context, objectType, action string) { changes = append(changes, objectType+":"+action) }
			ctx := models.WithActor(context.Background(), models.Actor{UserID: 3, Username: "eva", Source: models.SourceAdmin})
			p := &models.Product{Name: "Silla", Description: "de roble", Price: models.Cents(12345), Stock: 7}
			if err := st.Create(ctx, p); err != nil {
				t.Fatal(err)
			}
			if strings.Join(changes, ",") != "product:create" {
				t.Fatalf("OnChange saw %q", changes)
			}
			want := "create:products,create:history" // a transaction
			if d == models.Postgres {
				want = "row:products" // one statement
			}
			if got := strings.Join(statements, ","); got != want {
				t.Fatalf("create ran %q, want %q", got, want)
			}
			var got models.Product
			if err := db.Take(&got, p.ID).Error; err != nil {
				t.Fatal(err)
			}
			if got.Name != "Silla" || got.Description != "de roble" || got.Price.String() != "123.45" || got.Stock != 7 || got.Version != 1 {
				t.Fatalf("stored %+v, created %+v", got, p)
			}
			// SQLite keeps whole seconds; PostgreSQL must give back the instant.
			if d == models.Postgres && (!got.CreatedAt.Equal(p.CreatedAt) || !got.UpdatedAt.Equal(p.UpdatedAt)) {
				t.Fatalf("created_at %v updated_at %v, created with %v", got.CreatedAt, got.UpdatedAt, p.CreatedAt)
			}
			h, err := st.History(ctx, "product", p.ID, 10)
			if err != nil || len(h) != 1 || h[0].Action != "create" || h[0].ActorName != "eva" || h[0].Source != "admin" ||
				h[0].ActorID == nil || *h[0].ActorID != 3 || string(h[0].ChangeMap()["price"].New) != "123.45" {
				t.Fatalf("history %+v, %v", h, err)
			}
			if err := st.Get(ctx, &got, p.ID+1000); !errors.Is(err, models.ErrNotFound) {
				t.Fatalf("missing product: %v", err)
			}
			if d != models.Postgres {
				return // SQLite gives a new row max(id)+1: no duplicate to provoke
			}
			// A row written with an explicit id, as an import would, takes the
			// id the sequence hands out next.
			if err := db.Exec("INSERT INTO products (id, name, price) VALUES (?, 'importada', 1)", p.ID+1).Error; err != nil {
				t.Fatal(err)
			}
			dup := &models.Product{Name: "Mesa", Price: models.Cents(100)}
			var ce *models.ConflictError
			if err := st.Create(ctx, dup); !errors.As(err, &ce) || ce.Field != "id" {
				t.Fatalf("create over a taken id: %v", err)
			}
			if h, err := st.RecentHistory(ctx, 10); err != nil || len(h) != 1 {
				t.Fatalf("history after a refused create = %+v, %v", h, err)
			}
			if len(changes) != 1 {
				t.Fatalf("OnChange told of a refused create: %q", changes)
			}
		})
	}
}

// Documents keep GORM's create path on both dialects: the indexer hooks
// their creation with a GORM create callback (app/chat), which a
// one-statement create would skip.
func TestDocumentCreatesRunGORMCreateCallbacks(t *testing.T) {
	for _, d := range testdb.Dialects() {
		t.Run(d, func(t *testing.T) {
			db := testdb.Open(t, d)
			var tables []string
			err := db.Callback().Create().After("gorm:create").Register("test:seen", func(tx *gorm.DB) {
				if tx.Error == nil {
					tables = append(tables, tx.Statement.Table)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			st := models.NewStore(db)
			if err := st.Create(context.Background(), &models.Document{Title: "Envíos", Content: "En 48 horas."}); err != nil {
				t.Fatal(err)
			}
			if strings.Join(tables, ",") != "documents,history" {
				t.Fatalf("create callbacks saw %q, want the document and its history row", tables)
			}
		})
	}
}
