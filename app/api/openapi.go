package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/swaggest/jsonschema-go"
	"github.com/swaggest/openapi-go"
	"github.com/swaggest/openapi-go/openapi31"

	"tienda/app/auth"
	"tienda/app/chat"
	"tienda/app/web"
	"tienda/models"
)

// The OpenAPI 3.1 document is reflected from the Go types the handlers
// decode and encode, and its constraints from the same `validate` tags
// the validator enforces (models.Rules parses them, as for the admin's
// HTML attributes). Routes are listed once more here (apiOps) because
// Fiber handlers carry no types; TestOpenAPICoversEveryRoute fails when
// the two lists disagree.

// Security scheme names.
const (
	SecBearer  = "bearerAuth"
	SecAPIKey  = "apiKeyAuth"
	SecMetrics = "metricsToken"
)

// Request shapes that exist only for the document: parameters the
// handlers read with c.Query, c.Params and c.Get.
type (
	idParam struct {
		ID int64 `path:"id" validate:"required,min=1" description:"Record id."`
	}
	listParams struct {
		Page     int    `query:"page" validate:"omitempty,min=1,max=1000000" description:"Page number, from 1."`
		PageSize int    `query:"page_size" validate:"omitempty,min=1,max=100" description:"Items per page (default 20)."`
		Sort     string `query:"sort" description:"A sortable field; prefix - for descending."`
		Q        string `query:"q" validate:"omitempty,max=200" description:"Text search: every word must occur in a searched field (case and accents ignored)."`
		After    string `query:"after" description:"A page's next_after: the page after it, as fast however deep (instead of page; the answer's page is then 0)."`
	}
	productListParams struct {
		listParams
		MinPrice string `query:"min_price" description:"Lowest price (decimal, 2 places at most)."`
		MaxPrice string `query:"max_price" description:"Highest price (decimal, 2 places at most)."`
		InStock  *bool  `query:"in_stock" description:"Only products in stock (true) or out of stock (false)."`
	}
	getParams struct {
		idParam
		IfNoneMatch string `header:"If-None-Match" description:"ETag the client has; 304 when unchanged."`
	}
	writeParams struct {
		idParam
		IfMatch string `header:"If-Match" description:"ETag (version) the change is based on, or *; required (428 without it) unless REQUIRE_IF_MATCH=false; 412 when stale."`
	}
	productWrite struct {
		writeParams
		models.Product
	}
	documentWrite struct {
		writeParams
		models.Document
	}
	tokenRequest struct {
		Username string `json:"username" validate:"required,max=150"`
		Password string `json:"password" validate:"required,max=1024"`
	}
	refreshRequest struct {
		RefreshToken string `json:"refresh_token" validate:"required"`
	}
	statusBody struct {
		Status  string `json:"status" validate:"required" description:"ok, ready or unavailable"`
		Reason  string `json:"reason,omitempty"`
		Pending int    `json:"pending,omitempty"`
		Redis   string `json:"redis,omitempty" enum:"ok,degraded" description:"With REDIS_URL set: ok, or degraded while Redis is unavailable and the database and memory serve in its place (still 200: Redis is optional)."`
	}
	etagHeader struct {
		ETag string `header:"ETag" description:"The record's version."`
	}
	createdHeaders struct {
		ETag     string `header:"ETag" description:"The record's version."`
		Location string `header:"Location" description:"URL of the new record."`
	}
	retryHeaders struct {
		RetryAfter int `header:"Retry-After" description:"Seconds to wait."`
	}
	openAPIDoc  map[string]any
	metricsText string
	htmlPage    string
)

// GraphQL over HTTP (app/graphql): one operation per request; its own
// schema documents the operations (introspection, GraphiQL).
type (
	graphqlRequest struct {
		Query         string         `json:"query" validate:"required,max=16384" description:"A GraphQL document: one operation, or several and operationName."`
		Variables     map[string]any `json:"variables,omitempty" description:"The operation's variables (long values belong here)."`
		OperationName string         `json:"operationName,omitempty" description:"The operation of the document to run."`
	}
	graphqlQuery struct {
		Query         string `query:"query" validate:"required,max=16384" description:"A GraphQL document whose operation is a query."`
		Variables     string `query:"variables" description:"The variables, as a JSON object."`
		OperationName string `query:"operationName" description:"The operation of the document to run."`
	}
	graphqlResponse struct {
		Data   map[string]any `json:"data,omitempty" description:"The result; null or partial when errors occurred."`
		Errors []graphqlError `json:"errors,omitempty"`
	}
	graphqlError struct {
		Message    string                 `json:"message" validate:"required"`
		Path       []any                  `json:"path,omitempty"`
		Extensions graphqlErrorExtensions `json:"extensions"`
	}
	graphqlErrorExtensions struct {
		Code           string            `json:"code" validate:"required" description:"The REST API's error code (VALIDATION_ERROR, NOT_FOUND, PRECONDITION_FAILED, FORBIDDEN...), or a GraphQL limit (QUERY_TOO_LARGE, DEPTH_LIMIT_EXCEEDED, COMPLEXITY_LIMIT_EXCEEDED)."`
		Fields         map[string]string `json:"fields,omitempty" description:"Invalid inputs by GraphQL name."`
		Detail         string            `json:"detail,omitempty"`
		CurrentVersion int64             `json:"currentVersion,omitempty" description:"With PRECONDITION_FAILED: the record's version now."`
		CorrelationID  string            `json:"correlationId,omitempty"`
	}
)

// apiOp is one documented route.
type apiOp struct {
	method, path string // Fiber syntax (:id)
	tag, summary string
	security     []string // any of them authenticates
	req          any
	resp         any
	status       int
	respType     string // content type when not JSON
	errors       []int
	headers      any // success response headers
}

var (
	readErrors  = []int{400, 401, 403, 404, 422, 429, 503}
	writeErrors = []int{400, 401, 403, 404, 409, 412, 413, 415, 422, 428, 429, 503}
	anyAuth     = []string{SecBearer, SecAPIKey}
	chatErrors  = []int{400, 401, 403, 413, 415, 422, 429, 502, 503, 504}
)

// apiOps lists every route of routes.go but "/" (a redirect to the admin)
// and /static (files).
func apiOps() []apiOp {
	ops := []apiOp{
		{method: "GET", path: "/health", tag: "operations", summary: "The process is alive.", resp: statusBody{}, status: 200},
		{method: "GET", path: "/ready", tag: "operations", summary: "The database answers and migrations are applied (else 503).",
			resp: statusBody{}, status: 200, errors: []int{503}},
		{method: "GET", path: "/metrics", tag: "operations", summary: "Prometheus metrics (METRICS_TOKEN, or on METRICS_ADDR).",
			security: []string{SecMetrics}, resp: metricsText(""), status: 200, respType: "text/plain", errors: []int{401, 404}},
		{method: "GET", path: "/api/v1/openapi.json", tag: "operations", summary: "This document.", resp: openAPIDoc{}, status: 200, errors: []int{429}},
		{method: "GET", path: "/api/docs", tag: "operations", summary: "Interactive API documentation (Swagger UI).",
			resp: htmlPage(""), status: 200, respType: "text/html", errors: []int{429}},
		{method: "GET", path: "/api/graphiql", tag: "graphql", summary: "GraphiQL, the in-browser IDE of the GraphQL API.",
			resp: htmlPage(""), status: 200, respType: "text/html", errors: []int{429}},
		{method: "POST", path: "/api/v1/graphql", tag: "graphql", summary: "Run a GraphQL query or mutation (errors in the body; " +
			"a request that does not parse, validate or fit the limits answers 400 or 422 with a GraphQL errors body).",
			security: anyAuth, req: graphqlRequest{}, resp: graphqlResponse{}, status: 200, errors: []int{401, 413, 429}},
		{method: "GET", path: "/api/v1/graphql", tag: "graphql", summary: "Run a GraphQL query (not a mutation) given in the query string.",
			security: anyAuth, req: graphqlQuery{}, resp: graphqlResponse{}, status: 200, errors: []int{401, 429}},
		{method: "POST", path: "/api/v1/auth/token", tag: "auth", summary: "Sign in: username and password for an access and a refresh token.",
			req: tokenRequest{}, resp: auth.TokenPair{}, status: 200, errors: []int{400, 401, 413, 415, 422, 429}},
		{method: "POST", path: "/api/v1/auth/refresh", tag: "auth", summary: "Rotate a refresh token (a reused one revokes its family).",
			req: refreshRequest{}, resp: auth.TokenPair{}, status: 200, errors: []int{400, 401, 413, 415, 422, 429}},
		{method: "POST", path: "/api/v1/auth/logout", tag: "auth", summary: "Revoke the refresh token's family.",
			req: refreshRequest{}, status: 204, errors: []int{400, 401, 413, 415, 422, 429}},
		{method: "GET", path: "/api/v1/api-keys", tag: "api-keys", summary: "List your API keys (never the keys themselves).",
			security: []string{SecBearer}, resp: auth.APIKeyList{}, status: 200, errors: []int{401, 403, 429}},
		{method: "POST", path: "/api/v1/api-keys", tag: "api-keys", summary: "Create an API key; the key is shown only in this answer.",
			security: []string{SecBearer}, req: auth.APIKeyInput{}, resp: auth.APIKeyCreated{}, status: 201, errors: []int{400, 401, 403, 413, 415, 422, 429}},
		{method: "DELETE", path: "/api/v1/api-keys/:id", tag: "api-keys", summary: "Revoke one of your API keys.",
			security: []string{SecBearer}, req: idParam{}, status: 204, errors: []int{401, 403, 404, 429}},
	}
	ops = append(ops,
		apiOp{method: "POST", path: "/api/v1/documents/search", tag: "knowledge", summary: "Search the documents' chunks (keyword, semantic or hybrid).",
			security: anyAuth, req: searchRequestBody{}, resp: searchResults{}, status: 200, errors: chatErrors},
		apiOp{method: "POST", path: "/api/v1/embeddings", tag: "knowledge", summary: "Embed text (OpenAI's embeddings shape).",
			security: anyAuth, req: embeddingsRequestBody{}, resp: embeddingList{}, status: 200, errors: chatErrors},
		apiOp{method: "POST", path: "/api/v1/chat", tag: "chat", summary: "Answer a question from the documents, citing its sources.",
			security: anyAuth, req: chatRequestBody{}, resp: chatAnswer{}, status: 200, errors: chatErrors},
		apiOp{method: "POST", path: "/api/v1/chat/stream", tag: "chat", summary: "The same answer as Server-Sent Events: sources, token… then done or error.",
			security: anyAuth, req: chatRequestBody{}, resp: sseStream(""), status: 200, respType: "text/event-stream", errors: chatErrors},
		apiOp{method: "GET", path: "/api/v1/chat/models", tag: "chat", summary: "Models the chat can use, and the default.",
			security: anyAuth, resp: chatModels{}, status: 200, errors: []int{401, 403, 429}},
	)
	ops = append(ops, resourceOps("products", "Product", productListParams{}, models.Page[models.Product]{}, models.Product{}, productWrite{})...)
	ops = append(ops, resourceOps("documents", "Document", listParams{}, models.Page[models.Document]{}, models.Document{}, documentWrite{})...)
	return ops
}

func resourceOps(slug, title string, list, page, rec, write any) []apiOp {
	base := "/api/v1/" + slug
	return []apiOp{
		{method: "GET", path: base, tag: slug, summary: "List " + slug + ".", security: anyAuth, req: list, resp: page, status: 200, errors: readErrors},
		{method: "POST", path: base, tag: slug, summary: "Create a " + strings.ToLower(title) + ".", security: anyAuth, req: rec, resp: rec,
			status: 201, errors: writeErrors, headers: createdHeaders{}},
		{method: "GET", path: base + "/:id", tag: slug, summary: "Get a " + strings.ToLower(title) + " (304 with If-None-Match).",
			security: anyAuth, req: getParams{}, resp: rec, status: 200, errors: readErrors, headers: etagHeader{}},
		{method: "PUT", path: base + "/:id", tag: slug, summary: "Replace a " + strings.ToLower(title) + ".", security: anyAuth,
			req: write, resp: rec, status: 200, errors: writeErrors, headers: etagHeader{}},
		{method: "PATCH", path: base + "/:id", tag: slug, summary: "Change some fields of a " + strings.ToLower(title) + " (any subset of the body).",
			security: anyAuth, req: write, resp: rec, status: 200, errors: writeErrors, headers: etagHeader{}},
		{method: "DELETE", path: base + "/:id", tag: slug, summary: "Delete a " + strings.ToLower(title) + ".", security: anyAuth,
			req: writeParams{}, status: 204, errors: []int{401, 403, 404, 412, 428, 429, 503}},
	}
}

var fiberParam = regexp.MustCompile(`:([a-zA-Z_]+)`)

// OpenAPIPath turns Fiber's /x/:id into OpenAPI's /x/{id}.
func OpenAPIPath(p string) string { return fiberParam.ReplaceAllString(p, "{$1}") }

// BuildOpenAPI reflects the document.
func BuildOpenAPI() ([]byte, error) {
	r := openapi31.NewReflector()
	r.Spec.SetTitle("Tienda API")
	r.Spec.SetVersion("1.0.0")
	r.Spec.SetDescription("The shop back office's REST API. Errors use one JSON envelope (Error). " +
		"Every response carries X-Correlation-ID; rate-limited routes carry RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset and RateLimit-Policy. " +
		"Conditional writes: PUT, PATCH and DELETE of a record need If-Match with its ETag (a strong comparison; * matches any version); " +
		"without it the answer is 428 PRECONDITION_REQUIRED with the current ETag (unless the server runs with REQUIRE_IF_MATCH=false), " +
		"a stale one is 412 PRECONDITION_FAILED. PUT replaces every writable field, and each must be sent; PATCH changes those sent. " +
		"While the database is unreachable or too slow every route that needs it answers 503 SERVICE_UNAVAILABLE with Retry-After.")
	r.Spec.SetHTTPBearerTokenSecurity(SecBearer, "JWT", "Access token from POST /api/v1/auth/token.")
	r.Spec.SetAPIKeySecurity(SecAPIKey, web.HeaderAPIKey, openapi.InHeader, "API key created with POST /api/v1/api-keys, "+
		"acting as its owner within its scope. read-only: every request that changes no data - lists, details, "+
		"POST /api/v1/documents/search, /api/v1/chat, /api/v1/chat/stream, /api/v1/embeddings. read-write: also "+
		"create, change and delete. An API key cannot manage API keys; an expired or revoked key is a 401.")
	r.Spec.SetHTTPBearerTokenSecurity(SecMetrics, "", "METRICS_TOKEN.")
	jr := r.JSONSchemaReflector()
	jr.DefaultOptions = append(jr.DefaultOptions,
		jsonschema.InterceptDefName(schemaName),
		jsonschema.InterceptSchema(moneySchema),
		jsonschema.InterceptProp(validateRules),
	)
	for _, op := range apiOps() {
		if err := addOp(r, op); err != nil {
			return nil, fmt.Errorf("openapi %s %s: %w", op.method, op.path, err)
		}
	}
	b, err := r.Spec.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	return finishSpec(b)
}

// finishSpec adds what the reflector leaves out: the server (this host)
// and an explicit empty security list on public operations, which says
// "no authentication" (an absent list would mean "unspecified").
func finishSpec(b []byte) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	doc["servers"] = []any{map[string]any{"url": "/", "description": "This server"}}
	paths, _ := doc["paths"].(map[string]any)
	for _, item := range paths {
		ops, _ := item.(map[string]any)
		for _, op := range ops {
			if o, ok := op.(map[string]any); ok && o["security"] == nil {
				o["security"] = []any{}
			}
		}
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	return out, nil
}

func addOp(r *openapi31.Reflector, op apiOp) error {
	oc, err := r.NewOperationContext(op.method, OpenAPIPath(op.path))
	if err != nil {
		return err
	}
	oc.SetTags(op.tag)
	oc.SetSummary(op.summary)
	oc.SetID(operationID(op))
	for _, s := range op.security {
		oc.AddSecurity(s)
	}
	if op.req != nil {
		oc.AddReqStructure(op.req)
	}
	opts := []openapi.ContentOption{openapi.WithHTTPStatus(op.status)}
	if op.respType != "" {
		opts = append(opts, openapi.WithContentType(op.respType))
	}
	if op.resp != nil {
		oc.AddRespStructure(op.resp, opts...)
	} else {
		oc.AddRespStructure(nil, opts...)
	}
	if op.headers != nil {
		oc.AddRespStructure(op.headers, openapi.WithHTTPStatus(op.status))
	}
	if op.method == "GET" && strings.Contains(op.path, ":id") {
		oc.AddRespStructure(nil, openapi.WithHTTPStatus(http.StatusNotModified))
	}
	for _, code := range op.errors {
		oc.AddRespStructure(web.Error{}, openapi.WithHTTPStatus(code))
		if code == 429 {
			oc.AddRespStructure(retryHeaders{}, openapi.WithHTTPStatus(code))
		}
	}
	return r.AddOperation(oc)
}

func operationID(op apiOp) string {
	parts := []string{strings.ToLower(op.method)}
	for _, seg := range strings.Split(strings.Trim(op.path, "/"), "/") {
		switch {
		case seg == "api" || seg == "v1":
		case strings.HasPrefix(seg, ":"):
			parts = append(parts, "by", seg[1:])
		default:
			parts = append(parts, strings.NewReplacer("-", "_", ".", "_").Replace(seg))
		}
	}
	return strings.Join(parts, "_")
}

var moneyType = reflect.TypeOf(models.Money{})

// schemaName names a component after its Go type alone, so that the
// document's names do not change when code moves between packages:
// models.Product is "Product", models.Page[models.Product] "ProductPage",
// web.Error "Error", chat.Source (a search hit) "SearchResult".
func schemaName(t reflect.Type, def string) string {
	if t == reflect.TypeOf(chat.Source{}) {
		return "SearchResult"
	}
	name := t.Name()
	if open := strings.IndexByte(name, '['); open > 0 {
		inner := strings.TrimSuffix(name[open+1:], "]")
		inner = inner[strings.LastIndexByte(inner, '.')+1:]
		name = inner + name[:open]
	}
	if name == "" {
		return def
	}
	return strings.ToUpper(name[:1]) + name[1:]
}

// moneySchema: Money is a decimal with at most 2 places, answered as a
// JSON number and accepted as a number or a string.
func moneySchema(p jsonschema.InterceptSchemaParams) (bool, error) {
	if p.Processed || p.Value.Type() != moneyType {
		return false, nil
	}
	*p.Schema = jsonschema.Schema{}
	p.Schema.Type = &jsonschema.Type{SliceOfSimpleTypeValues: []jsonschema.SimpleType{jsonschema.Number, jsonschema.String}}
	p.Schema.WithPattern(`^-?[0-9]+(\.[0-9]{1,2})?$`).
		WithDescription("Decimal amount with at most 2 decimal places (exact; never a float in storage).").
		WithExamples("19.99")
	return true, nil
}

// validateRules maps a field's `validate` rules onto its schema.
func validateRules(p jsonschema.InterceptPropParams) error {
	if !p.Processed || p.PropertySchema == nil {
		return nil
	}
	s := p.PropertySchema
	if web.ReadOnly[p.Name] && p.Field.Tag.Get("json") != "" {
		s.WithReadOnly(true)
	}
	isString := s.HasType(jsonschema.String) && !s.HasType(jsonschema.Number)
	// Money is a $ref to its own schema; JSON Schema 2020-12 allows the
	// bounds beside the $ref.
	isNumber := s.HasType(jsonschema.Integer) || s.HasType(jsonschema.Number) || p.Field.Type == moneyType
	for _, rule := range models.Rules(p.Field) {
		n, numErr := strconv.ParseFloat(rule.Param, 64)
		switch rule.Tag {
		case "required":
			if p.ParentSchema != nil && !slices.Contains(p.ParentSchema.Required, p.Name) {
				p.ParentSchema.Required = append(p.ParentSchema.Required, p.Name)
			}
		case "min", "gte", "max", "lte":
			if numErr != nil {
				continue
			}
			lower := rule.Tag == "min" || rule.Tag == "gte"
			switch {
			case isString && lower:
				s.WithMinLength(int64(n))
			case isString:
				s.WithMaxLength(int64(n))
			case isNumber && lower:
				s.WithMinimum(n)
			case isNumber:
				s.WithMaximum(n)
			}
		case "gt":
			if isNumber && numErr == nil {
				s.WithExclusiveMinimum(n)
			}
		case "lt":
			if isNumber && numErr == nil {
				s.WithExclusiveMaximum(n)
			}
		case "oneof":
			var vals []any
			for _, v := range strings.Fields(rule.Param) {
				vals = append(vals, v)
			}
			s.WithEnum(vals...)
		case "email":
			s.WithFormat("email")
		case "url":
			s.WithFormat("uri")
		case "singleline":
			s.WithPattern(`^[^\x00-\x1f\x7f]*$`)
		case "text":
			s.WithPattern(`^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$`)
		}
	}
	return nil
}

// OpenAPIDoc serves the document built at start-up.
func (o *Ops) OpenAPIDoc(c *fiber.Ctx) error {
	o.openapi.once.Do(func() { o.openapi.doc, o.openapi.err = BuildOpenAPI() })
	if o.openapi.err != nil {
		return fmt.Errorf("openapi document: %w", o.openapi.err)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	return c.Send(o.openapi.doc)
}
