package models_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"tienda/models"
	"tienda/models/testdb"
)

// TestCountChoices: one statement counts every choice of a filter, with
// the search and the other filters applied; past the budget the counts
// are flagged estimates.
func TestCountChoices(t *testing.T) {
	for _, d := range testdb.Dialects() {
		t.Run(d, func(t *testing.T) {
			db := testdb.Open(t, d)
			ctx := context.Background()
			const n = 12_000 // enough that 1 ms cannot count it on PostgreSQL
			// stock is i%7, price 100+i cents; every third is a lamp.
			bulkProducts(t, db, n, func(i int) string {
				if i%3 == 0 {
					return fmt.Sprintf("Lámpara %d", i)
				}
				return fmt.Sprintf("Silla %d", i)
			})
			where := func(cond string, args ...any) func(*gorm.DB) *gorm.DB {
				return func(db *gorm.DB) *gorm.DB { return db.Where(cond, args...) }
			}
			choices := []func(*gorm.DB) *gorm.DB{
				where("stock > 0"), where("stock = 0"), where("stock > 0 AND stock < ?", 3),
				where("price < ?", models.Cents(150)),
			}
			var want [4]int64
			for i := 1; i <= n; i++ {
				if i%3 != 0 || 100+i%5000 >= 200 { // lamps, price under 2.00 (the other filter)
					continue
				}
				s := i % 7
				for j, ok := range []bool{s > 0, s == 0, s > 0 && s < 3, 100+i%5000 < 150} {
					if ok {
						want[j]++
					}
				}
			}
			statements := 0
			if err := db.Callback().Row().After("gorm:row").Register("test:count_rows", func(tx *gorm.DB) {
				if tx.Statement.SQL.Len() > 0 && containsFilter(tx.Statement.SQL.String()) {
					statements++
				}
			}); err != nil {
				t.Fatal(err)
			}
			p := models.ListParams{Q: "lampara", Scope: where("price < ?", models.Cents(200)), Filtered: true, CountBudget: 10 * time.Second}
			got, est, err := models.CountChoices(ctx, db, models.ProductList, p, choices)
			if err != nil {
				t.Fatal(err)
			}
			if est || fmt.Sprint(got) != fmt.Sprint(want[:]) {
				t.Fatalf("counts %v (estimate %v), want exactly %v", got, est, want)
			}
			// One statement for all choices: PostgreSQL counts in one,
			// SQLite in one per id range of the budget's mechanism (4,096
			// ids, then 8,192: two for 12,000 products).
			wantStatements := map[string]int{models.Postgres: 1, models.SQLite: 2}[d]
			if statements != wantStatements {
				t.Fatalf("%d counting statements for 4 choices, want %d", statements, wantStatements)
			}
			got, est, err = models.CountChoices(ctx, db, models.ProductList, models.ListParams{Q: "lampara", CountBudget: time.Nanosecond}, choices)
			if err != nil {
				t.Fatal(err)
			}
			if !est || len(got) != len(choices) {
				t.Fatalf("counts %v (estimate %v): want flagged estimates", got, est)
			}
			t.Logf("estimates %v", got)
		})
	}
}

func containsFilter(sql string) bool { return strings.Contains(sql, "FILTER (WHERE") }

// TestDeleteMatching: a keyset delete in batches takes exactly the rows
// that match, up to the id bound and the limit, each with its history
// entry, and reports every change.
func TestDeleteMatching(t *testing.T) {
	for _, d := range testdb.Dialects() {
		t.Run(d, func(t *testing.T) {
			db := testdb.Open(t, d)
			st := models.NewStore(db)
			changes := 0
			st.OnChange = func(_ context.Context, objectType, action string) {
				if objectType == "product" && action == "delete" {
					changes++
				}
			}
			ctx := context.Background()
			for i := 1; i <= 40; i++ {
				if err := st.Create(ctx, &models.Product{Name: fmt.Sprintf("P%02d", i), Price: models.Cents(100), Stock: int64(i % 2)}); err != nil {
					t.Fatal(err)
				}
			}
			inStock := func(db *gorm.DB) *gorm.DB { return db.Where("stock > 0") } // odd ids
			cases := []struct {
				name         string
				maxID        int64
				limit, batch int
				want         int
				left         int64 // products in stock left
			}{
				{"bounded by id, batches of 3", 20, 1000, 3, 10, 10},
				{"bounded by the limit", 40, 4, 3, 4, 6},
				{"the rest, one batch", 40, 1000, 500, 6, 0},
				{"nothing left", 40, 1000, 500, 0, 0},
			}
			for _, c := range cases {
				n, err := st.DeleteMatching(ctx, &models.Product{}, inStock, c.maxID, c.limit, c.batch)
				if err != nil {
					t.Fatal(err)
				}
				var left int64
				db.Model(&models.Product{}).Where("stock > 0").Count(&left)
				if n != c.want || left != c.left {
					t.Fatalf("%s: deleted %d, %d in stock left; want %d and %d", c.name, n, left, c.want, c.left)
				}
			}
			var out, history int64
			db.Model(&models.Product{}).Where("stock = 0").Count(&out)
			db.Model(&models.HistoryEntry{}).Where("object_type = 'product' AND action = 'delete'").Count(&history)
			if out != 20 || history != 20 || changes != 20 {
				t.Fatalf("%d out of stock kept, %d history entries, %d changes reported; want 20 each", out, history, changes)
			}
		})
	}
}
