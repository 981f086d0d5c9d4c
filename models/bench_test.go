package models_test

import (
	"context"
	"testing"

	"tienda/models"
	"tienda/models/testdb"
)

// BenchmarkProductGet compares the store's read of a product by id (direct
// on PostgreSQL, see direct.go) with GORM's Take of the same row.
func BenchmarkProductGet(b *testing.B) {
	for _, d := range testdb.Dialects() {
		db := testdb.Open(b, d)
		st := models.NewStore(db)
		ctx := context.Background()
		p := &models.Product{Name: "Silla", Description: "de roble", Price: models.Cents(12345), Stock: 7}
		if err := st.Create(ctx, p); err != nil {
			b.Fatal(err)
		}
		b.Run(d+"/store", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var got models.Product
				if err := st.Get(ctx, &got, p.ID); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(d+"/gorm-take", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var got models.Product
				if err := db.WithContext(ctx).Take(&got, p.ID).Error; err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
