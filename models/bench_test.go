package models_test

import (
	"context"
	"testing"

	"tienda/models"
	"tienda/models/testdb"
)

// BenchmarkStore measures the store's read by id and its create (with its
// history row), one caller at a time and from 32 goroutines at once, as
// 32 API connections would (SetParallelism(16) on 2 cores; scale it with
// -cpu). On PostgreSQL a product's create is one statement (create.go).
func BenchmarkStore(b *testing.B) {
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
		get := func(i int) {
			var got models.Product
			if err := st.Get(ctx, &got, ids[i%len(ids)]); err != nil {
				b.Fatal(err)
			}
		}
		create := func(int) {
			p := &models.Product{Name: "Mesa", Description: "de pino", Price: models.Cents(4999), Stock: 2}
			if err := st.Create(ctx, p); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(d, func(b *testing.B) {
			for _, op := range []struct {
				name string
				fn   func(int)
			}{{"get", get}, {"create", create}} {
				b.Run(op.name, func(b *testing.B) {
					b.ReportAllocs()
					i := 0
					for b.Loop() {
						op.fn(i)
						i++
					}
				})
				b.Run(op.name+"-parallel", func(b *testing.B) {
					b.ReportAllocs()
					b.SetParallelism(16)
					b.RunParallel(func(pb *testing.PB) {
						i := 0
						for pb.Next() {
							op.fn(i)
							i++
						}
					})
				})
			}
		})
	}
}
