package models_test

import (
	"context"
	"fmt"
	"testing"

	"tienda/models"
	"tienda/models/testdb"
)

// TestKeysetPagesMatchOffsetPages: walking a list by next_after cursors
// gives exactly the rows the numbered pages give, in the same order, for
// every sort (ties included) and with a search, on both databases; a
// cursor of another sort or a forged one is refused on "after".
func TestKeysetPagesMatchOffsetPages(t *testing.T) {
	for _, dialect := range testdb.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			db := testdb.Open(t, dialect)
			ctx := context.Background()
			st := models.NewStore(db)
			for i := range 47 {
				p := &models.Product{Name: fmt.Sprintf("Item %02d", i%9), Description: "keyset", Price: models.Cents(int64(100 + i%5)), Stock: int64(i % 4)}
				if err := st.Create(ctx, p); err != nil {
					t.Fatal(err)
				}
			}
			for _, sort := range []string{"", "id", "-id", "name", "-name", "price", "-price", "stock", "-created_at", "updated_at"} {
				for _, q := range []string{"", "item 0"} {
					var byPage, byCursor []int64
					var total int64
					for page := 1; ; page++ {
						pg, err := models.List[models.Product](ctx, db, models.ProductList, models.ListParams{Page: page, PageSize: 5, Sort: sort, Q: q})
						if err != nil {
							t.Fatal(err)
						}
						for _, it := range pg.Items {
							byPage = append(byPage, it.ID)
						}
						total = pg.Total
						if !pg.HasNext {
							break
						}
					}
					var after *models.Keyset
					for range 100 {
						pg, err := models.List[models.Product](ctx, db, models.ProductList, models.ListParams{PageSize: 5, Sort: sort, Q: q, After: after})
						if err != nil {
							t.Fatal(err)
						}
						if after != nil && (pg.Page != 0 || pg.Total != total) {
							t.Fatalf("sort %q q %q: cursor page says page %d total %d (want 0, %d)", sort, q, pg.Page, pg.Total, total)
						}
						for _, it := range pg.Items {
							byCursor = append(byCursor, it.ID)
						}
						if !pg.HasNext {
							if pg.NextAfter != "" {
								t.Fatal("a last page with a next cursor")
							}
							break
						}
						if after, err = models.ParseAfter[models.Product](models.ProductList, sort, pg.NextAfter); err != nil {
							t.Fatalf("sort %q: own cursor refused: %v", sort, err)
						}
					}
					if fmt.Sprint(byPage) != fmt.Sprint(byCursor) {
						t.Fatalf("sort %q q %q:\npages   %v\ncursors %v", sort, q, byPage, byCursor)
					}
				}
			}
			pg, _ := models.List[models.Product](ctx, db, models.ProductList, models.ListParams{PageSize: 5, Sort: "name"})
			for _, bad := range []struct{ sort, raw string }{{"price", pg.NextAfter}, {"name", "not-base64!"}, {"name", "eyJzIjoibmFtZSIsInYiOjUsImlkIjoxfQ"}, {"name", ""}} {
				if _, err := models.ParseAfter[models.Product](models.ProductList, bad.sort, bad.raw); err == nil {
					t.Fatalf("cursor %q for sort %q accepted", bad.raw, bad.sort)
				}
			}
		})
	}
}
