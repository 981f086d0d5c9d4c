package models_test

import (
	"context"
	"sync"
	"testing"

	"tienda/models"
	"tienda/models/testdb"
)

// TestFirstReservationsOfTheDayRace: the day's first chats of a user,
// arriving together, all reserve (one of them makes the day's row while
// the others' UPDATE found none: they must try again, not be refused).
func TestFirstReservationsOfTheDayRace(t *testing.T) {
	for _, dialect := range testdb.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			db := testdb.Open(t, dialect)
			ctx := context.Background()
			u := &models.User{Username: "racer", Email: "r@example.com", IsActive: true, PasswordHash: "x"}
			if err := db.Create(u).Error; err != nil {
				t.Fatal(err)
			}
			for _, budget := range []int64{0, 1_000_000} {
				day := "2026-01-0" + map[int64]string{0: "1", 1_000_000: "2"}[budget]
				var wg sync.WaitGroup
				errs := make(chan error, 8)
				refused := make(chan int64, 8)
				for range 8 {
					wg.Go(func() {
						ok, used, err := models.ReserveTokens(ctx, db, u.ID, day, 100, 10, budget)
						if err != nil {
							errs <- err
						} else if !ok {
							refused <- used
						}
					})
				}
				wg.Wait()
				close(errs)
				close(refused)
				for err := range errs {
					t.Fatalf("budget %d: %v", budget, err)
				}
				for used := range refused {
					t.Fatalf("budget %d: a first reservation of the day was refused (%d used)", budget, used)
				}
				var b models.ChatBudget
				if err := db.Where("user_id = ? AND day = ?", u.ID, day).Take(&b).Error; err != nil || b.Tokens != 800 {
					t.Fatalf("budget %d: %+v %v", budget, b, err)
				}
			}
		})
	}
}
