package graphql

import (
	"context"
	"net/http"

	"github.com/99designs/gqlgen/complexity"
	gql "github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"tienda/app/web"
	"tienda/models"
)

// Codes of the refusals of the GraphQL layer (the others are REST's).
const (
	CodeQueryTooLarge = "QUERY_TOO_LARGE"
	CodeDepthLimit    = "DEPTH_LIMIT_EXCEEDED"
	CodeComplexity    = "COMPLEXITY_LIMIT_EXCEEDED"
)

// codeKey holds, on an error of the GraphQL layer, the code the client
// sees; the "code" extension itself says GRAPHQL_VALIDATION_FAILED so that
// gqlgen answers it as a refused request (HTTP 422), like a parse error.
const codeKey = "tiendaCode"

func refusal(code, format string, args ...any) *gqlerror.Error {
	err := gqlerror.Errorf(format, args...)
	errcode.Set(err, errcode.ValidationFailed)
	err.Extensions[codeKey] = code
	return err
}

// limits refuses, before anything runs: a query text over MaxQueryBytes;
// a mutation sent by GET; introspection when it is off; an operation
// deeper than MaxDepth or more complex than MaxComplexity.
type limits struct{ h *Handler }

var _ interface {
	gql.HandlerExtension
	gql.OperationParameterMutator
	gql.OperationContextMutator
} = limits{}

func (limits) ExtensionName() string                      { return "TiendaLimits" }
func (limits) Validate(schema gql.ExecutableSchema) error { return nil }

func (l limits) MutateOperationParameters(ctx context.Context, p *gql.RawParams) *gqlerror.Error {
	if len(p.Query) > l.h.opts.MaxQueryBytes {
		return refusal(CodeQueryTooLarge, "The query is %d bytes long; the limit is %d. Send long values in variables.",
			len(p.Query), l.h.opts.MaxQueryBytes)
	}
	return nil
}

func (l limits) MutateOperationContext(ctx context.Context, oc *gql.OperationContext) *gqlerror.Error {
	op := oc.Operation
	if r := requestFrom(ctx); r != nil && r.method == http.MethodGet && op.Operation != ast.Query {
		return refusal(web.CodeMethodNotAllowed, "Only queries may be sent with GET; send mutations with POST.")
	}
	depth, introspects := measure(oc.Doc, op.SelectionSet, map[string]bool{})
	oc.DisableIntrospection = !l.h.opts.Introspection
	if introspects && oc.DisableIntrospection {
		return refusal(web.CodeForbidden, "Introspection is turned off on this server.")
	}
	if depth > l.h.opts.MaxDepth {
		return refusal(CodeDepthLimit, "The operation is %d fields deep; the limit is %d.", depth, l.h.opts.MaxDepth)
	}
	if n := complexity.Calculate(ctx, l.h.schema, op, oc.Variables); n > l.h.opts.MaxComplexity {
		return refusal(CodeComplexity, "The operation has complexity %d; the limit is %d. Ask for smaller pages or fewer fields.",
			n, l.h.opts.MaxComplexity)
	}
	return nil
}

// measure returns the depth of a selection set (a leaf field is 1 deep)
// and whether it selects __schema or __type. Fragments count where they
// are spread; validation has already refused fragment cycles, and seen
// guards against them all the same.
func measure(doc *ast.QueryDocument, set ast.SelectionSet, seen map[string]bool) (int, bool) {
	depth, introspects := 0, false
	for _, sel := range set {
		d, in := 0, false
		switch s := sel.(type) {
		case *ast.Field:
			d, in = measure(doc, s.SelectionSet, seen)
			d++
			in = in || s.Name == "__schema" || s.Name == "__type"
		case *ast.InlineFragment:
			d, in = measure(doc, s.SelectionSet, seen)
		case *ast.FragmentSpread:
			if f := doc.Fragments.ForName(s.Name); f != nil && !seen[s.Name] {
				seen[s.Name] = true
				d, in = measure(doc, f.SelectionSet, seen)
				delete(seen, s.Name)
			}
		}
		depth, introspects = max(depth, d), introspects || in
	}
	return depth, introspects
}

// pageCost is what a list field may return, for the complexity: its page
// size within the bounds the resolver enforces (a size out of bounds is
// refused there, as a VALIDATION_ERROR naming it).
func pageCost(size *int, def, limit int) int {
	n := deref(size, def)
	return min(max(n, 1), limit)
}

// setComplexity makes the lists cost their children once per item.
func setComplexity(c *ComplexityRoot) {
	c.Query.Products = func(child int, _ *string, _, _ *models.Money, _ *bool, _ *string, _ *int, pageSize *int) int {
		return 1 + child*pageCost(pageSize, models.DefaultPageSize, models.MaxPageSize)
	}
	c.Query.Documents = func(child int, _, _ *string, _ *int, pageSize *int) int {
		return 1 + child*pageCost(pageSize, models.DefaultPageSize, models.MaxPageSize)
	}
	c.Query.SearchDocuments = func(child int, _ string, _ *SearchMode, topK *int) int {
		return 1 + child*pageCost(topK, 5, 50)
	}
}

// selectsSlowField reports whether an operation waits for the language
// model (searchDocuments embeds its query), and so gets the route's
// longer deadline.
func selectsSlowField(doc *ast.QueryDocument, set ast.SelectionSet) bool {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if s.Name == "searchDocuments" {
				return true
			}
		case *ast.InlineFragment:
			if selectsSlowField(doc, s.SelectionSet) {
				return true
			}
		case *ast.FragmentSpread:
			if f := doc.Fragments.ForName(s.Name); f != nil && selectsSlowField(doc, f.SelectionSet) {
				return true
			}
		}
	}
	return false
}
