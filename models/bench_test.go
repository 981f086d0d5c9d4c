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

// BenchmarkConcurrent reads and creates products from 32 goroutines at
// once, as 32 API connections would: on PostgreSQL concurrent reads and
// creates share statements (batch.go), so the time per operation falls
// below one round trip.
func BenchmarkConcurrent(b *testing.B) {
	for _, d := range testdb.Dialects() {
		db := testdb.Open(b, d)
		st := models.NewStore(db)
		ctx := context.Background()
		var ids []int64
		for i := range 100 {
			p := &models.Product{Name: "Silla", Description: "de roble", Price: models.Cents(int64(100 + i)), Stock: 7}
			if err := st.Create(ctx, p); err != nil {
				b.Fatal(err)
			}
			ids = append(ids, p.ID)
		}
		b.Run(d+"/get", func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(16) // 32 goroutines on 2 cores
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					var got models.Product
					if err := st.Get(ctx, &got, ids[i%len(ids)]); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		})
		b.Run(d+"/create", func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					p := &models.Product{Name: "Mesa", Description: "de pino", Price: models.Cents(4999), Stock: 2}
					if err := st.Create(ctx, p); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
