package models_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"tienda/models"
	"tienda/models/testdb"
)

// A product row locked by a slow statement holds up the writes of that
// product only: updates of it wait (and give up at their deadline, as
// unavailable), while reads of other products and new creates go on.
// Every assertion is on the order of events; the timeouts are only
// guards against a hang.
func TestLockedProductDoesNotDelayOthers(t *testing.T) {
	db := testdb.Open(t, models.Postgres) // skips without TEST_DATABASE_URL
	st := models.NewStore(db)
	ctx := context.Background()
	var products []*models.Product
	for i := range 51 {
		p := &models.Product{Name: fmt.Sprintf("Producto %d", i), Price: models.Cents(int64(100 + i)), Stock: 1}
		if err := st.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		products = append(products, p)
	}
	locked, others := products[0], products[1:]

	// Connection A holds product 1's row lock in an open transaction.
	holder := db.Begin()
	defer holder.Rollback()
	var holderPID int64
	if err := holder.Raw("SELECT pg_backend_pid()").Scan(&holderPID).Error; err != nil {
		t.Fatal(err)
	}
	if err := holder.Exec("SELECT id FROM products WHERE id = ? FOR UPDATE", locked.ID).Error; err != nil {
		t.Fatal(err)
	}
	blocked := func() int64 {
		var n int64
		if err := db.Raw("SELECT count(*) FROM pg_stat_activity WHERE ? = ANY(pg_blocking_pids(pid))", holderPID).Scan(&n).Error; err != nil {
			t.Fatal(err)
		}
		return n
	}

	// An update of product 1 with no near deadline waits for the lock...
	waiting := *locked
	waiting.Stock = 2
	updated := make(chan error, 1)
	go func() {
		uctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		updated <- st.Update(uctx, &waiting, 1)
	}()
	waitFor(t, "the update to wait for the row lock", func() bool { return blocked() == 1 })

	// ...and one with a deadline gives up at it, as unavailable.
	impatient := *locked
	impatient.Stock = 3
	dctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := st.Update(dctx, &impatient, 1)
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("update with a 200ms deadline took %v", took)
	}
	if !models.Unavailable(err) {
		t.Fatalf("update of a locked row past its deadline: %v, want an unavailable error", err)
	}

	// Meanwhile 50 reads of other products and 10 creates all complete.
	var wg sync.WaitGroup
	errs := make(chan error, len(others)+10)
	for _, p := range others {
		wg.Go(func() {
			var got models.Product
			if err := st.Get(ctx, &got, p.ID); err != nil || got.Name != p.Name {
				errs <- fmt.Errorf("get %d: %+v, %w", p.ID, got, err)
			}
		})
	}
	for i := range 10 {
		wg.Go(func() {
			if err := st.Create(ctx, &models.Product{Name: fmt.Sprintf("Nuevo %d", i), Price: models.Cents(100)}); err != nil {
				errs <- fmt.Errorf("create %d: %w", i, err)
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("reads and creates of other products did not complete while product 1 was locked")
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	select {
	case err := <-updated:
		t.Fatalf("the update of the locked product returned before the lock was released: %v", err)
	default:
	}

	// Once the lock is released the waiting update goes through.
	if err := holder.Rollback().Error; err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-updated:
		if err != nil || waiting.Version != 2 {
			t.Fatalf("update after the lock was released: version %d, %v", waiting.Version, err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the update did not go through once the lock was released")
	}
}
