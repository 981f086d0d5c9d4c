package app

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"tienda/app/config"
	"time"
)

// TestTracingExportsRequestAndDatabaseSpans points the exporter at an
// in-process OTLP/HTTP receiver and checks that a request produces a
// server span and database spans; without the variable nothing is set up.
func TestTracingExportsRequestAndDatabaseSpans(t *testing.T) {
	var mu sync.Mutex
	var bodies [][]byte
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		if r.URL.Path == "/v1/traces" {
			bodies = append(bodies, b)
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(200)
	}))
	defer collector.Close()

	off := newTestServer(t, "sqlite")
	if off.srv.tracing != nil {
		t.Fatal("tracing on without OTEL_EXPORTER_OTLP_ENDPOINT")
	}

	ts := newTestServer(t, "sqlite", func(c *config.Config) { c.Prod.OTLPEndpoint = collector.URL })
	token := ts.staffToken("tracer")
	if r := ts.do("GET", "/api/v1/products?q=lamp", nil, "Authorization", token, "traceparent",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"); r.Status != 200 {
		t.Fatalf("list: %d", r.Status)
	}
	// An LLM call (the offline providers stand in for a remote one) gets
	// its own client spans: the question's embedding and the answer.
	ts.createIndexedDoc(token, "Return policy", lampDoc)
	if r := ts.do("POST", "/api/v1/chat", map[string]any{"message": "Can I return a lamp?"}, "Authorization", token); r.Status != 200 {
		t.Fatalf("chat: %d %s", r.Status, r.Body)
	}
	ts.srv.tracing.Shutdown(ts.srv.log) // flush
	ok := eventually(t, 5*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		all := bytes.Join(bodies, nil)
		// Protobuf carries strings verbatim: span names and the trace id.
		return bytes.Contains(all, []byte("/api/v1/products")) && bytes.Contains(all, []byte("db.query")) &&
			bytes.Contains(all, []byte("llm.chat")) && bytes.Contains(all, []byte("llm.embed")) &&
			!bytes.Contains(all, []byte("Can I return a lamp?")) &&
			bytes.Contains(all, []byte{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6})
	})
	if !ok {
		t.Fatalf("spans not exported (%d batches)", len(bodies))
	}
}
