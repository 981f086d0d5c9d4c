package graphql

import (
	"context"
	"errors"
	"runtime/debug"
	"strings"

	gql "github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"tienda/app/web"
	"tienda/models"
)

// errPanic stands for a resolver's panic: the client learns nothing more.
var errPanic = errors.New("panic in a resolver")

// recovered is gqlgen's recover function: the panic is logged with the
// request's correlation id and its stack, and answered as INTERNAL.
func (h *Handler) recovered(ctx context.Context, v any) error {
	web.LoggerFrom(ctx, h.opts.Log).ErrorContext(ctx, "graphql resolver panic", "panic", v, "path", gql.GetPath(ctx).String(),
		"stack", string(debug.Stack()))
	return errPanic
}

// present is the one error presenter: every error of an operation gets
// extensions.code from REST's vocabulary through web.AsError (the one
// mapping of domain errors), validation failures name the inputs in
// extensions.fields by their GraphQL names, and an unexpected error is
// logged and answered as INTERNAL with no detail.
func (h *Handler) present(ctx context.Context, err error) *gqlerror.Error {
	var gerr *gqlerror.Error
	if !errors.As(err, &gerr) {
		gerr = gqlerror.WrapPath(gql.GetPath(ctx), err)
	}
	out := &gqlerror.Error{Message: gerr.Message, Path: gerr.Path, Locations: gerr.Locations, Extensions: map[string]any{}}
	if r := requestFrom(ctx); r != nil {
		out.Extensions["correlationId"] = r.correlationID
	}
	if gerr.Err == nil {
		h.layerError(ctx, gerr, out)
		return out
	}
	cause := gerr.Err
	var ie *inputError
	var overflow *gql.NumberOverflowError
	var notInt gql.IntegerError
	if errors.As(cause, &ie) || errors.As(cause, &overflow) || errors.As(cause, &notInt) {
		// An argument's value could not be read (Decimal, ID, Int range).
		msg := cause.Error()
		if ie != nil {
			msg = ie.msg
		}
		setCode(out, web.Invalid(map[string]string{lastName(gerr.Path): msg}))
		return out
	}
	ae := web.AsError(cause)
	if ae.Status >= 500 && ae.Code == web.CodeInternal {
		web.LoggerFrom(ctx, h.opts.Log).ErrorContext(ctx, "graphql operation failed", "err", cause, "path", gerr.Path.String())
	}
	setCode(out, ae)
	var vc *models.VersionConflictError
	if errors.As(cause, &vc) {
		out.Extensions["currentVersion"] = vc.Current.GetVersion()
	}
	return out
}

// setCode copies the envelope of a REST error into the extensions.
func setCode(out *gqlerror.Error, ae *web.Error) {
	out.Message = ae.Message
	out.Extensions["code"] = ae.Code
	if ae.Detail != "" {
		out.Extensions["detail"] = ae.Detail
	}
	if len(ae.Fields) > 0 {
		fields := make(map[string]string, len(ae.Fields))
		for k, v := range ae.Fields {
			fields[inputName(k)] = v
		}
		out.Extensions["fields"] = fields
	}
}

// layerError codes an error of the GraphQL layer itself: the request could
// not be read, the query could not be parsed or validated, a limit refused
// it, or the execution broke the schema's promises (a bug: INTERNAL).
func (h *Handler) layerError(ctx context.Context, gerr, out *gqlerror.Error) {
	code, _ := gerr.Extensions["code"].(string)
	if own, ok := gerr.Extensions[codeKey].(string); ok {
		out.Extensions["code"] = own
		return
	}
	switch {
	case code == errcode.ParseFailed:
		out.Extensions["code"] = web.CodeBadRequest
	case code == errcode.ValidationFailed:
		out.Extensions["code"] = web.CodeValidation
		// A variable that does not fit its type: [variable, input, price].
		if len(gerr.Path) > 1 && gerr.Path[0] == ast.PathName("variable") {
			out.Extensions["fields"] = map[string]string{lastName(gerr.Path): gerr.Message}
		}
	case code != "":
		out.Extensions["code"] = code
	case len(gerr.Path) == 0:
		// The transport could not read the request (its message would
		// echo the body).
		out.Message = "The request is not a valid GraphQL request: send one JSON object {query, variables, operationName}."
		out.Extensions["code"] = web.CodeBadRequest
	default:
		web.LoggerFrom(ctx, h.opts.Log).ErrorContext(ctx, "graphql operation failed", "err", gerr.Message, "path", gerr.Path.String())
		out.Message = "Internal server error."
		out.Extensions["code"] = web.CodeInternal
	}
}

// lastName is the last field or argument name of an error path.
func lastName(p ast.Path) string {
	for i := len(p) - 1; i >= 0; i-- {
		if n, ok := p[i].(ast.PathName); ok {
			return inputName(string(n))
		}
	}
	return ""
}

// inputName is the GraphQL name of a JSON name: page_size is pageSize,
// history[0].role stays as it is.
func inputName(s string) string {
	if !strings.Contains(s, "_") {
		return s
	}
	var b strings.Builder
	up := false
	for _, r := range s {
		switch {
		case r == '_':
			up = true
		case up:
			b.WriteString(strings.ToUpper(string(r)))
			up = false
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// jsonName is the JSON name (and column) of a GraphQL field name, keeping
// a leading "-": -createdAt is -created_at.
func jsonName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
