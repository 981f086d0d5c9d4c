package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"tienda/app/config"
	"time"
)

// TestConcurrentListsAnswerTheirOwnQuestion: clients asking different
// lists at once, over real sockets while products are created, each get
// the answer to their own query (its sort, its search), and a list read
// after a write sees the write. It failed while identical list requests
// shared answers computed from request strings that fasthttp had already
// reused (sort=-id answered in id order; searches answered empty).
func TestConcurrentListsAnswerTheirOwnQuestion(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, func(c *config.Config) { c.Prod.RateRead = config.Rate{N: 1 << 30, Window: time.Minute} })
		token := ts.staffToken("lister")
		base := ts.listen()
		client := &http.Client{Timeout: 10 * time.Second}
		defer client.CloseIdleConnections()
		type item struct {
			ID   int64  `json:"id"`
			Name string `json:"name"`
		}
		type page struct {
			Items []item `json:"items"`
			Total int    `json:"total"`
		}
		get := func(path string) (int, page) {
			var p page
			req, _ := http.NewRequest("GET", base+path, nil)
			req.Header.Set("Authorization", token)
			resp, err := client.Do(req)
			if err != nil {
				t.Error(err)
				return 0, p
			}
			defer resp.Body.Close()
			if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
				t.Errorf("GET %s: %v", path, err)
			}
			return resp.StatusCode, p
		}
		for i := range 30 {
			if r := ts.do("POST", "/api/v1/products", map[string]any{"name": fmt.Sprintf("Base %02d", i), "price": 1}, "Authorization", token); r.Status != 201 {
				t.Fatalf("seed: %d %s", r.Status, r.Body)
			}
		}
		// Each query with what every answer to it must satisfy.
		checks := []struct {
			path string
			ok   func(p page) bool
		}{
			{"/api/v1/products?page=1&page_size=20", func(p page) bool {
				return len(p.Items) == 20 && sort.SliceIsSorted(p.Items, func(i, j int) bool { return p.Items[i].ID < p.Items[j].ID })
			}},
			{"/api/v1/products?sort=-id&page_size=5&page=1", func(p page) bool {
				return len(p.Items) == 5 && sort.SliceIsSorted(p.Items, func(i, j int) bool { return p.Items[i].ID > p.Items[j].ID })
			}},
			{"/api/v1/products?q=Base&page_size=50", func(p page) bool {
				for _, it := range p.Items {
					if !strings.HasPrefix(it.Name, "Base") {
						return false
					}
				}
				return len(p.Items) == 30 && p.Total == 30
			}},
			{"/api/v1/products?sort=-name&page_size=10", func(p page) bool {
				return len(p.Items) == 10 && sort.SliceIsSorted(p.Items, func(i, j int) bool { return p.Items[i].Name > p.Items[j].Name })
			}},
			{"/api/v1/products?q=zzz-nothing-matches", func(p page) bool { return len(p.Items) == 0 && p.Total == 0 }},
		}
		stop := make(chan struct{})
		var readers sync.WaitGroup
		var answered atomic.Int64
		for i := range 16 {
			readers.Go(func() {
				for j := 0; ; j++ {
					select {
					case <-stop:
						return
					default:
					}
					ch := checks[(i+j)%len(checks)]
					st, p := get(ch.path)
					if st != 200 || !ch.ok(p) {
						t.Errorf("GET %s: status %d, answer %+v", ch.path, st, p)
						return
					}
					answered.Add(1)
				}
			})
		}
		for i := range 20 {
			name := fmt.Sprintf("Nuevo %02d", i)
			if r := ts.do("POST", "/api/v1/products", map[string]any{"name": name, "price": 2}, "Authorization", token); r.Status != 201 {
				t.Fatalf("create: %d %s", r.Status, r.Body)
			}
			// The writer's own list, asked with the same query as other clients.
			_, p := get("/api/v1/products?sort=-id&page_size=5&page=1")
			if len(p.Items) == 0 || p.Items[0].Name != name {
				t.Fatalf("list right after creating %q starts with %+v", name, p.Items)
			}
		}
		close(stop)
		readers.Wait()
		if answered.Load() == 0 {
			t.Fatal("no list answered")
		}
	})
}
