package models_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"gorm.io/gorm"

	"tienda/models"
	"tienda/models/testdb"
)

// bulkProducts inserts n products with ids 1..n straight through GORM (no
// history: only the lists are under test); name(i) names the i-th.
func bulkProducts(t testing.TB, db *gorm.DB, n int, name func(i int) string) {
	t.Helper()
	rows := make([]models.Product, 0, n)
	for i := 1; i <= n; i++ {
		rows = append(rows, models.Product{ID: int64(i), Name: name(i), Description: fmt.Sprintf("Artículo %d", i),
			Price: models.Cents(int64(100 + i%5000)), Stock: int64(i % 7), Version: 1})
	}
	if err := db.CreateInBatches(&rows, 1000).Error; err != nil {
		t.Fatal(err)
	}
	if models.Dialect(db) == models.Postgres {
		if err := db.Exec("ANALYZE products").Error; err != nil {
			t.Fatal(err)
		}
	}
}

// TestListTotals: totals are exact whenever the count finishes within its
// budget (no cap: 9,521 matches answer 9,521), a page past the end answers
// the same total as page 1, and a count cut off by the budget answers a
// flagged estimate that never contradicts the rows given.
func TestListTotals(t *testing.T) {
	const n, lamps = 12_000, 9_521
	for _, d := range testdb.Dialects() {
		t.Run(d, func(t *testing.T) {
			db := testdb.Open(t, d)
			ctx := context.Background()
			bulkProducts(t, db, n, func(i int) string {
				if i <= lamps {
					return fmt.Sprintf("Lámpara de pie %d", i)
				}
				return fmt.Sprintf("Silla %d", i)
			})
			inStock := func(db *gorm.DB) *gorm.DB { return db.Where("stock > 0") }
			var wantInStock int64
			for i := 1; i <= lamps; i++ {
				if i%7 > 0 {
					wantInStock++
				}
			}
			// Generous budgets: these cases are about exactness, not speed
			// (the tests share two cores).
			const roomy = 10 * time.Second
			exact := []struct {
				name    string
				p       models.ListParams
				total   int64
				items   int
				hasNext bool
			}{
				{"one word", models.ListParams{Q: "LAMPARA", CountBudget: roomy}, lamps, 20, true},
				{"two words", models.ListParams{Q: "pie lámpara", Page: 3, PageSize: 100, CountBudget: roomy}, lamps, 100, true},
				{"word and filter", models.ListParams{Q: "lampara", Scope: inStock, Filtered: true, CountBudget: roomy}, wantInStock, 20, true},
				{"last page", models.ListParams{Q: "lampara", Page: 96, PageSize: 100, CountBudget: roomy}, lamps, 21, false},
				{"page past the end", models.ListParams{Q: "lampara", Page: 1000, CountBudget: roomy}, lamps, 0, false},
				{"far past the end", models.ListParams{Q: "lampara", Page: 5001, CountBudget: roomy}, lamps, 0, false},
				{"other word", models.ListParams{Q: "silla", Page: 2, CountBudget: roomy}, n - lamps, 20, true},
				{"no match", models.ListParams{Q: "zzz", Page: 2, CountBudget: roomy}, 0, 0, false},
				{"unfiltered", models.ListParams{Page: 2, CountBudget: roomy}, n, 20, true},
				{"unfiltered past the end", models.ListParams{Page: 5001}, n, 0, false},
			}
			for _, c := range exact {
				t.Run(c.name, func(t *testing.T) {
					page, err := models.List[models.Product](ctx, db, models.ProductList, c.p)
					if err != nil {
						t.Fatal(err)
					}
					if page.Total != c.total || page.TotalIsEstimate || len(page.Items) != c.items || page.HasNext != c.hasNext {
						t.Fatalf("total %d (estimate %v), %d items, next %v; want exactly %d, %d items, next %v",
							page.Total, page.TotalIsEstimate, len(page.Items), page.HasNext, c.total, c.items, c.hasNext)
					}
				})
			}
			// A budget too small for any count forces the estimate.
			forced := []struct {
				name string
				p    models.ListParams
			}{
				{"page 1", models.ListParams{Q: "lampara", CountBudget: time.Nanosecond}},
				{"page 3", models.ListParams{Q: "lampara", Page: 3, CountBudget: time.Nanosecond}},
				{"deep page", models.ListParams{Q: "lampara", Page: 400, CountBudget: time.Nanosecond}},
				{"filtered", models.ListParams{Q: "lampara", Page: 2, Scope: inStock, Filtered: true, CountBudget: time.Nanosecond}},
				{"past the end", models.ListParams{Q: "lampara", Page: 1000, CountBudget: time.Nanosecond}},
			}
			for _, c := range forced {
				t.Run("estimate/"+c.name, func(t *testing.T) {
					page, err := models.List[models.Product](ctx, db, models.ProductList, c.p)
					if err != nil {
						t.Fatal(err)
					}
					p := max(c.p.Page, 1)
					var given int64 // an empty page gives nothing
					if len(page.Items) > 0 {
						given = int64((p-1)*20 + len(page.Items))
					}
					if page.HasNext {
						given++
					}
					if !page.TotalIsEstimate || page.Total < given {
						t.Fatalf("total %d (estimate %v) with %d rows given: want a flagged estimate of at least that",
							page.Total, page.TotalIsEstimate, given)
					}
					if len(page.Items) == 0 && page.Total > int64((p-1)*20) {
						t.Fatalf("empty page %d says %d rows: more than there are before it", p, page.Total)
					}
					t.Logf("estimate %d (exact %d)", page.Total, lamps)
				})
			}
		})
	}
}

// TestSQLiteEstimateFromCountedRanges: when the budget ends a filtered
// count on SQLite part way, the estimate extrapolates from the id ranges
// it did count, so it is in the right region rather than the rows given.
func TestSQLiteEstimateFromCountedRanges(t *testing.T) {
	db := testdb.Open(t, models.SQLite)
	const n = 60_000
	bulkProducts(t, db, n, func(i int) string {
		if i%3 == 0 {
			return fmt.Sprintf("Lámpara %d", i)
		}
		return fmt.Sprintf("Silla %d", i)
	})
	// 60,000 rows take about 100 ms to search on SQLite; 40 ms count a
	// few ranges.
	page, err := models.List[models.Product](context.Background(), db, models.ProductList, models.ListParams{
		Q: "lampara", Page: 2, CountBudget: 40 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("total %d, estimate %v", page.Total, page.TotalIsEstimate)
	if !page.TotalIsEstimate || page.Total == 41 {
		t.Skip("this machine counted all of the ranges, or none, within 40 ms")
	}
	if page.Total < n/3/2 || page.Total > n/3*2 {
		t.Fatalf("estimate %d for %d matches", page.Total, n/3)
	}
}
