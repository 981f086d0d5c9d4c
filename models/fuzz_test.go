package models_test

import (
	"context"
	"errors"
	"testing"
	"unicode/utf8"

	"tienda/models"
	"tienda/models/testdb"
)

// FuzzListQuery runs lists with arbitrary search text and sort keys on a
// real SQLite database: the answer is a page or a ValidationError naming
// q, never a database error (a sort key off the whitelist falls back to
// the default order; it never reaches SQL).
func FuzzListQuery(f *testing.F) {
	db := testdb.Open(f, models.SQLite)
	ctx := context.Background()
	if _, err := models.NewStore(db).Seed(ctx, 30, 0); err != nil {
		f.Fatal(err)
	}
	for _, seed := range [][2]string{
		{"Product", "name"}, {"", "-price"}, {"pie lámpara", "id"}, {"%_\\", "stock"}, {"\x00'", ""},
		{"\xff\xfe", "-created_at"}, {"'; DROP TABLE products; --", "name; DROP"}, {"ÁÉÍÓÚ ñ ß", "password"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, q, sort string) {
		page, err := models.List[models.Product](ctx, db, models.ProductList, models.ListParams{Page: 1, PageSize: 50, Q: q, Sort: sort})
		if err != nil {
			var ve *models.ValidationError
			if !errors.As(err, &ve) || (ve.Fields["q"] == "" && ve.Fields["sort"] == "") {
				t.Fatalf("q=%q sort=%q: %v", q, sort, err)
			}
			return
		}
		if !utf8.ValidString(q) {
			t.Fatalf("q=%q (invalid UTF-8) was accepted", q)
		}
		if page.Total < int64(len(page.Items)) {
			t.Fatalf("total %d below %d items", page.Total, len(page.Items))
		}
	})
}
