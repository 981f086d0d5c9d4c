package app

import "testing"

func TestHealthAndReady(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		for _, path := range []string{"/health", "/ready"} {
			resp := ts.do("GET", path, nil)
			if resp.Status != 200 {
				t.Fatalf("%s: %d %s", path, resp.Status, resp.Body)
			}
		}
	})
}
