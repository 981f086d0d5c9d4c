// Package graphql serves Tienda's GraphQL API (/api/v1/graphql) and its
// GraphiQL page (/api/graphiql): a second face of the REST API over the
// same store, validation, list rules, version checks and permissions.
// The schema (schema.graphqls) comes first; gqlgen generates the executable
// schema from it (generated.go, models_gen.go: `make generate`), and the
// resolvers (resolvers.go) call the same functions as app/api.
//
// The endpoint is mounted on the authenticated API group, so the request
// size limit, deadline, authentication and rate limits of REST apply. It
// adds the limits a query language needs: query size, depth and
// complexity (page sizes count), introspection that can be switched off,
// and one operation per request (no batches).
package graphql

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	gql "github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/vektah/gqlparser/v2/ast"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"tienda/app/chat"
	"tienda/app/obs"
	"tienda/app/web"
	"tienda/models"
)

// Path is where the endpoint is mounted.
const Path = "/api/v1/graphql"

// Default limits (Options leaves them 0).
const (
	// DefaultMaxQueryBytes bounds the query text (variables are bounded by
	// MAX_REQUEST_SIZE): long values such as document content belong in
	// variables.
	DefaultMaxQueryBytes = 16 << 10
	// DefaultMaxDepth bounds the nesting of fields. Nothing in Tienda's
	// own schema goes deeper than 4; GraphiQL's introspection query is 15
	// deep (its TypeRef fragment nests ofType nine times).
	DefaultMaxDepth = 15
	// DefaultMaxComplexity bounds the work of one operation: every field
	// counts 1, and a list counts its children once per item it may return
	// (pageSize, topK). A page of 100 products with every field costs
	// 1,401; a page of 100 documents with their index state 2,101.
	DefaultMaxComplexity = 5000
)

// Options configure the endpoint.
type Options struct {
	Store     *models.Store
	Retriever *chat.Retriever
	Metrics   *obs.Metrics
	// Tracer makes a span per operation (nil: none).
	Tracer trace.Tracer
	Log    *slog.Logger
	// Introspection answers __schema and __type (GRAPHQL_INTROSPECTION).
	Introspection bool
	// Timeout is the deadline of an operation that does not wait for the
	// language model (REQUEST_TIMEOUT). The route's own deadline is the
	// longer one of the search endpoint, which bounds searchDocuments.
	Timeout time.Duration
	// Limits; 0 takes the default.
	MaxQueryBytes, MaxDepth, MaxComplexity int
}

// Handler serves the endpoint and the GraphiQL page.
type Handler struct {
	opts   Options
	schema gql.ExecutableSchema
	srv    *handler.Server
	http   fiber.Handler
}

// New builds the endpoint.
func New(o Options) *Handler {
	if o.MaxQueryBytes <= 0 {
		o.MaxQueryBytes = DefaultMaxQueryBytes
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = DefaultMaxDepth
	}
	if o.MaxComplexity <= 0 {
		o.MaxComplexity = DefaultMaxComplexity
	}
	if o.Tracer == nil {
		o.Tracer = noop.NewTracerProvider().Tracer("tienda/graphql")
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	h := &Handler{opts: o}
	cfg := Config{Resolvers: &resolver{store: o.Store, retriever: o.Retriever}}
	setComplexity(&cfg.Complexity)
	h.schema = NewExecutableSchema(cfg)

	srv := handler.New(h.schema)
	// Queries by GET (never mutations: see limits), everything by POST.
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	// Parsed and validated documents, keyed by the query text (not answers).
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.SetErrorPresenter(h.present)
	srv.SetRecoverFunc(h.recovered)
	srv.Use(limits{h})
	srv.Use(observe{h})
	h.srv = srv
	h.http = adaptor.HTTPHandler(http.HandlerFunc(h.serveHTTP))
	return h
}

// request is what an operation knows of its HTTP request. The principal is
// a copy: nothing of Fiber's request outlives the handler.
type request struct {
	principal     web.Principal
	correlationID string
	method        string
}

type (
	requestKey struct{}
	// contextLocal carries the request's context from Fiber's handler to
	// the net/http one (a fasthttp user value, which the adaptor's context
	// exposes).
	contextLocal struct{}
)

func requestFrom(ctx context.Context) *request {
	r, _ := ctx.Value(requestKey{}).(*request)
	return r
}

func principalFrom(ctx context.Context) *web.Principal {
	if r := requestFrom(ctx); r != nil {
		return &r.principal
	}
	return nil
}

// Serve answers GET and POST /api/v1/graphql through gqlgen's net/http
// handler, with the Fiber request's context: its deadline, logger and
// principal.
func (h *Handler) Serve(c *fiber.Ctx) error {
	p := web.PrincipalOf(c)
	if p == nil {
		return web.Unauthorized("")
	}
	if c.Method() == fiber.MethodPost {
		body := bytes.TrimSpace(c.Body())
		if bytes.HasPrefix(body, []byte("[")) {
			return h.refuse(c, fiber.StatusBadRequest, web.CodeBadRequest,
				"Batches are not accepted: send one operation per request, as one JSON object {query, variables, operationName}.")
		}
		if !json.Valid(body) {
			return h.refuse(c, fiber.StatusBadRequest, web.CodeBadRequest, "The request body is not valid JSON.")
		}
	}
	if c.Method() == fiber.MethodGet {
		if v := c.Query("variables"); v != "" && !json.Valid([]byte(v)) {
			return h.refuse(c, fiber.StatusBadRequest, web.CodeBadRequest, "The variables are not valid JSON.")
		}
	}
	req := &request{principal: *p, correlationID: web.CorrelationID(c), method: c.Method()}
	c.Locals(contextLocal{}, context.WithValue(c.UserContext(), requestKey{}, req))
	c.Set(fiber.HeaderCacheControl, "no-store")
	return h.http(c)
}

func (h *Handler) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if ctx, ok := r.Context().Value(contextLocal{}).(context.Context); ok {
		r = r.WithContext(ctx)
	}
	h.srv.ServeHTTP(w, r)
}

// refuse answers with a GraphQL error response before any operation runs.
func (h *Handler) refuse(c *fiber.Ctx, status int, code, msg string) error {
	return c.Status(status).JSON(fiber.Map{"errors": []fiber.Map{{
		"message":    msg,
		"extensions": fiber.Map{"code": code, "correlationId": web.CorrelationID(c)},
	}}})
}
