package models_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"tienda/models"
	"tienda/models/testdb"
)

// statementLog records the successful statements that start with prefix,
// and the rows each wrote or read.
type statementLog struct {
	logger.Interface
	prefix string
	mu     sync.Mutex
	sqls   []string
	rows   []int64
}

func (l *statementLog) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	if sql, rows := fc(); strings.HasPrefix(sql, l.prefix) && err == nil {
		l.mu.Lock()
		l.sqls = append(l.sqls, sql)
		l.rows = append(l.rows, rows)
		l.mu.Unlock()
	}
	l.Interface.Trace(ctx, begin, fc, err)
}

// Concurrent creates get their own ids, rows and history entries (with
// their own actor), whether or not they shared a statement. On PostgreSQL
// the creates queued behind a locked table are written in shared
// statements once the lock goes.
func TestConcurrentCreatesKeepTheirOwnRecords(t *testing.T) {
	const n = 100
	for _, d := range testdb.Dialects() {
		t.Run(d, func(t *testing.T) {
			db := testdb.Open(t, d)
			st := models.NewStore(db)
			log := &statementLog{Interface: db.Logger, prefix: "WITH rec AS"}
			db.Logger = log
			ctx := context.Background()
			var release func()
			if d == models.Postgres {
				release = lockProducts(t, db, "SHARE ROW EXCLUSIVE")
				defer release()
			}
			products := make([]*models.Product, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				products[i] = &models.Product{Name: fmt.Sprintf("Producto %03d", i), Description: fmt.Sprintf("descripción %d", i),
					Price: models.Cents(int64(100 + i)), Stock: int64(i)}
				actx := models.WithActor(ctx, models.Actor{UserID: int64(1000 + i), Username: fmt.Sprintf("staff%d", i), Source: models.SourceAPI})
				wg.Go(func() { errs[i] = st.Create(actx, products[i]) })
			}
			if release != nil {
				// A statement waits on the lock; the rest queue behind it.
				waitQueued(t, func() (int, int) { return st.QueuedCreates(products[0]) }, n)
				release()
			}
			wg.Wait()
			ids := map[int64]bool{}
			for i, p := range products {
				if errs[i] != nil {
					t.Fatalf("create %d: %v", i, errs[i])
				}
				if p.ID == 0 || ids[p.ID] || p.Version != 1 {
					t.Fatalf("product %d: id %d (seen before: %v), version %d", i, p.ID, ids[p.ID], p.Version)
				}
				ids[p.ID] = true
				var got models.Product
				if err := st.Get(ctx, &got, p.ID); err != nil || got.Name != p.Name || got.Price != p.Price || got.Stock != p.Stock {
					t.Fatalf("product %d stored as %+v (%v), created as %+v", i, got, err, p)
				}
				h, err := st.History(ctx, "product", p.ID, 10)
				if err != nil || len(h) != 1 {
					t.Fatalf("history of product %d: %+v, %v", i, h, err)
				}
				e := h[0]
				if e.Action != "create" || e.ObjectRepr != p.Name || e.ActorName != fmt.Sprintf("staff%d", i) ||
					e.ActorID == nil || *e.ActorID != int64(1000+i) || e.Source != string(models.SourceAPI) {
					t.Fatalf("history of product %d: %+v", i, e)
				}
				if c := e.ChangeMap()["name"]; string(c.New) != fmt.Sprintf("%q", p.Name) {
					t.Fatalf("history of product %d records name %s", i, c.New)
				}
			}
			if d != models.Postgres {
				return
			}
			var total, widest int64
			for _, r := range log.rows {
				total += r
				widest = max(widest, r)
			}
			if total != n || widest < 2 || int64(len(log.rows)) >= n {
				t.Fatalf("statements wrote %v rows, want %d in fewer statements, some shared", log.rows, n)
			}
		})
	}
}

// A record the database refuses fails alone: the others of its batch are
// written, a caller that gave up is left out, and only written records
// have history.
func TestBatchWithARefusedRecord(t *testing.T) {
	// Batches are PostgreSQL's: testdb.Open needs TEST_DATABASE_URL (CI sets it).
	st := models.NewStore(testdb.Open(t, models.Postgres))
	ctx := context.Background()
	gone, cancel := context.WithCancel(ctx)
	cancel()
	recs := []models.Entity{
		&models.Product{Name: "Mesa", Price: models.Cents(5000), Stock: 1},
		&models.Product{Name: "Precio negativo", Price: models.Cents(-1), Stock: 1}, // CHECK (price >= 0)
		&models.Product{Name: "Abandonado", Price: models.Cents(100), Stock: 1},
		&models.Product{Name: "Silla", Price: models.Cents(2500), Stock: 3},
	}
	errs := st.WriteBatch([]context.Context{ctx, ctx, gone, ctx}, recs)
	if errs[0] != nil || errs[3] != nil {
		t.Fatalf("good records: %v, %v", errs[0], errs[3])
	}
	if errs[1] == nil || strings.Contains(errs[1].Error(), "Mesa") {
		t.Fatalf("refused record: %v", errs[1])
	}
	if !errors.Is(errs[2], context.Canceled) {
		t.Fatalf("abandoned record: %v", errs[2])
	}
	var names []string
	if err := st.DB.Model(&models.Product{}).Order("id").Pluck("name", &names).Error; err != nil {
		t.Fatal(err)
	}
	if strings.Join(names, ",") != "Mesa,Silla" {
		t.Fatalf("stored products %q", names)
	}
	h, err := st.RecentHistory(ctx, 10)
	if err != nil || len(h) != 2 {
		t.Fatalf("history %+v, %v", h, err)
	}
	for _, e := range h {
		if e.ObjectID != recs[0].GetID() && e.ObjectID != recs[3].GetID() {
			t.Fatalf("history entry for %d (%s)", e.ObjectID, e.ObjectRepr)
		}
	}
}

// lockProducts locks the products table in mode until release is called
// (more than once is fine).
func lockProducts(t *testing.T, db *gorm.DB, mode string) (release func()) {
	t.Helper()
	lock := db.Begin()
	if err := lock.Exec("LOCK TABLE products IN " + mode + " MODE").Error; err != nil {
		t.Fatal(err)
	}
	return func() { lock.Rollback() }
}

// waitQueued waits until all n requests are in the queue: waiting for a
// batch or in the one being served, which a table lock holds up.
func waitQueued(t *testing.T, size func() (waiting, serving int), n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		waiting, serving := size()
		if waiting+serving == n && waiting > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d requests waiting and %d being served, want %d in all", waiting, serving, n)
		}
		time.Sleep(time.Millisecond)
	}
}
