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
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	gql "github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/executor"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/gofiber/fiber/v2"
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
	exec   *executor.Executor
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

	// gqlgen's executor, driven from the Fiber handler itself: its net/http
	// server and transports would cost a conversion of every request and
	// response through the adaptor, and a second JSON pass over the answer.
	exec := executor.New(h.schema)
	// Parsed and validated documents, keyed by the query text (not answers).
	exec.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	exec.SetErrorPresenter(h.present)
	exec.SetRecoverFunc(h.recovered)
	exec.Use(limits{h})
	exec.Use(observe{h})
	h.exec = exec
	return h
}

// request is what an operation knows of its HTTP request. The principal is
// a copy: nothing of Fiber's request outlives the handler.
type request struct {
	principal     web.Principal
	correlationID string
	method        string
	// retrieval registers the "retrieval" extension of the first search.
	retrieval sync.Once
}

type requestKey struct{}

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

// Serve answers GET (queries only) and POST /api/v1/graphql with the
// request's context: its deadline, logger and principal. It reads the
// request as gqlgen's GET and POST transports do, with the same statuses.
func (h *Handler) Serve(c *fiber.Ctx) error {
	p := web.PrincipalOf(c)
	if p == nil {
		return web.Unauthorized("")
	}
	params := &gql.RawParams{}
	params.ReadTime.Start = gql.Now()
	switch c.Method() {
	case fiber.MethodPost:
		if err := web.RequireJSON(c); err != nil {
			return h.refuse(c, fiber.StatusUnsupportedMediaType, web.CodeUnsupportedMedia, "Content-Type must be application/json.")
		}
		body := bytes.TrimSpace(c.Body())
		if bytes.HasPrefix(body, []byte("[")) {
			return h.refuse(c, fiber.StatusBadRequest, web.CodeBadRequest,
				"Batches are not accepted: send one operation per request, as one JSON object {query, variables, operationName}.")
		}
		if !json.Valid(body) || jsonDecode(body, params) != nil {
			return h.refuse(c, fiber.StatusBadRequest, web.CodeBadRequest, "The request body is not valid JSON.")
		}
	default: // GET
		params.Query, params.OperationName = c.Query("query"), c.Query("operationName")
		if v := c.Query("variables"); v != "" {
			if !json.Valid([]byte(v)) || jsonDecode([]byte(v), &params.Variables) != nil {
				return h.refuse(c, fiber.StatusBadRequest, web.CodeBadRequest, "The variables are not valid JSON.")
			}
		}
		if v := c.Query("extensions"); v != "" {
			if jsonDecode([]byte(v), &params.Extensions) != nil {
				return h.refuse(c, fiber.StatusBadRequest, web.CodeBadRequest, "The extensions are not valid JSON.")
			}
		}
	}
	params.ReadTime.End = gql.Now()
	req := &request{principal: *p, correlationID: web.CorrelationID(c), method: c.Method()}
	ctx := gql.StartOperationTrace(context.WithValue(c.UserContext(), requestKey{}, req))
	c.Set(fiber.HeaderCacheControl, "no-store")

	rc, opErr := h.exec.CreateOperationContext(ctx, params)
	if opErr != nil {
		status := fiber.StatusOK
		if errcode.GetErrorKind(opErr) == errcode.KindProtocol {
			status = fiber.StatusUnprocessableEntity
		}
		return h.write(c, status, h.exec.DispatchError(gql.WithOperationContext(ctx, rc), opErr))
	}
	responses, ctx := h.exec.DispatchOperation(ctx, rc)
	return h.write(c, fiber.StatusOK, responses(ctx))
}

// jsonDecode reads JSON as gqlgen's transports do (numbers kept exact).
func jsonDecode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}

// write sends a response. The data is JSON the executor has already
// written; an answer without errors or extensions is sent as it is,
// rather than through a second pass of encoding/json over it.
func (h *Handler) write(c *fiber.Ctx, status int, resp *gql.Response) error {
	c.Status(status)
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	if len(resp.Errors) == 0 && len(resp.Extensions) == 0 && resp.Label == "" && resp.Path == nil && resp.HasNext == nil && len(resp.Data) > 0 {
		w := c.Response().BodyWriter()
		_, _ = io.WriteString(w, `{"data":`)
		_, _ = w.Write(resp.Data)
		_, err := io.WriteString(w, `}`)
		return err
	}
	b, err := json.Marshal(resp)
	if err != nil {
		return fmt.Errorf("graphql response: %w", err)
	}
	return c.Send(b)
}

// refuse answers with a GraphQL error response before any operation runs.
func (h *Handler) refuse(c *fiber.Ctx, status int, code, msg string) error {
	return c.Status(status).JSON(fiber.Map{"errors": []fiber.Map{{
		"message":    msg,
		"extensions": fiber.Map{"code": code, "correlationId": web.CorrelationID(c)},
	}}})
}
