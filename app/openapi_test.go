package app

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"tienda/app/api"
	"tienda/app/config"
)

// specDoc is the part of the OpenAPI document the tests read.
type specDoc struct {
	OpenAPI    string                              `json:"openapi"`
	Paths      map[string]map[string]specOperation `json:"paths"`
	Components struct {
		Schemas         map[string]map[string]any `json:"schemas"`
		SecuritySchemes map[string]any            `json:"securitySchemes"`
	} `json:"components"`
}

type specOperation struct {
	Responses map[string]struct {
		Content map[string]struct {
			Schema map[string]any `json:"schema"`
		} `json:"content"`
	} `json:"responses"`
	Parameters []struct {
		Name     string         `json:"name"`
		In       string         `json:"in"`
		Required bool           `json:"required"`
		Schema   map[string]any `json:"schema"`
	} `json:"parameters"`
	RequestBody *struct {
		Content map[string]struct {
			Schema map[string]any `json:"schema"`
		} `json:"content"`
	} `json:"requestBody"`
}

func loadSpec(t *testing.T, ts *testServer) *specDoc {
	t.Helper()
	r := ts.do("GET", "/api/v1/openapi.json", nil)
	if r.Status != 200 {
		t.Fatalf("openapi.json: %d %s", r.Status, r.Body)
	}
	var d specDoc
	r.JSON(t, &d)
	return &d
}

// TestOpenAPICoversEveryRoute fails when a route of the app is missing
// from the document, or the document lists a route the app lacks.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	ts := newTestServer(t, "sqlite")
	d := loadSpec(t, ts)
	if d.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q", d.OpenAPI)
	}
	exempt := map[string]bool{"GET /": true, "GET /favicon.ico": true} // redirects to the admin and to the icon
	inApp := map[string]bool{}
	for _, r := range ts.srv.app.GetRoutes(true) {
		// The admin serves HTML pages to browsers, not the API.
		if r.Method == "HEAD" || r.Method == "USE" || strings.HasPrefix(r.Path, "/static") || strings.HasPrefix(r.Path, "/admin") {
			continue
		}
		key := r.Method + " " + api.OpenAPIPath(r.Path)
		if exempt[r.Method+" "+r.Path] {
			continue
		}
		inApp[key] = true
	}
	inSpec := map[string]bool{}
	for path, ops := range d.Paths {
		for method := range ops {
			inSpec[strings.ToUpper(method)+" "+path] = true
		}
	}
	var missing, extra []string
	for k := range inApp {
		if !inSpec[k] {
			missing = append(missing, k)
		}
	}
	for k := range inSpec {
		if !inApp[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("routes missing from the OpenAPI document: %v; documented but not served: %v", missing, extra)
	}
	for _, name := range []string{api.SecBearer, api.SecAPIKey, api.SecMetrics} {
		if d.Components.SecuritySchemes[name] == nil {
			t.Errorf("security scheme %s missing", name)
		}
	}
}

// TestOpenAPIRulesComeFromValidateTags: constraints in the document are
// the validate tags of the models.
func TestOpenAPIRulesComeFromValidateTags(t *testing.T) {
	ts := newTestServer(t, "sqlite")
	d := loadSpec(t, ts)
	product := findSchema(t, d, "Product")
	props := product["properties"].(map[string]any)
	cases := []struct {
		field, key string
		want       any
	}{
		{"name", "maxLength", 80.0},
		{"name", "minLength", 1.0},
		{"description", "maxLength", 200.0},
		{"stock", "minimum", 0.0},
		{"price", "minimum", 0.0},
		{"id", "readOnly", true},
		{"version", "readOnly", true},
	}
	for _, tc := range cases {
		p, _ := props[tc.field].(map[string]any)
		if p[tc.key] != tc.want {
			t.Errorf("Product.%s.%s = %v, want %v (%v)", tc.field, tc.key, p[tc.key], tc.want, p)
		}
	}
	req := fmt.Sprint(product["required"])
	if !strings.Contains(req, "name") || !strings.Contains(req, "price") || strings.Contains(req, "stock") {
		t.Errorf("Product required = %v", req)
	}
	key := findSchema(t, d, "APIKeyInput")
	scope := key["properties"].(map[string]any)["scope"].(map[string]any)
	if fmt.Sprint(scope["enum"]) != "[read-only read-write]" {
		t.Errorf("scope enum %v", scope["enum"])
	}
	errSchema := findSchema(t, d, "Error")
	for _, f := range []string{"error", "code", "fields", "correlation_id"} {
		if errSchema["properties"].(map[string]any)[f] == nil {
			t.Errorf("error envelope lacks %s", f)
		}
	}
	list := d.Paths["/api/v1/products"]["get"]
	names := map[string]bool{}
	for _, p := range list.Parameters {
		names[p.Name] = true
		if p.Name == "page_size" && (p.Schema["maximum"] != 100.0 || p.Schema["minimum"] != 1.0) {
			t.Errorf("page_size schema %v", p.Schema)
		}
	}
	for _, n := range []string{"page", "page_size", "sort", "q", "min_price", "max_price", "in_stock"} {
		if !names[n] {
			t.Errorf("list parameter %s missing", n)
		}
	}
}

// findSchema returns the component named after a Go type, as
// api.schemaName names them.
func findSchema(t *testing.T, d *specDoc, typeName string) map[string]any {
	t.Helper()
	if s, ok := d.Components.Schemas[typeName]; ok {
		return s
	}
	t.Fatalf("no schema for %s", typeName)
	return nil
}

// TestResponsesMatchTheirSchema sends real requests and checks each JSON
// answer against the schema the document gives for its status.
func TestResponsesMatchTheirSchema(t *testing.T) {
	ts := newTestServer(t, "sqlite", func(c *config.Config) { c.MaxRequestSize = 4096 })
	d := loadSpec(t, ts)
	token := ts.staffToken("schema")
	created := ts.do("POST", "/api/v1/products", map[string]any{"name": "Desk", "price": "99.90", "stock": 3}, "Authorization", token)
	loc := created.Header.Get("Location")
	doc := ts.do("POST", "/api/v1/documents", map[string]any{"title": "Returns", "content": "30 days."}, "Authorization", token)
	key := ts.do("POST", "/api/v1/api-keys", map[string]any{"name": "ci", "scope": "read-only"}, "Authorization", token)
	cases := []struct {
		name, method, path, specPath string
		body                         any
		resp                         *testResponse
	}{
		{"created product", "POST", "", "/api/v1/products", nil, created},
		{"created document", "POST", "", "/api/v1/documents", nil, doc},
		{"created key", "POST", "", "/api/v1/api-keys", nil, key},
		{"product list", "GET", "/api/v1/products?page_size=5", "/api/v1/products", nil, nil},
		{"document list", "GET", "/api/v1/documents", "/api/v1/documents", nil, nil},
		{"product", "GET", loc, "/api/v1/products/{id}", nil, nil},
		{"key list", "GET", "/api/v1/api-keys", "/api/v1/api-keys", nil, nil},
		{"health", "GET", "/health", "/health", nil, nil},
		{"ready", "GET", "/ready", "/ready", nil, nil},
		{"not found", "GET", "/api/v1/products/999999", "/api/v1/products/{id}", nil, nil},
		{"validation", "POST", "/api/v1/products", "/api/v1/products", map[string]any{"name": "", "price": "-1"}, nil},
		{"too large", "POST", "/api/v1/products", "/api/v1/products", strings.Repeat("x", 5000), nil},
		{"bad login", "POST", "/api/v1/auth/token", "/api/v1/auth/token", map[string]any{"username": "x", "password": "y"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.resp
			if r == nil {
				r = ts.do(tc.method, tc.path, tc.body, "Authorization", token)
			}
			op, ok := d.Paths[tc.specPath][strings.ToLower(tc.method)]
			if !ok {
				t.Fatalf("no operation %s %s", tc.method, tc.specPath)
			}
			resp, ok := op.Responses[fmt.Sprint(r.Status)]
			if !ok {
				t.Fatalf("status %d not documented for %s %s: %s", r.Status, tc.method, tc.specPath, r.Body)
			}
			media, ok := resp.Content["application/json"]
			if !ok {
				t.Fatalf("no JSON schema for %d", r.Status)
			}
			var v any
			if err := json.Unmarshal(r.Body, &v); err != nil {
				t.Fatalf("body %s: %v", r.Body, err)
			}
			if errs := checkSchema(d, media.Schema, v, "$"); len(errs) > 0 {
				t.Fatalf("%s does not match its schema: %v\n%s", tc.name, errs, r.Body)
			}
		})
	}
}

// checkSchema is a small JSON Schema checker for the keywords the document
// uses: $ref, type, required, properties, additionalProperties, items,
// enum, minimum, maxLength, minLength.
func checkSchema(d *specDoc, s map[string]any, v any, at string) []string {
	if ref, ok := s["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		target, ok := d.Components.Schemas[name]
		if !ok {
			return []string{at + ": unknown $ref " + ref}
		}
		return checkSchema(d, target, v, at)
	}
	var errs []string
	if types := schemaTypes(s); len(types) > 0 && !typeMatches(types, v) {
		return []string{fmt.Sprintf("%s: %T is not %v", at, v, types)}
	}
	switch x := v.(type) {
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		if req, ok := s["required"].([]any); ok {
			for _, r := range req {
				if _, ok := x[r.(string)]; !ok {
					errs = append(errs, at+": missing "+r.(string))
				}
			}
		}
		for k, val := range x {
			if ps, ok := props[k].(map[string]any); ok {
				errs = append(errs, checkSchema(d, ps, val, at+"."+k)...)
			} else if ap, ok := s["additionalProperties"].(map[string]any); ok {
				errs = append(errs, checkSchema(d, ap, val, at+"."+k)...)
			} else if props != nil && s["additionalProperties"] == false {
				errs = append(errs, at+": unexpected "+k)
			}
		}
	case []any:
		if items, ok := s["items"].(map[string]any); ok {
			for i, it := range x {
				errs = append(errs, checkSchema(d, items, it, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	case string:
		if enum, ok := s["enum"].([]any); ok && !strings.Contains(fmt.Sprint(enum), x) {
			errs = append(errs, fmt.Sprintf("%s: %q not in %v", at, x, enum))
		}
		if m, ok := s["maxLength"].(float64); ok && float64(len([]rune(x))) > m {
			errs = append(errs, at+": too long")
		}
	case float64:
		if m, ok := s["minimum"].(float64); ok && x < m {
			errs = append(errs, at+": below minimum")
		}
	}
	return errs
}

func schemaTypes(s map[string]any) []string {
	switch t := s["type"].(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, x := range t {
			out = append(out, fmt.Sprint(x))
		}
		return out
	}
	return nil
}

func typeMatches(types []string, v any) bool {
	for _, t := range types {
		switch x := v.(type) {
		case nil:
			if t == "null" {
				return true
			}
		case bool:
			if t == "boolean" {
				return true
			}
		case float64:
			if t == "number" || (t == "integer" && x == float64(int64(x))) {
				return true
			}
		case string:
			if t == "string" {
				return true
			}
		case []any:
			if t == "array" {
				return true
			}
		case map[string]any:
			if t == "object" {
				return true
			}
		}
	}
	return false
}

// TestDocsPageIsOfflineAndCSPClean: /api/docs loads only vendored files,
// with no inline script or style, and those files are served.
func TestDocsPageIsOfflineAndCSPClean(t *testing.T) {
	ts := newTestServer(t, "sqlite")
	r := ts.do("GET", "/api/docs", nil)
	if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("docs: %d %s", r.Status, r.Header.Get("Content-Type"))
	}
	page := string(r.Body)
	if strings.Contains(page, "http://") || strings.Contains(page, "https://") || strings.Contains(page, "<style") || strings.Contains(page, "style=") {
		t.Fatalf("page loads from elsewhere or has inline style:\n%s", page)
	}
	if strings.Count(page, "<script src=") != strings.Count(page, "<script") {
		t.Fatalf("inline script:\n%s", page)
	}
	for _, f := range []string{api.SwaggerUI + "/swagger-ui-bundle.js", api.SwaggerUI + "/swagger-ui.css", "/static/js/api-docs.js"} {
		if !strings.Contains(page, f) {
			t.Fatalf("page does not load %s", f)
		}
		if r := ts.do("GET", f, nil); r.Status != 200 || len(r.Body) == 0 {
			t.Fatalf("%s: %d", f, r.Status)
		}
	}
	if _, err := os.Stat("../static/vendor/swagger-ui-dist@5.35.0/VENDOR.md"); err != nil {
		t.Fatal(err)
	}
}
