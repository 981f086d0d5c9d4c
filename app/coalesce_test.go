package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func (g *coalescer) waiting(key string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	f, ok := g.flights[key]
	return ok && f.next != nil
}

// Requests that arrive while an answer is being computed share the next
// run, which starts after they arrived: they see a write committed before
// they came, never the answer of a run that began before it.
func TestCoalescerSharesOnlyFreshAnswers(t *testing.T) {
	g := newCoalescer()
	var committed atomic.Int64 // what a query would see
	committed.Store(1)
	var runs atomic.Int64
	release := make(chan struct{})
	fn := func(ctx context.Context) ([]byte, error) {
		seen := committed.Load()
		if runs.Add(1) == 1 {
			<-release // the first run is slow
		}
		return []byte(strconv.FormatInt(seen, 10)), nil
	}
	ctx := context.Background()
	first := make(chan string)
	go func() {
		b, _ := g.do(ctx, "page=1", fn)
		first <- string(b)
	}()
	waitFor(t, "the first run", func() bool { return runs.Load() == 1 })
	committed.Store(2) // a write commits while the first run is in flight
	const later = 10
	answers := make([]string, later)
	var wg sync.WaitGroup
	for i := range later {
		wg.Go(func() {
			b, err := g.do(ctx, "page=1", fn)
			if err != nil {
				t.Error(err)
			}
			answers[i] = string(b)
		})
	}
	waitFor(t, "the later requests to queue", func() bool { return g.waiting("page=1") })
	time.Sleep(20 * time.Millisecond) // let every later request join
	close(release)
	if got := <-first; got != "1" {
		t.Fatalf("first request got %q", got)
	}
	wg.Wait()
	for i, a := range answers {
		if a != "2" {
			t.Fatalf("later request %d got %q: an answer from before its arrival", i, a)
		}
	}
	if n := runs.Load(); n != 2 {
		t.Fatalf("%d runs for 1 + %d requests, want 2", n, later)
	}
	waitFor(t, "the key to leave flight", func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return len(g.flights) == 0
	})
}

func TestCoalescer(t *testing.T) {
	boom := errors.New("boom")
	cases := []struct {
		name string
		run  func(t *testing.T, g *coalescer)
	}{
		{"a lone request runs at once", func(t *testing.T, g *coalescer) {
			b, err := g.do(context.Background(), "k", func(context.Context) ([]byte, error) { return []byte("x"), nil })
			if err != nil || string(b) != "x" {
				t.Fatalf("%q, %v", b, err)
			}
		}},
		{"an error reaches every request of its round", func(t *testing.T, g *coalescer) {
			release := make(chan struct{})
			var runs atomic.Int64
			fn := func(context.Context) ([]byte, error) {
				if runs.Add(1) == 1 {
					<-release
					return []byte("ok"), nil
				}
				return nil, boom
			}
			go g.do(context.Background(), "k", fn)
			waitFor(t, "the first run", func() bool { return runs.Load() == 1 })
			errs := make(chan error, 3)
			for range 3 {
				go func() { _, err := g.do(context.Background(), "k", fn); errs <- err }()
			}
			waitFor(t, "the waiters", func() bool { return g.waiting("k") })
			time.Sleep(20 * time.Millisecond)
			close(release)
			for range 3 {
				if err := <-errs; !errors.Is(err, boom) {
					t.Fatalf("waiter got %v", err)
				}
			}
		}},
		{"a waiter that gives up returns at once", func(t *testing.T, g *coalescer) {
			release := make(chan struct{})
			defer close(release)
			started := make(chan struct{})
			var once sync.Once
			// The round the waiter left runs this too (a flight's runs share fn).
			go g.do(context.Background(), "k", func(context.Context) ([]byte, error) {
				once.Do(func() { close(started) })
				<-release
				return nil, nil
			})
			<-started
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
			defer cancel()
			if _, err := g.do(ctx, "k", func(context.Context) ([]byte, error) { return nil, nil }); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("gave up with %v", err)
			}
		}},
		{"other keys do not wait", func(t *testing.T, g *coalescer) {
			release := make(chan struct{})
			defer close(release)
			started := make(chan struct{})
			go g.do(context.Background(), "page=1", func(context.Context) ([]byte, error) {
				close(started)
				<-release
				return nil, nil
			})
			<-started
			b, err := g.do(context.Background(), "page=2", func(context.Context) ([]byte, error) { return []byte("2"), nil })
			if err != nil || string(b) != "2" {
				t.Fatalf("%q, %v", b, err)
			}
		}},
		{"a shared run keeps the latest deadline of its requests", func(t *testing.T, g *coalescer) {
			release := make(chan struct{})
			var runs atomic.Int64
			deadlines := make(chan time.Time, 1)
			fn := func(ctx context.Context) ([]byte, error) {
				if runs.Add(1) == 1 {
					<-release
					return nil, nil
				}
				d, _ := ctx.Deadline()
				deadlines <- d
				return nil, nil
			}
			go g.do(context.Background(), "k", fn)
			waitFor(t, "the first run", func() bool { return runs.Load() == 1 })
			var wg sync.WaitGroup
			latest := time.Now().Add(time.Hour)
			for _, d := range []time.Time{time.Now().Add(time.Minute), latest} {
				ctx, cancel := context.WithDeadline(context.Background(), d)
				defer cancel()
				wg.Go(func() { g.do(ctx, "k", fn) })
			}
			waitFor(t, "the waiters", func() bool { return g.waiting("k") })
			time.Sleep(20 * time.Millisecond)
			close(release)
			wg.Wait()
			if d := <-deadlines; !d.Equal(latest) {
				t.Fatalf("shared run's deadline %v, want %v", d, latest)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, newCoalescer()) })
	}
}

// Through the real server, many clients asking for the same list pages
// (in either parameter order) while a writer creates products: every
// answer is a well-formed page, and the writer's list request right after
// each create shows that product, even when it shares its answer.
func TestConcurrentListsSeeEarlierWrites(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, func(c *Config) { c.Prod.RateRead = Rate{N: 1 << 30, Window: time.Minute} })
		token := ts.staffToken("lister")
		base := ts.listen()
		client := &http.Client{Timeout: 10 * time.Second}
		defer client.CloseIdleConnections()
		get := func(path string, v any) int {
			req, _ := http.NewRequest("GET", base+path, nil)
			req.Header.Set("Authorization", token)
			resp, err := client.Do(req)
			if err != nil {
				t.Error(err)
				return 0
			}
			defer resp.Body.Close()
			if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
				t.Errorf("GET %s: %v", path, err)
			}
			return resp.StatusCode
		}
		for i := range 30 {
			if r := ts.do("POST", "/api/v1/products", map[string]any{"name": fmt.Sprintf("Base %02d", i), "price": 1}, "Authorization", token); r.Status != 201 {
				t.Fatalf("seed: %d %s", r.Status, r.Body)
			}
		}
		stop := make(chan struct{})
		var readers sync.WaitGroup
		var pages atomic.Int64
		// The last is also the writer's question.
		paths := []string{"/api/v1/products?page=1&page_size=20", "/api/v1/products?page_size=20&page=1", "/api/v1/products?page=2&page_size=20",
			"/api/v1/products?sort=-id&page_size=5&page=1"}
		for i := range 16 {
			readers.Go(func() {
				for j := 0; ; j++ {
					select {
					case <-stop:
						return
					default:
					}
					var page struct {
						Items []map[string]any `json:"items"`
						Total int              `json:"total"`
					}
					if st := get(paths[(i+j)%len(paths)], &page); st != 200 || page.Total < 30 || len(page.Items) == 0 {
						t.Errorf("list: status %d, %d items of %d", st, len(page.Items), page.Total)
						return
					}
					pages.Add(1)
				}
			})
		}
		for i := range 20 {
			name := fmt.Sprintf("Nuevo %02d", i)
			if r := ts.do("POST", "/api/v1/products", map[string]any{"name": name, "price": 2}, "Authorization", token); r.Status != 201 {
				t.Fatalf("create: %d %s", r.Status, r.Body)
			}
			var page struct {
				Items []struct {
					Name string `json:"name"`
				} `json:"items"`
			}
			// The writer's own list, asked of the same key as other clients.
			get("/api/v1/products?page=1&page_size=5&sort=-id", &page)
			if len(page.Items) == 0 || page.Items[0].Name != name {
				t.Fatalf("list right after creating %q starts with %+v", name, page.Items)
			}
		}
		close(stop)
		readers.Wait()
		client.CloseIdleConnections()
		if pages.Load() == 0 {
			t.Fatal("no list answered")
		}
	})
}
