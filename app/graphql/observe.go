package graphql

import (
	"context"
	"log/slog"
	"regexp"
	"time"

	gql "github.com/99designs/gqlgen/graphql"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"tienda/app/web"
)

// observe gives every operation its deadline and a span, and logs and
// counts it by name once answered; a request refused before it ran (it
// did not parse, or a limit refused it) is logged and counted too.
type observe struct{ h *Handler }

var _ interface {
	gql.HandlerExtension
	gql.OperationInterceptor
	gql.ResponseInterceptor
} = observe{}

func (observe) ExtensionName() string                      { return "TiendaObserve" }
func (observe) Validate(schema gql.ExecutableSchema) error { return nil }

type spanKey struct{}

// operationSpan is what InterceptOperation leaves for InterceptResponse.
type operationSpan struct{ span trace.Span }

var gqlName = regexp.MustCompile(`^[_A-Za-z][_0-9A-Za-z]{0,63}$`)

// names are the operation's name ("anonymous" when it has none, "invalid"
// when a refused request named it with something that is no GraphQL name)
// and type ("query", "mutation"; "unknown" before parsing).
func names(ctx context.Context) (string, string) {
	if !gql.HasOperationContext(ctx) {
		return "anonymous", "unknown"
	}
	oc := gql.GetOperationContext(ctx)
	name, typ := oc.OperationName, "unknown"
	if oc.Operation != nil {
		typ = string(oc.Operation.Operation)
		if oc.Operation.Name != "" {
			name = oc.Operation.Name
		}
	}
	switch {
	case name == "":
		name = "anonymous"
	case !gqlName.MatchString(name):
		name = "invalid"
	}
	return name, typ
}

func (o observe) InterceptOperation(ctx context.Context, next gql.OperationHandler) gql.ResponseHandler {
	name, typ := names(ctx)
	oc := gql.GetOperationContext(ctx)
	var cancel context.CancelFunc = func() {}
	if o.h.opts.Timeout > 0 && !selectsSlowField(oc.Doc, oc.Operation.SelectionSet) {
		ctx, cancel = context.WithTimeout(ctx, o.h.opts.Timeout)
	}
	spanName := typ
	if name != "anonymous" {
		spanName += " " + name
	}
	ctx, span := o.h.opts.Tracer.Start(ctx, "graphql "+spanName, trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(attribute.String("graphql.operation.name", name), attribute.String("graphql.operation.type", typ)))
	ctx = context.WithValue(ctx, spanKey{}, &operationSpan{span: span})
	responses := next(ctx)
	return func(ctx context.Context) *gql.Response {
		defer cancel()
		return responses(ctx)
	}
}

func (o observe) InterceptResponse(ctx context.Context, next gql.ResponseHandler) *gql.Response {
	start := gql.GetStartTime(ctx) // when the request reached gqlgen
	if start.IsZero() {
		start = time.Now()
	}
	resp := next(ctx)
	if resp == nil {
		return nil
	}
	name, typ := names(ctx)
	outcome := "ok"
	op, ran := ctx.Value(spanKey{}).(*operationSpan)
	switch {
	case !ran:
		outcome = "refused" // never ran: unreadable, unparsable, invalid or over a limit
	case len(resp.Errors) > 0:
		outcome = "error"
	}
	attrs := []slog.Attr{slog.String("operation", name), slog.String("type", typ), slog.String("outcome", outcome)}
	if len(resp.Errors) > 0 {
		code, _ := resp.Errors[0].Extensions["code"].(string)
		attrs = append(attrs, slog.Int("errors", len(resp.Errors)), slog.String("code", code))
	}
	if ran {
		if len(resp.Errors) > 0 {
			code, _ := resp.Errors[0].Extensions["code"].(string)
			op.span.SetStatus(codes.Error, code)
		}
		op.span.End()
	}
	attrs = append(attrs, slog.Float64("latency_ms", float64(time.Since(start).Microseconds())/1000))
	o.h.opts.Metrics.GraphQLOperation(name, typ, outcome)
	level := slog.LevelInfo
	for _, e := range resp.Errors {
		if e.Extensions["code"] == web.CodeInternal {
			level = slog.LevelError
		}
	}
	web.LoggerFrom(ctx, o.h.opts.Log).LogAttrs(ctx, level, "graphql operation", attrs...)
	return resp
}
