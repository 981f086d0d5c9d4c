package app

import (
	"net/url"
	"testing"
)

// The same page of products, the REST way and the GraphQL way, through the
// whole app in-process (docs/benchmarks.md, "GraphQL vs REST"). The GraphQL
// operation selects every field REST sends, so both answer the same data.
const benchProductsQuery = `{ products(page: 1) { items { id name description price stock version createdAt updatedAt } total totalIsEstimate page pageSize hasNext } }`

func BenchmarkProductsPage1REST(b *testing.B) {
	ts, auth := apiBenchServer(b, 10_000)
	h := ts.srv.app.Handler()
	b.ReportAllocs()
	for b.Loop() {
		serveBench(b, h, "GET", "/api/v1/products?page=1", auth, "")
	}
}

func BenchmarkProductsPage1GraphQL(b *testing.B) {
	ts, auth := apiBenchServer(b, 10_000)
	h := ts.srv.app.Handler()
	body := `{"query":"` + benchProductsQuery + `"}`
	b.ReportAllocs()
	for b.Loop() {
		serveBench(b, h, "POST", "/api/v1/graphql", auth, body)
	}
}

func BenchmarkProductsPage1GraphQLGet(b *testing.B) {
	ts, auth := apiBenchServer(b, 10_000)
	h := ts.srv.app.Handler()
	uri := "/api/v1/graphql?query=" + url.QueryEscape(benchProductsQuery)
	b.ReportAllocs()
	for b.Loop() {
		serveBench(b, h, "GET", uri, auth, "")
	}
}
