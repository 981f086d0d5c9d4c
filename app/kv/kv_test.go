package kv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"tienda/models/testdb"
)

// counters returns every Counter implementation this machine can run:
// SQL on each test database, and Redis when TEST_REDIS_URL is set.
func counters(t *testing.T) map[string]Counter {
	t.Helper()
	out := map[string]Counter{}
	for _, d := range testdb.Dialects() {
		out["sql-"+d] = &SQLCounter{DB: testdb.Open(t, d)}
	}
	if url := os.Getenv("TEST_REDIS_URL"); url != "" {
		r := startRedis(t, url, RedisOptions{})
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		out["redis"] = &RedisCounter{Redis: r, Prefix: "test:" + hex.EncodeToString(b) + ":"}
	}
	return out
}

func TestCounterCountsAtomically(t *testing.T) {
	for name, c := range counters(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			const n = 40
			var wg sync.WaitGroup
			var mu sync.Mutex
			var got []int
			for range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					v, left, err := c.Incr(ctx, "k", time.Minute)
					if err != nil {
						t.Error(err)
						return
					}
					if left <= 0 || left > time.Minute {
						t.Errorf("time left %v", left)
					}
					mu.Lock()
					got = append(got, int(v))
					mu.Unlock()
				}()
			}
			wg.Wait()
			sort.Ints(got)
			for i, v := range got {
				if v != i+1 {
					t.Fatalf("concurrent increments returned %v, want 1..%d each once", got, n)
				}
			}
			if v, _, err := c.Get(ctx, "k"); err != nil || v != n {
				t.Fatalf("get = %d, %v", v, err)
			}
			if err := c.Reset(ctx, "k"); err != nil {
				t.Fatal(err)
			}
			if v, _, _ := c.Get(ctx, "k"); v != 0 {
				t.Fatalf("after reset: %d", v)
			}
		})
	}
}

func TestSQLCounterWindowExpires(t *testing.T) {
	for _, d := range testdb.Dialects() {
		t.Run(d, func(t *testing.T) {
			now := time.Unix(1_800_000_000, 0)
			c := &SQLCounter{DB: testdb.Open(t, d), Now: func() time.Time { return now }}
			ctx := context.Background()
			for range 3 {
				if _, _, err := c.Incr(ctx, "w", time.Minute); err != nil {
					t.Fatal(err)
				}
			}
			now = now.Add(61 * time.Second)
			if v, _, _ := c.Get(ctx, "w"); v != 0 {
				t.Fatalf("expired counter still reads %d", v)
			}
			if v, left, _ := c.Incr(ctx, "w", time.Minute); v != 1 || left != time.Minute {
				t.Fatalf("new window: %d %v", v, left)
			}
		})
	}
}

func TestSQLStorage(t *testing.T) {
	for _, d := range testdb.Dialects() {
		t.Run(d, func(t *testing.T) {
			s := &SQLStorage{DB: testdb.Open(t, d)}
			if v, err := s.Get("missing"); err != nil || v != nil {
				t.Fatalf("missing key: %q %v", v, err)
			}
			if err := s.Set("a", []byte("one"), 0); err != nil {
				t.Fatal(err)
			}
			if err := s.Set("a", []byte("two"), time.Hour); err != nil {
				t.Fatal(err)
			}
			if v, err := s.Get("a"); err != nil || string(v) != "two" {
				t.Fatalf("get a: %q %v", v, err)
			}
			if err := s.Set("gone", []byte("x"), time.Nanosecond); err != nil {
				t.Fatal(err)
			}
			time.Sleep(1100 * time.Millisecond) // expiry has one-second resolution
			if v, _ := s.Get("gone"); v != nil {
				t.Fatalf("expired value returned: %q", v)
			}
			if err := s.Delete("a"); err != nil {
				t.Fatal(err)
			}
			if v, _ := s.Get("a"); v != nil {
				t.Fatalf("deleted value returned: %q", v)
			}
		})
	}
}
