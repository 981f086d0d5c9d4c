package models_test

import (
	"context"
	"testing"
	"time"

	"tienda/models"
	"tienda/models/testdb"
)

// With the network to PostgreSQL hung, a read answers within about its
// deadline, as unavailable, whether it finds a pooled connection or must
// open one; once the network is back the next read succeeds on its own.
func TestGetAnswersWithinItsDeadlineWhenTheNetworkHangs(t *testing.T) {
	for _, c := range []struct {
		name string
		idle int // connections the pool keeps
	}{{"pooled connection", 8}, {"new connection", 0}} {
		t.Run(c.name, func(t *testing.T) {
			db, proxy := testdb.OpenViaProxy(t)
			st := models.NewStore(db)
			ctx := context.Background()
			p := &models.Product{Name: "Silla", Price: models.Cents(100)}
			if err := st.Create(ctx, p); err != nil {
				t.Fatal(err)
			}
			sqlDB, err := db.DB()
			if err != nil {
				t.Fatal(err)
			}
			sqlDB.SetMaxIdleConns(c.idle)

			proxy.Stall()
			dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			defer cancel()
			start := time.Now()
			err = st.Get(dctx, &models.Product{}, p.ID)
			// Generous for a loaded 2-core machine; a hang would be minutes.
			if took := time.Since(start); took > 3*time.Second {
				t.Fatalf("Get took %v with a 100ms deadline", took)
			}
			if !models.Unavailable(err) {
				t.Fatalf("Get on a hung network: %v, want an unavailable error", err)
			}
			t.Logf("hung network: %v after %v", err, time.Since(start))

			proxy.Resume()
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			var got models.Product
			if err := st.Get(rctx, &got, p.ID); err != nil || got.Name != "Silla" {
				t.Fatalf("Get after the network came back: %+v, %v", got, err)
			}
		})
	}
}

// A dropped network (every connection closed under the pool) costs at
// most the calls that were using it: the store reconnects by itself.
func TestStoreReconnectsAfterTheConnectionsDrop(t *testing.T) {
	db, proxy := testdb.OpenViaProxy(t)
	st := models.NewStore(db)
	ctx := context.Background()
	p := &models.Product{Name: "Mesa", Price: models.Cents(100)}
	if err := st.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	proxy.CloseAll()
	var last error
	for range 3 {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		last = st.Get(rctx, &models.Product{}, p.ID)
		cancel()
		if last == nil {
			return
		}
		t.Logf("after the drop: %v", last)
		if !models.Unavailable(last) {
			t.Fatalf("Get on a dropped connection: %v, want an unavailable error", last)
		}
	}
	t.Fatalf("Get still fails after the connections dropped: %v", last)
}
