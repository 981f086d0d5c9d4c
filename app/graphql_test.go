package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"tienda/app/config"
	"tienda/app/web"
	"tienda/models"
)

// gqlError is one entry of a GraphQL response's errors.
type gqlError struct {
	Message    string `json:"message"`
	Path       []any  `json:"path"`
	Extensions struct {
		Code           string            `json:"code"`
		Fields         map[string]string `json:"fields"`
		Detail         string            `json:"detail"`
		CurrentVersion int64             `json:"currentVersion"`
		CorrelationID  string            `json:"correlationId"`
	} `json:"extensions"`
}

// gqlResponse is a GraphQL response with its HTTP status and raw body.
type gqlResponse struct {
	Status int
	Body   []byte
	Data   map[string]json.RawMessage `json:"data"`
	Errors []gqlError                 `json:"errors"`
}

// code is the first error's code ("" when there is no error).
func (r *gqlResponse) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	return r.Errors[0].Extensions.Code
}

// field decodes data[name] into v.
func (r *gqlResponse) field(t testing.TB, name string, v any) {
	t.Helper()
	raw, ok := r.Data[name]
	if !ok {
		t.Fatalf("no data.%s in %s", name, r.Body)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("decode data.%s %s: %v", name, raw, err)
	}
}

// gql POSTs one operation to /api/v1/graphql with the credential header
// pair cred (name, value).
func (ts *testServer) gql(cred []string, query string, vars map[string]any) *gqlResponse {
	ts.t.Helper()
	body := map[string]any{"query": query}
	if vars != nil {
		body["variables"] = vars
	}
	return ts.gqlRaw("POST", body, cred...)
}

// gqlGet sends a query by GET.
func (ts *testServer) gqlGet(cred []string, query string, vars map[string]any) *gqlResponse {
	ts.t.Helper()
	q := url.Values{"query": {query}}
	if vars != nil {
		b, _ := json.Marshal(vars)
		q.Set("variables", string(b))
	}
	r := ts.do("GET", "/api/v1/graphql?"+q.Encode(), nil, cred...)
	return decodeGQL(ts.t, r)
}

func (ts *testServer) gqlRaw(method string, body any, hdr ...string) *gqlResponse {
	ts.t.Helper()
	return decodeGQL(ts.t, ts.do(method, "/api/v1/graphql", body, hdr...))
}

func decodeGQL(t testing.TB, r *testResponse) *gqlResponse {
	t.Helper()
	out := &gqlResponse{Status: r.Status, Body: r.Body}
	if err := json.Unmarshal(r.Body, out); err != nil {
		t.Fatalf("not a GraphQL response (%d): %s", r.Status, r.Body)
	}
	return out
}

// productFields selects every field of a product.
const productFields = `id name description price stock version createdAt updatedAt`

type gqlProduct struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Price       string    `json:"price"`
	Stock       int64     `json:"stock"`
	Version     int64     `json:"version"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

type gqlPage[T any] struct {
	Items           []T   `json:"items"`
	Total           int64 `json:"total"`
	TotalIsEstimate bool  `json:"totalIsEstimate"`
	Page            int   `json:"page"`
	PageSize        int   `json:"pageSize"`
	HasNext         bool  `json:"hasNext"`
}

// ok fails the test unless the response has data and no errors.
func (r *gqlResponse) ok(t testing.TB) *gqlResponse {
	t.Helper()
	if r.Status != 200 || len(r.Errors) > 0 {
		t.Fatalf("GraphQL %d: %s", r.Status, r.Body)
	}
	return r
}

// refused fails the test unless the first error has code (and, when
// field is set, a message for field) and no data came with it.
func (r *gqlResponse) refused(t testing.TB, code, field string) gqlError {
	t.Helper()
	if len(r.Errors) == 0 || r.code() != code {
		t.Fatalf("want %s, got %d %s", code, r.Status, r.Body)
	}
	e := r.Errors[0]
	if field != "" && e.Extensions.Fields[field] == "" {
		t.Fatalf("no message for field %q: %s", field, r.Body)
	}
	if e.Extensions.CorrelationID == "" {
		t.Fatalf("no correlation id: %s", r.Body)
	}
	for k, v := range r.Data {
		if string(v) != "null" {
			t.Fatalf("data.%s = %s with the error %s", k, v, r.Body)
		}
	}
	return e
}

// restProductIDs lists the ids and paging of GET /api/v1/products?query.
func (ts *testServer) restProducts(auth, query string) (ids []string, total int64, estimate, next bool) {
	ts.t.Helper()
	r := ts.do("GET", "/api/v1/products?"+query, nil, "Authorization", auth)
	if r.Status != 200 {
		ts.t.Fatalf("REST list %q: %d %s", query, r.Status, r.Body)
	}
	var p struct {
		Items []struct {
			ID int64 `json:"id"`
		} `json:"items"`
		Total    int64 `json:"total"`
		Estimate bool  `json:"total_is_estimate"`
		HasNext  bool  `json:"has_next"`
	}
	r.JSON(ts.t, &p)
	for _, it := range p.Items {
		ids = append(ids, fmt.Sprint(it.ID))
	}
	return ids, p.Total, p.Estimate, p.HasNext
}

func TestGraphQLProducts(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		token := ts.staffToken("gina")
		auth := []string{"Authorization", token}

		create := ts.gql(auth, `mutation New($in: ProductInput!) { createProduct(input: $in) { `+productFields+` } }`,
			map[string]any{"in": map[string]any{"name": "Lámpara de pie", "description": "Floor lamp 100% brass", "price": "12345678.5", "stock": 3}}).ok(t)
		var p gqlProduct
		create.field(t, "createProduct", &p)
		if p.ID == "" || p.Price != "12345678.50" || p.Stock != 3 || p.Version != 1 || p.CreatedAt.IsZero() {
			t.Fatalf("created %s", create.Body)
		}
		// The money is exact in storage and on the REST face.
		rest := ts.do("GET", "/api/v1/products/"+p.ID, nil, "Authorization", token)
		if rest.Status != 200 || !strings.Contains(string(rest.Body), `"price":12345678.50`) {
			t.Fatalf("REST sees %d %s", rest.Status, rest.Body)
		}

		var got gqlProduct
		ts.gql(auth, `query One($id: ID!) { product(id: $id) { `+productFields+` } }`, map[string]any{"id": p.ID}).ok(t).field(t, "product", &got)
		// (Stored times may be rounded by the database, as on REST.)
		if !got.CreatedAt.Truncate(time.Second).Equal(p.CreatedAt.Truncate(time.Second)) {
			t.Fatalf("product(id) created at %v, created %v", got.CreatedAt, p.CreatedAt)
		}
		got.CreatedAt, got.UpdatedAt = p.CreatedAt, p.UpdatedAt
		if got != p {
			t.Fatalf("product(id) = %+v, created %+v", got, p)
		}
		// A number literal is read from its decimal text, never as a float.
		var lit gqlProduct
		ts.gql(auth, `mutation { createProduct(input: {name: "Shade", price: 0.1, stock: 4}) { price description stock } }`, nil).
			ok(t).field(t, "createProduct", &lit)
		if lit.Price != "0.10" || lit.Description != "" || lit.Stock != 4 {
			t.Fatalf("literal create: %+v", lit)
		}

		t.Run("partial update with the expected version", func(t *testing.T) {
			var up gqlProduct
			ts.gql(auth, `mutation($id: ID!, $v: Int!) { updateProduct(id: $id, expectedVersion: $v, input: {stock: 9}) { `+productFields+` } }`,
				map[string]any{"id": p.ID, "v": 1}).ok(t).field(t, "updateProduct", &up)
			if up.Stock != 9 || up.Version != 2 || up.Name != p.Name || up.Price != p.Price || up.Description != p.Description {
				t.Fatalf("updated %+v", up)
			}
			// The history records the change, its author and its source.
			id, _ := strconv.ParseInt(p.ID, 10, 64)
			h, err := ts.store.History(t.Context(), "product", id, 10)
			if err != nil || len(h) != 2 || h[0].Action != "update" || h[0].ActorName != "gina" || h[0].Source != "api" ||
				!strings.Contains(h[0].Changes, `"stock"`) || strings.Contains(h[0].Changes, `"name"`) {
				t.Fatalf("history %v %+v", err, h)
			}
		})

		t.Run("a stale expectedVersion changes nothing", func(t *testing.T) {
			e := ts.gql(auth, `mutation($id: ID!) { updateProduct(id: $id, expectedVersion: 1, input: {name: "Lost edit"}) { id } }`,
				map[string]any{"id": p.ID}).refused(t, "PRECONDITION_FAILED", "")
			if e.Extensions.CurrentVersion != 2 || !strings.Contains(e.Extensions.Detail, "current version 2") {
				t.Fatalf("stale update: %+v", e)
			}
			ts.gql(auth, `mutation($id: ID!) { deleteProduct(id: $id, expectedVersion: 1) }`, map[string]any{"id": p.ID}).
				refused(t, "PRECONDITION_FAILED", "")
			var now gqlProduct
			ts.gql(auth, `query($id: ID!) { product(id: $id) { `+productFields+` } }`, map[string]any{"id": p.ID}).ok(t).field(t, "product", &now)
			if now.Name != p.Name || now.Version != 2 {
				t.Fatalf("a refused write changed the product: %+v", now)
			}
			// As a stale If-Match on REST.
			r := ts.do("PATCH", "/api/v1/products/"+p.ID, `{"stock":1}`, "Authorization", token, "If-Match", `"1"`)
			assertEnvelope(t, r, 412, "PRECONDITION_FAILED")
		})

		t.Run("unknown ids", func(t *testing.T) {
			ts.gql(auth, `{ product(id: "999999") { id } }`, nil).refused(t, "NOT_FOUND", "")
			ts.gql(auth, `mutation { updateProduct(id: "999999", expectedVersion: 1, input: {stock: 1}) { id } }`, nil).refused(t, "NOT_FOUND", "")
			ts.gql(auth, `mutation { deleteProduct(id: "999999", expectedVersion: 1) }`, nil).refused(t, "NOT_FOUND", "")
		})

		t.Run("delete", func(t *testing.T) {
			var id string
			ts.gql(auth, `mutation($id: ID!) { deleteProduct(id: $id, expectedVersion: 2) }`, map[string]any{"id": p.ID}).ok(t).field(t, "deleteProduct", &id)
			if id != p.ID {
				t.Fatalf("deleted %q, want %q", id, p.ID)
			}
			ts.gql(auth, `query($id: ID!) { product(id: $id) { id } }`, map[string]any{"id": p.ID}).refused(t, "NOT_FOUND", "")
			if r := ts.do("GET", "/api/v1/products/"+p.ID, nil, "Authorization", token); r.Status != 404 {
				t.Fatalf("REST still sees it: %d", r.Status)
			}
		})

		t.Run("lists match REST", func(t *testing.T) {
			if _, err := ts.store.Seed(t.Context(), 45, 0); err != nil {
				t.Fatal(err)
			}
			cases := []struct{ rest, args string }{
				{"", ``},
				{"page=3&page_size=20", `page: 3, pageSize: 20`},
				{"page=9", `page: 9`},
				{"page_size=7&page=2&sort=-price", `pageSize: 7, page: 2, sort: "-price"`},
				{"sort=created_at", `sort: "createdAt"`},
				{"sort=-updated_at&page_size=5", `sort: "-updatedAt", pageSize: 5`},
				{"q=shade", `q: "shade"`},
				{"q=%25", `q: "%"`},
				{"min_price=10&max_price=50.5&sort=price", `minPrice: "10", maxPrice: "50.5", sort: "price"`},
				{"in_stock=false", `inStock: false`},
				{"in_stock=true&sort=-stock&page_size=100", `inStock: true, sort: "-stock", pageSize: 100`},
			}
			for _, tc := range cases {
				q := `{ products` + map[bool]string{true: "", false: "(" + tc.args + ")"}[tc.args == ""] + ` { total totalIsEstimate page pageSize hasNext items { id } } }`
				var pg gqlPage[gqlProduct]
				ts.gql(auth, q, nil).ok(t).field(t, "products", &pg)
				ids, total, estimate, next := ts.restProducts(token, tc.rest)
				var gids []string
				for _, it := range pg.Items {
					gids = append(gids, it.ID)
				}
				if strings.Join(gids, ",") != strings.Join(ids, ",") || pg.Total != total || pg.TotalIsEstimate != estimate || pg.HasNext != next {
					t.Fatalf("%s: GraphQL %v total %d est %v next %v; REST %v total %d est %v next %v",
						tc.args, gids, pg.Total, pg.TotalIsEstimate, pg.HasNext, ids, total, estimate, next)
				}
			}
			var first gqlPage[gqlProduct]
			ts.gql(auth, `{ products { total page pageSize hasNext items { `+productFields+` } } }`, nil).ok(t).field(t, "products", &first)
			_, total, _, _ := ts.restProducts(token, "")
			if first.Total != total || total < 45 || len(first.Items) != 20 || first.Page != 1 || first.PageSize != 20 || !first.HasNext ||
				first.TotalIsEstimate || first.Items[0].Name == "" || first.Items[0].Price == "" {
				t.Fatalf("default page: %+v", first)
			}
		})

		t.Run("a large list's total is REST's", func(t *testing.T) {
			if _, err := ts.store.Seed(t.Context(), 1200, 0); err != nil {
				t.Fatal(err)
			}
			var pg gqlPage[gqlProduct]
			ts.gql(auth, `{ products(page: 2, pageSize: 10) { total totalIsEstimate hasNext items { id } } }`, nil).ok(t).field(t, "products", &pg)
			_, total, estimate, _ := ts.restProducts(token, "page=2&page_size=10")
			if !pg.HasNext || pg.Total < 1200 || pg.Total != total || pg.TotalIsEstimate != estimate {
				t.Fatalf("total: GraphQL %+v, REST total %d estimate %v", pg, total, estimate)
			}
		})
	})
}

type gqlDocument struct {
	ID      string `json:"id"`
	Title   string `json:"title"`
	Content string `json:"content"`
	Version int64  `json:"version"`
	Index   *struct {
		State           string `json:"state"`
		Chunks          int    `json:"chunks"`
		DocumentVersion int64  `json:"documentVersion"`
		EmbeddingModel  string `json:"embeddingModel"`
		EmbeddingDim    int    `json:"embeddingDim"`
		Error           string `json:"error"`
		IndexedAt       *time.Time
	} `json:"index"`
}

const documentFields = `id title content version createdAt updatedAt index { state error embeddingModel embeddingDim chunks documentVersion indexedAt updatedAt }`

func TestGraphQLDocuments(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		token := ts.staffToken("dora")
		auth := []string{"Authorization", token}

		var d gqlDocument
		ts.gql(auth, `mutation($in: DocumentInput!) { createDocument(input: $in) { `+documentFields+` } }`,
			map[string]any{"in": map[string]any{"title": "Return policy", "content": lampDoc}}).ok(t).field(t, "createDocument", &d)
		if d.ID == "" || d.Version != 1 || d.Index == nil || d.Index.State != "pending" || d.Index.DocumentVersion != 1 {
			t.Fatalf("created %+v", d)
		}
		get := func() gqlDocument {
			t.Helper()
			var g gqlDocument
			ts.gql(auth, `query($id: ID!) { document(id: $id) { `+documentFields+` } }`, map[string]any{"id": d.ID}).ok(t).field(t, "document", &g)
			return g
		}
		// The background indexer indexes it; the index state shows it.
		if !eventually(t, 10*time.Second, func() bool { g := get(); return g.Index != nil && g.Index.State == "indexed" }) {
			t.Fatalf("never indexed: %+v", get().Index)
		}
		if g := get(); g.Index.Chunks < 2 || g.Index.EmbeddingModel == "" || g.Index.EmbeddingDim == 0 || g.Index.IndexedAt == nil || g.Content != lampDoc {
			t.Fatalf("indexed state %+v", g.Index)
		}

		t.Run("search", func(t *testing.T) {
			r := ts.gql(auth, `query Find($q: String!) { searchDocuments(query: $q, mode: KEYWORD, topK: 3) {
				chunkId documentId title snippet score document { id title version index { state } } } }`, map[string]any{"q": "return a lamp"}).ok(t)
			var hits []struct {
				ChunkID, DocumentID, Title, Snippet string
				Score                               float64
				Document                            gqlDocument
			}
			r.field(t, "searchDocuments", &hits)
			if len(hits) == 0 || hits[0].DocumentID != d.ID || hits[0].Document.ID != d.ID || hits[0].Document.Index.State != "indexed" ||
				!strings.Contains(hits[0].Snippet, "<mark>") || hits[0].Score <= 0 || hits[0].Title != "Return policy" {
				t.Fatalf("hits %s", r.Body)
			}
			// The same chunks as the REST search, in the same order.
			rest := ts.do("POST", "/api/v1/documents/search", map[string]any{"query": "return a lamp", "mode": "keyword", "top_k": 3}, "Authorization", token)
			var out struct {
				Results []struct {
					ChunkID int64 `json:"chunk_id"`
				} `json:"results"`
			}
			rest.JSON(t, &out)
			if len(out.Results) != len(hits) {
				t.Fatalf("REST %s, GraphQL %s", rest.Body, r.Body)
			}
			for i := range hits {
				if hits[i].ChunkID != fmt.Sprint(out.Results[i].ChunkID) {
					t.Fatalf("REST %s, GraphQL %s", rest.Body, r.Body)
				}
			}
			for _, mode := range []string{"SEMANTIC", "HYBRID"} {
				r := ts.gql(auth, `query($q: String!) { searchDocuments(query: $q, mode: `+mode+`) { chunkId score } }`, map[string]any{"q": "lamps returned"}).ok(t)
				// Which retrieval answered, as REST's "retrieval" says it.
				if !strings.Contains(string(r.Body), `"extensions":{"retrieval":"`+strings.ToLower(mode)+`"}`) {
					t.Fatalf("%s search without its retrieval: %s", mode, r.Body)
				}
			}
			// The same request rules as REST.
			ts.gql(auth, `{ searchDocuments(query: "  ") { chunkId } }`, nil).refused(t, "VALIDATION_ERROR", "query")
			ts.gql(auth, `{ searchDocuments(query: "lamp", topK: 51) { chunkId } }`, nil).refused(t, "VALIDATION_ERROR", "topK")
			ts.gql(auth, `{ searchDocuments(query: "lamp", topK: 0) { chunkId } }`, nil).refused(t, "VALIDATION_ERROR", "topK")
			ts.gql(auth, `query($q: String!) { searchDocuments(query: $q) { chunkId } }`, map[string]any{"q": strings.Repeat("x", 1001)}).
				refused(t, "VALIDATION_ERROR", "query")
			ts.gql(auth, `{ searchDocuments(query: "lamp", mode: FUZZY) { chunkId } }`, nil).refused(t, "VALIDATION_ERROR", "")
		})

		t.Run("list, update, delete", func(t *testing.T) {
			for _, title := range []string{"Shipping", "Warranty"} {
				ts.gql(auth, `mutation($t: String!) { createDocument(input: {title: $t, content: "Some text."}) { id } }`, map[string]any{"t": title}).ok(t)
			}
			var pg gqlPage[gqlDocument]
			ts.gql(auth, `{ documents(sort: "-title", pageSize: 2) { total hasNext page pageSize items { id title index { state } } } }`, nil).
				ok(t).field(t, "documents", &pg)
			if pg.Total != 3 || !pg.HasNext || len(pg.Items) != 2 || pg.Items[0].Title != "Warranty" || pg.Items[0].Index == nil {
				t.Fatalf("documents page %+v", pg)
			}
			ts.gql(auth, `{ documents(q: "ship") { total items { title } } }`, nil).ok(t).field(t, "documents", &pg)
			if pg.Total != 1 || pg.Items[0].Title != "Shipping" {
				t.Fatalf("documents search %+v", pg)
			}
			ts.gql(auth, `{ documents(sort: "price") { total } }`, nil).refused(t, "VALIDATION_ERROR", "sort")

			var up gqlDocument
			ts.gql(auth, `mutation($id: ID!) { updateDocument(id: $id, expectedVersion: 1, input: {title: "Returns"}) { `+documentFields+` } }`,
				map[string]any{"id": d.ID}).ok(t).field(t, "updateDocument", &up)
			if up.Title != "Returns" || up.Content != lampDoc || up.Version != 2 || up.Index.State != "pending" || up.Index.DocumentVersion != 2 {
				t.Fatalf("updated %+v %+v", up, up.Index)
			}
			ts.gql(auth, `mutation($id: ID!) { updateDocument(id: $id, expectedVersion: 1, input: {content: "Lost"}) { id } }`,
				map[string]any{"id": d.ID}).refused(t, "PRECONDITION_FAILED", "")
			ts.gql(auth, `mutation($id: ID!) { deleteDocument(id: $id, expectedVersion: 1) }`, map[string]any{"id": d.ID}).
				refused(t, "PRECONDITION_FAILED", "")
			if g := get(); g.Content != lampDoc || g.Version != 2 {
				t.Fatalf("a refused write changed the document: %+v", g)
			}
			ts.gql(auth, `mutation($id: ID!) { deleteDocument(id: $id, expectedVersion: 2) }`, map[string]any{"id": d.ID}).ok(t)
			ts.gql(auth, `query($id: ID!) { document(id: $id) { id } }`, map[string]any{"id": d.ID}).refused(t, "NOT_FOUND", "")
		})
	})
}

// newAPIKey creates an API key of scope as the bearer of token.
func (ts *testServer) newAPIKey(token, name, scope string) string {
	ts.t.Helper()
	r := ts.do("POST", "/api/v1/api-keys", map[string]string{"name": name, "scope": scope}, "Authorization", token)
	if r.Status != 201 {
		ts.t.Fatalf("create key: %d %s", r.Status, r.Body)
	}
	var out struct {
		Key string `json:"key"`
	}
	r.JSON(ts.t, &out)
	return out.Key
}

func TestGraphQLPermissions(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		staff := ts.staffToken("stan")
		ts.createUser("root", true, true)
		super := "Bearer " + ts.login("root", "pw-root-0123456789").AccessToken
		pw := ts.createUser("reader", false, false, "API readers")
		plain := "Bearer " + ts.login("reader", pw).AccessToken
		roKey := ts.newAPIKey(staff, "reporting", models.ScopeReadOnly)
		rwKey := ts.newAPIKey(staff, "sync", models.ScopeReadWrite)

		seed := ts.gql([]string{"Authorization", staff}, `mutation { createProduct(input: {name: "Seed", price: "1"}) { id } }`, nil).ok(t)
		var seeded struct{ ID string }
		seed.field(t, "createProduct", &seeded)

		principals := []struct {
			name   string
			cred   []string
			writes bool
		}{
			{"superuser", []string{"Authorization", super}, true},
			{"staff", []string{"Authorization", staff}, true},
			{"non-staff user", []string{"Authorization", plain}, false},
			{"read-only key", []string{web.HeaderAPIKey, roKey}, false},
			{"read-write key of a staff user", []string{web.HeaderAPIKey, rwKey}, true},
		}
		for _, p := range principals {
			t.Run(p.name, func(t *testing.T) {
				// Every principal may query, by POST and by GET.
				ts.gql(p.cred, `{ products { total } documents { total } product(id: "`+seeded.ID+`") { name } }`, nil).ok(t)
				ts.gqlGet(p.cred, `query { products(pageSize: 1) { items { id } } }`, nil).ok(t)
				ts.gql(p.cred, `{ searchDocuments(query: "seed") { chunkId } }`, nil).ok(t)

				before := ts.productCount(t)
				mutations := []string{
					`mutation { createProduct(input: {name: "By ` + p.name + `", price: "2"}) { id } }`,
					`mutation { updateProduct(id: "` + seeded.ID + `", expectedVersion: 999, input: {stock: 5}) { id } }`,
					`mutation { deleteProduct(id: "` + seeded.ID + `", expectedVersion: 999) }`,
					`mutation { createDocument(input: {title: "By ` + p.name + `", content: "x"}) { id } }`,
				}
				for i, m := range mutations {
					r := ts.gql(p.cred, m, nil)
					switch {
					case !p.writes:
						e := r.refused(t, "FORBIDDEN", "")
						if p.cred[0] == web.HeaderAPIKey && !strings.Contains(e.Message+e.Extensions.Detail, "read-only") {
							t.Fatalf("read-only key refused with %+v", e)
						}
					case i == 0 || i == 3:
						r.ok(t)
					default:
						// Allowed, and refused only for the stale version.
						r.refused(t, "PRECONDITION_FAILED", "")
					}
				}
				after := ts.productCount(t)
				if !p.writes && after != before {
					t.Fatalf("a refused principal changed the products: %d -> %d", before, after)
				}
			})
		}

		t.Run("unauthenticated", func(t *testing.T) {
			for _, hdr := range [][]string{nil, {"Authorization", "Bearer nope"}, {web.HeaderAPIKey, "tnd_nope"}} {
				assertEnvelope(t, ts.do("POST", "/api/v1/graphql", map[string]any{"query": "{ products { total } }"}, hdr...), 401, "UNAUTHORIZED")
			}
			assertEnvelope(t, ts.do("GET", "/api/v1/graphql?query=%7Bproducts%7Btotal%7D%7D", nil), 401, "UNAUTHORIZED")
		})

		t.Run("a read-only key still may not POST to REST", func(t *testing.T) {
			assertEnvelope(t, ts.do("POST", "/api/v1/products", `{"name":"x","price":1}`, web.HeaderAPIKey, roKey), 403, "FORBIDDEN")
		})
	})
}

// productCount counts the products in the database.
func (ts *testServer) productCount(t testing.TB) int64 {
	t.Helper()
	var n int64
	if err := ts.store.DB.Model(&models.Product{}).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// TestGraphQLBadInputs sends REST's bad-input table (and GraphQL's own
// malformed requests) through GraphQL: each answers its code, names the
// input when there is one, and nothing is written.
func TestGraphQLBadInputs(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		token := ts.staffToken("bea")
		auth := []string{"Authorization", token}
		const create = `mutation New($in: ProductInput!) { createProduct(input: $in) { id } }`
		in := func(kv ...any) map[string]any {
			m := map[string]any{"name": "A", "description": "", "price": "1", "stock": 1}
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i+1] == nil {
					delete(m, kv[i].(string))
					continue
				}
				m[kv[i].(string)] = kv[i+1]
			}
			return map[string]any{"in": m}
		}
		long := strings.Repeat("x", 81)
		cases := []struct {
			name, query string
			vars        map[string]any
			code, field string
		}{
			{"unknown field", create, in("colour", "red"), "VALIDATION_ERROR", "colour"},
			{"unknown field in a literal", `mutation { createProduct(input: {name: "A", price: "1", colour: "red"}) { id } }`, nil, "VALIDATION_ERROR", ""},
			{"missing name", create, in("name", nil), "VALIDATION_ERROR", "name"},
			{"empty name", create, in("name", ""), "VALIDATION_ERROR", "name"},
			{"name too long", create, in("name", long), "VALIDATION_ERROR", "name"},
			{"10000-character name", create, in("name", strings.Repeat("n", 10000)), "VALIDATION_ERROR", "name"},
			{"whitespace-only name", create, in("name", "   "), "VALIDATION_ERROR", "name"},
			{"NUL byte in name", create, in("name", "a\u0000b"), "VALIDATION_ERROR", "name"},
			{"NUL byte in a literal", `mutation { createProduct(input: {name: "a\u0000b", price: "1"}) { id } }`, nil, "VALIDATION_ERROR", "name"},
			{"line break in name", create, in("name", "a\nb"), "VALIDATION_ERROR", "name"},
			{"NUL byte in description", create, in("description", "a\u0000b"), "VALIDATION_ERROR", "description"},
			{"description too long", create, in("description", strings.Repeat("d", 201)), "VALIDATION_ERROR", "description"},
			{"name as number", create, in("name", 5), "VALIDATION_ERROR", "name"},
			{"null name", create, in("name", json.RawMessage("null")), "VALIDATION_ERROR", "name"},
			{"negative price", create, in("price", "-1"), "VALIDATION_ERROR", "price"},
			{"negative price number", create, in("price", -1), "VALIDATION_ERROR", "price"},
			{"negative price literal", `mutation { createProduct(input: {name: "A", price: -0.01}) { id } }`, nil, "VALIDATION_ERROR", "price"},
			{"three decimals", create, in("price", "1.999"), "VALIDATION_ERROR", "price"},
			{"three decimals as a number", create, in("price", json.Number("1.999")), "VALIDATION_ERROR", "price"},
			{"price not a number", create, in("price", "cheap"), "VALIDATION_ERROR", "price"},
			{"price too large", create, in("price", "99999999999"), "VALIDATION_ERROR", "price"},
			{"NaN price", create, in("price", "NaN"), "VALIDATION_ERROR", "price"},
			{"Infinity price", create, in("price", "Infinity"), "VALIDATION_ERROR", "price"},
			{"1e400 price", create, in("price", json.Number("1e400")), "VALIDATION_ERROR", "price"},
			{"exponent price", create, in("price", "1e3"), "VALIDATION_ERROR", "price"},
			{"price as object", create, in("price", map[string]any{"amount": 1}), "VALIDATION_ERROR", "price"},
			{"price as boolean", create, in("price", true), "VALIDATION_ERROR", "price"},
			{"missing price", create, in("price", nil), "VALIDATION_ERROR", "price"},
			{"negative stock", create, in("stock", -1), "VALIDATION_ERROR", "stock"},
			{"fractional stock", create, in("stock", 1.5), "VALIDATION_ERROR", "stock"},
			{"stock as string", create, in("stock", "many"), "VALIDATION_ERROR", "stock"},
			{"stock beyond int64", create, in("stock", json.Number("9223372036854775808")), "VALIDATION_ERROR", "stock"},
			{"stock as boolean", create, in("stock", true), "VALIDATION_ERROR", "stock"},
			{"stock as string literal", `mutation { createProduct(input: {name: "A", price: "1", stock: "many"}) { id } }`, nil, "VALIDATION_ERROR", ""},
			{"input not an object", create, map[string]any{"in": "A"}, "VALIDATION_ERROR", "in"},
			{"huge pageSize", `{ products(pageSize: 1000000) { total } }`, nil, "VALIDATION_ERROR", "pageSize"},
			{"pageSize 0", `{ products(pageSize: 0) { total } }`, nil, "VALIDATION_ERROR", "pageSize"},
			{"page 0", `{ products(page: 0) { total } }`, nil, "VALIDATION_ERROR", "page"},
			{"page past the bound", `{ documents(page: 1000001) { total } }`, nil, "VALIDATION_ERROR", "page"},
			{"sort not whitelisted", `{ products(sort: "password") { total } }`, nil, "VALIDATION_ERROR", "sort"},
			{"sort with SQL", `{ products(sort: "name; DROP TABLE products") { total } }`, nil, "VALIDATION_ERROR", "sort"},
			{"search too long", `query($q: String) { products(q: $q) { total } }`, map[string]any{"q": strings.Repeat("q", 201)}, "VALIDATION_ERROR", "q"},
			{"negative minPrice", `{ products(minPrice: "-1") { total } }`, nil, "VALIDATION_ERROR", "minPrice"},
			{"maxPrice not a number", `{ products(maxPrice: "lots") { total } }`, nil, "VALIDATION_ERROR", "maxPrice"},
			{"inStock not a boolean", `query($s: Boolean) { products(inStock: $s) { total } }`, map[string]any{"s": "yes"}, "VALIDATION_ERROR", "s"},
			{"id not a number", `{ product(id: "abc") { id } }`, nil, "VALIDATION_ERROR", "id"},
			{"negative id", `mutation { deleteProduct(id: "-5", expectedVersion: 1) }`, nil, "VALIDATION_ERROR", "id"},
			{"expectedVersion 0", `mutation { deleteProduct(id: "1", expectedVersion: 0) }`, nil, "VALIDATION_ERROR", "expectedVersion"},
			{"unknown query field", `{ nope }`, nil, "VALIDATION_ERROR", ""},
			{"missing selection", `{ products }`, nil, "VALIDATION_ERROR", ""},
			{"malformed query", `{ products { total `, nil, "BAD_REQUEST", ""},
			{"no operation", ``, nil, "VALIDATION_ERROR", ""},
			{"undefined variable", `mutation { createProduct(input: $in) { id } }`, nil, "VALIDATION_ERROR", ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := ts.gql(auth, tc.query, tc.vars)
				if r.Status >= 500 {
					t.Fatalf("status %d: %s", r.Status, r.Body)
				}
				r.refused(t, tc.code, tc.field)
				if strings.Contains(string(r.Body), "gorm") || strings.Contains(string(r.Body), "sql") && !strings.Contains(tc.name, "SQL") {
					t.Fatalf("internal detail in %s", r.Body)
				}
			})
		}

		bodies := []struct {
			name, body, ctype string
			status            int
		}{
			{"malformed JSON", `{"query":`, "application/json", 400},
			{"trailing garbage", `{"query":"{ products { total } }"} x`, "application/json", 400},
			{"variables not an object", `{"query":"{ products { total } }","variables":[1]}`, "application/json", 400},
			{"a batch", `[{"query":"{ products { total } }"},{"query":"{ documents { total } }"}]`, "application/json", 400},
			{"a batch after spaces", "  \n[{\"query\":\"mutation { createProduct(input: {name: \\\"B\\\", price: \\\"1\\\"}) { id } }\"}]", "application/json", 400},
		}
		for _, tc := range bodies {
			t.Run(tc.name, func(t *testing.T) {
				req := httptest.NewRequest("POST", "/api/v1/graphql", strings.NewReader(tc.body))
				req.Header.Set("Content-Type", tc.ctype)
				req.Header.Set("Authorization", token)
				r := decodeGQL(t, ts.request(req))
				if r.Status != tc.status {
					t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
				}
				r.refused(t, "BAD_REQUEST", "")
				if strings.Contains(string(r.Body), "query") && strings.Contains(string(r.Body), "products { total }") {
					t.Fatalf("the body is echoed: %s", r.Body)
				}
			})
		}
		t.Run("not JSON", func(t *testing.T) {
			req := httptest.NewRequest("POST", "/api/v1/graphql", strings.NewReader(`query=%7Bproducts%7Btotal%7D%7D`))
			req.Header.Set("Content-Type", "text/plain")
			req.Header.Set("Authorization", token)
			r := ts.request(req)
			if r.Status < 400 || r.Status >= 500 {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
		})

		// Nothing of the bad input was stored.
		if n := ts.productCount(t); n != 0 {
			t.Fatalf("bad input stored %d products", n)
		}

		t.Run("bad updates change nothing", func(t *testing.T) {
			var p gqlProduct
			ts.gql(auth, `mutation { createProduct(input: {name: "Chair", description: "Oak", price: "10.50", stock: 1}) { `+productFields+` } }`, nil).
				ok(t).field(t, "createProduct", &p)
			const update = `mutation Up($id: ID!, $in: ProductPatch!) { updateProduct(id: $id, expectedVersion: 1, input: $in) { id } }`
			for _, bad := range []map[string]any{
				{"name": ""}, {"name": "a\u0000b"}, {"name": long}, {"price": "-1"}, {"price": "1.001"}, {"stock": -3},
				{"stock": "x"}, {"colour": "red"}, {"description": strings.Repeat("d", 201)},
			} {
				r := ts.gql(auth, update, map[string]any{"id": p.ID, "in": bad})
				if r.code() != "VALIDATION_ERROR" {
					t.Fatalf("%v: %s", bad, r.Body)
				}
			}
			var now gqlProduct
			ts.gql(auth, `query($id: ID!) { product(id: $id) { `+productFields+` } }`, map[string]any{"id": p.ID}).ok(t).field(t, "product", &now)
			if now.Version != 1 || now.Name != "Chair" || now.Price != "10.50" || now.Stock != 1 || now.Description != "Oak" {
				t.Fatalf("a refused update changed the product: %+v", now)
			}
		})
	})
}

// typeRefQuery asks for n nested ofType levels of a type: a query n+1
// fields deep, as GraphiQL's introspection query nests TypeRef.
func typeRefQuery(n int) string {
	return `{ __type(name: "Product") { ` + strings.Repeat("ofType { ", n) + "kind" + strings.Repeat(" }", n) + " } }"
}

// introspectionQuery is the query GraphiQL 4 sends (graphql-js 16's
// getIntrospectionQuery with descriptions): 15 fields deep.
const introspectionQuery = `query IntrospectionQuery {
  __schema {
    queryType { name kind } mutationType { name kind } subscriptionType { name kind }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } } }`

func TestGraphQLLimits(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, func(c *config.Config) { c.MaxRequestSize = 64 << 10 })
		token := ts.staffToken("lim")
		auth := []string{"Authorization", token}

		t.Run("depth", func(t *testing.T) {
			var schema struct {
				Types []struct{ Name string } `json:"types"`
			}
			ts.gql(auth, introspectionQuery, nil).ok(t).field(t, "__schema", &schema)
			if len(schema.Types) < 10 {
				t.Fatalf("introspection: %+v", schema)
			}
			ts.gql(auth, typeRefQuery(13), nil).ok(t) // 15 deep
			r := ts.gql(auth, typeRefQuery(14), nil)
			if r.Status != 422 {
				t.Fatalf("too deep: %d", r.Status)
			}
			r.refused(t, "DEPTH_LIMIT_EXCEEDED", "")
		})

		t.Run("complexity counts page sizes", func(t *testing.T) {
			// 1 + 100 × (8 fields + items + 5 fields) = 1,401 each.
			page := `products(pageSize: 100) { total totalIsEstimate page pageSize hasNext items { ` + productFields + ` } }`
			ts.gql(auth, `{ a: `+page+` b: `+page+` c: `+page+` }`, nil).ok(t)
			r := ts.gql(auth, `{ a: `+page+` b: `+page+` c: `+page+` d: `+page+` }`, nil)
			if r.Status != 422 {
				t.Fatalf("too complex: %d", r.Status)
			}
			if e := r.refused(t, "COMPLEXITY_LIMIT_EXCEEDED", ""); !strings.Contains(e.Message, "limit of 5000") && !strings.Contains(e.Message, "limit is 5000") {
				t.Fatalf("message %q", e.Message)
			}
			// Aliases add up: 17 small lists of 100 are over the limit.
			var many strings.Builder
			many.WriteString("{")
			for i := range 17 {
				fmt.Fprintf(&many, ` p%d: products(pageSize: 100) { items { id name } }`, i)
			}
			many.WriteString("}")
			ts.gql(auth, many.String(), nil).refused(t, "COMPLEXITY_LIMIT_EXCEEDED", "")
			// A search costs its topK: 1 + 50 × 17 = 851 here, six are too many.
			hit := `searchDocuments(query: "x", topK: 50) { chunkId document { ` + documentFields + ` } }`
			ts.gql(auth, `{ a: `+hit+` b: `+hit+` }`, nil).ok(t)
			ts.gql(auth, `{ a: `+hit+` b: `+hit+` c: `+hit+` d: `+hit+` e: `+hit+` f: `+hit+` }`, nil).
				refused(t, "COMPLEXITY_LIMIT_EXCEEDED", "")
		})

		t.Run("query size", func(t *testing.T) {
			q := "{ products { total } }" + strings.Repeat(" ", 16<<10)
			ts.gql(auth, q, nil).refused(t, "QUERY_TOO_LARGE", "")
			// Long values go in variables, which only MAX_REQUEST_SIZE bounds.
			content := strings.Repeat("Long text. ", 3000)
			ts.gql(auth, `mutation($c: String!) { createDocument(input: {title: "Long", content: $c}) { id } }`, map[string]any{"c": content}).ok(t)
			r := ts.do("POST", "/api/v1/graphql", map[string]any{"query": "{ products { total } }", "variables": map[string]any{"pad": strings.Repeat("x", 70<<10)}},
				"Authorization", token)
			assertEnvelope(t, r, 413, "PAYLOAD_TOO_LARGE")
		})

		t.Run("one operation per request", func(t *testing.T) {
			two := `query A { products { total } } query B { documents { total } }`
			ts.gql(auth, two, nil).refused(t, "VALIDATION_ERROR", "")
			r := ts.gqlRaw("POST", map[string]any{"query": two, "operationName": "B"}, auth...).ok(t)
			if _, ok := r.Data["products"]; ok {
				t.Fatalf("ran both: %s", r.Body)
			}
			before := ts.productCount(t)
			r = ts.gqlRaw("POST", `[{"query":"mutation { createProduct(input: {name: \"A\", price: \"1\"}) { id } }"},{"query":"mutation { createProduct(input: {name: \"B\", price: \"1\"}) { id } }"}]`, auth...)
			if r.Status != 400 {
				t.Fatalf("batch: %d %s", r.Status, r.Body)
			}
			r.refused(t, "BAD_REQUEST", "")
			if ts.productCount(t) != before {
				t.Fatal("a refused batch wrote")
			}
		})

		t.Run("GET runs queries only", func(t *testing.T) {
			ts.gqlGet(auth, `query($n: Int) { products(pageSize: $n) { pageSize } }`, map[string]any{"n": 3}).ok(t)
			bad := decodeGQL(t, ts.do("GET", "/api/v1/graphql?query=%7Bproducts%7Btotal%7D%7D&variables=%7Bnope", nil, auth...))
			if bad.Status != 400 {
				t.Fatalf("bad variables: %d %s", bad.Status, bad.Body)
			}
			bad.refused(t, "BAD_REQUEST", "")
			before := ts.productCount(t)
			r := ts.gqlGet(auth, `mutation { createProduct(input: {name: "By GET", price: "1"}) { id } }`, nil)
			r.refused(t, "METHOD_NOT_ALLOWED", "")
			if ts.productCount(t) != before {
				t.Fatal("GET wrote")
			}
		})
	})

	t.Run("introspection off", func(t *testing.T) {
		ts := newTestServer(t, "sqlite", func(c *config.Config) { c.GraphQLIntrospection = false })
		auth := []string{"Authorization", ts.staffToken("intro")}
		ts.gql(auth, introspectionQuery, nil).refused(t, "FORBIDDEN", "")
		ts.gql(auth, `{ __type(name: "Product") { name } }`, nil).refused(t, "FORBIDDEN", "")
		ts.gql(auth, `query { ...F } fragment F on Query { __schema { types { name } } }`, nil).refused(t, "FORBIDDEN", "")
		r := ts.gql(auth, `{ __typename products { total } }`, nil).ok(t)
		if !strings.Contains(string(r.Body), `"__typename":"Query"`) {
			t.Fatalf("%s", r.Body)
		}
	})

	t.Run("rate limits apply", func(t *testing.T) {
		ts := newTestServer(t, "sqlite", func(c *config.Config) {
			c.Prod.RateWrite = config.Rate{N: 2, Window: time.Minute}
			c.Prod.RateRead = config.Rate{N: 100, Window: time.Minute}
		})
		auth := []string{"Authorization", ts.staffToken("busy")}
		for range 2 {
			ts.gql(auth, `{ products { total } }`, nil).ok(t)
		}
		// A POST counts as a write, whatever the operation.
		assertEnvelope(t, ts.do("POST", "/api/v1/graphql", map[string]any{"query": "{ products { total } }"}, auth...), 429, "RATE_LIMITED")
		ts.gqlGet(auth, `{ products { total } }`, nil).ok(t)
	})
}

// TestGraphQLObservability: each operation is logged with its name and
// the request's correlation id, counted by name, and gets a span.
func TestGraphQLObservability(t *testing.T) {
	var mu sync.Mutex
	var batches [][]byte
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		batches = append(batches, b)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collector.Close()
	ts := newTestServer(t, "sqlite", func(c *config.Config) {
		c.Prod.OTLPEndpoint = collector.URL
		c.MetricsToken = "graphql-metrics-token-0123456789"
	})
	auth := []string{"Authorization", ts.staffToken("olga"), web.HeaderCorrelationID, "gql-obs-1"}
	ts.gql(auth, `query FirstProducts { products { total } }`, nil).ok(t)
	ts.gql(auth, `query FirstProducts { products { total } }`, nil).ok(t)
	ts.gql(auth, `mutation AddLamp { createProduct(input: {name: "Lamp", price: "-1"}) { id } }`, nil).refused(t, "VALIDATION_ERROR", "price")
	ts.gql(auth, `query Broken { products { `, nil).refused(t, "BAD_REQUEST", "")
	ts.gql(auth, `{ products { total } }`, nil).ok(t)

	want := map[string]string{"FirstProducts": "ok", "AddLamp": "error", "anonymous": "ok"}
	seen := map[string]bool{}
	for _, l := range ts.logLines() {
		if l["msg"] != "graphql operation" {
			continue
		}
		name, _ := l["operation"].(string)
		if l["correlation_id"] != "gql-obs-1" || l["latency_ms"] == nil {
			t.Fatalf("log line %v", l)
		}
		if outcome, ok := want[name]; ok && l["outcome"] == outcome {
			seen[name] = true
		}
		if name == "AddLamp" && (l["type"] != "mutation" || l["code"] != "VALIDATION_ERROR") {
			t.Fatalf("log line %v", l)
		}
		if name == "invalid" || l["outcome"] == "refused" && l["code"] != "BAD_REQUEST" {
			t.Fatalf("log line %v", l)
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("logged %v of %v:\n%s", seen, want, ts.logs.String())
	}

	m := ts.do("GET", "/metrics", nil, "Authorization", "Bearer graphql-metrics-token-0123456789")
	for _, line := range []string{
		`tienda_graphql_operations_total{operation="FirstProducts",outcome="ok",type="query"} 2`,
		`tienda_graphql_operations_total{operation="AddLamp",outcome="error",type="mutation"} 1`,
		`tienda_graphql_operations_total{operation="anonymous",outcome="ok",type="query"} 1`,
		`tienda_graphql_operations_total{operation="anonymous",outcome="refused",type="unknown"} 1`,
	} {
		if !contains(m.Body, line) {
			t.Fatalf("metrics lack %s:\n%s", line, grepLines(m.Body, "tienda_graphql"))
		}
	}

	ts.srv.tracing.Shutdown(ts.srv.log) // flush
	ok := eventually(t, 5*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		all := bytes.Join(batches, nil)
		return bytes.Contains(all, []byte("graphql query FirstProducts")) && bytes.Contains(all, []byte("graphql mutation AddLamp")) &&
			bytes.Contains(all, []byte("graphql.operation.name")) && bytes.Contains(all, []byte("db.query"))
	})
	if !ok {
		t.Fatalf("operation spans not exported (%d batches)", len(batches))
	}
}

func grepLines(b []byte, s string) string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestGraphiQLPageIsOfflineAndLinked: the page loads only this server's
// files (no inline script or style) under the page CSP with a nonce, and
// the API docs link to it.
func TestGraphiQLPageIsOfflineAndLinked(t *testing.T) {
	ts := newTestServer(t, "sqlite")
	r := ts.do("GET", "/api/graphiql", nil)
	if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("graphiql: %d %s", r.Status, r.Header.Get("Content-Type"))
	}
	csp := r.Header.Get("Content-Security-Policy")
	page := string(r.Body)
	if !strings.Contains(csp, "script-src 'self' 'nonce-") || strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Fatalf("CSP %q", csp)
	}
	nonce := csp[strings.Index(csp, "'nonce-")+7:]
	nonce = nonce[:strings.Index(nonce, "'")]
	if strings.Count(page, `nonce="`+nonce+`"`) != 4 || strings.Count(page, "<script src=") != strings.Count(page, "<script") {
		t.Fatalf("scripts without the nonce, or inline:\n%s", page)
	}
	if strings.Contains(page, "http://") || strings.Contains(page, "https://") || strings.Contains(page, "<style") || strings.Contains(page, "style=") {
		t.Fatalf("page loads from elsewhere or has inline style:\n%s", page)
	}
	for _, f := range []string{"/static/vendor/graphiql@4.1.2/graphiql.min.js", "/static/vendor/graphiql@4.1.2/graphiql.min.css",
		"/static/vendor/react@18.3.1/react.production.min.js", "/static/vendor/react-dom@18.3.1/react-dom.production.min.js",
		"/static/js/graphiql.js", "/static/css/graphiql.css"} {
		if !strings.Contains(page, f) {
			t.Fatalf("page does not load %s", f)
		}
		if r := ts.do("GET", f, nil); r.Status != 200 || len(r.Body) == 0 {
			t.Fatalf("%s: %d", f, r.Status)
		}
	}
	for _, v := range []string{"graphiql@4.1.2", "react@18.3.1", "react-dom@18.3.1"} {
		if b, err := os.ReadFile("../static/vendor/" + v + "/VENDOR.md"); err != nil || !strings.Contains(string(b), "sha256") {
			t.Fatalf("%s/VENDOR.md: %v", v, err)
		}
	}
	docs := ts.do("GET", "/api/docs", nil)
	if !strings.Contains(string(docs.Body), `href="/api/graphiql"`) {
		t.Fatalf("/api/docs does not link to GraphiQL")
	}
}
