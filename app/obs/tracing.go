package obs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/gofiber/contrib/otelfiber/v2"
	"github.com/gofiber/fiber/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	otelresource "go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"gorm.io/gorm"

	"tienda/app/web"
	"tienda/models"
)

// Tracing is OpenTelemetry, on only when OTEL_EXPORTER_OTLP_ENDPOINT is
// set (the exporter also reads the other OTEL_EXPORTER_OTLP_* variables).
// A nil *Tracing is off and costs nothing: no middleware, no callbacks.
type Tracing struct {
	tp *sdktrace.TracerProvider
}

// NewTracing starts tracing when endpoint is set (nil otherwise).
func NewTracing(ctx context.Context, endpoint string, db *gorm.DB) (*Tracing, error) {
	if endpoint == "" {
		return nil, nil
	}
	// OTLP over HTTP: the endpoint is the collector's base URL (as the
	// OpenTelemetry spec defines the variable); traces go to /v1/traces.
	// Headers and TLS come from the other OTEL_EXPORTER_OTLP_* variables.
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(strings.TrimSuffix(endpoint, "/")+"/v1/traces"))
	if err != nil {
		return nil, fmt.Errorf("OTLP exporter: %w", err)
	}
	res, err := otelresource.Merge(otelresource.Default(), otelresource.NewSchemaless(attribute.String("service.name", "tienda")))
	if err != nil {
		return nil, fmt.Errorf("OTLP resource: %w", err)
	}
	t := &Tracing{tp: sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))}
	if err := t.instrumentDB(db); err != nil {
		return nil, err
	}
	return t, nil
}

// Tracer returns the tracer for spans of other parts (the LLM calls); a
// no-op tracer when tracing is off.
func (t *Tracing) Tracer(name string) trace.Tracer {
	if t == nil {
		return noop.NewTracerProvider().Tracer(name)
	}
	return t.tp.Tracer(name)
}

// Middleware starts a span per request (otelfiber), continuing a trace the
// caller propagated (W3C traceparent).
func (t *Tracing) Middleware() fiber.Handler {
	if t == nil {
		return func(c *fiber.Ctx) error { return c.Next() }
	}
	return otelfiber.Middleware(
		otelfiber.WithTracerProvider(t.tp),
		otelfiber.WithPropagators(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})),
		otelfiber.WithoutMetrics(true),
		otelfiber.WithNext(func(c *fiber.Ctx) bool { return web.IsOpsPath(c.Path()) }),
	)
}

// startDBSpan and endDBSpan shape every database span alike.
func startDBSpan(ctx context.Context, tracer trace.Tracer, name, system string) (context.Context, trace.Span) {
	return tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system", system)))
}

// endDBSpan ends span; a missing row is an answer, not a failure.
func endDBSpan(span trace.Span, err error) {
	if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) && !errors.Is(err, models.ErrNotFound) {
		span.RecordError(err)
		span.SetStatus(codes.Error, "query failed")
	}
	span.End()
}

// instrumentDB adds a span around every GORM statement, as a child of the
// request's span (GORM gets the request context through WithContext).
func (t *Tracing) instrumentDB(db *gorm.DB) error {
	tracer := t.tp.Tracer("tienda/db")
	const key = "otel:span"
	before := func(op string) func(*gorm.DB) {
		return func(tx *gorm.DB) {
			ctx, span := startDBSpan(tx.Statement.Context, tracer, "db."+op, tx.Dialector.Name())
			tx.Statement.Context = ctx
			tx.InstanceSet(key, span)
		}
	}
	after := func(tx *gorm.DB) {
		v, ok := tx.InstanceGet(key)
		if !ok {
			return
		}
		span, ok := v.(trace.Span)
		if !ok {
			return
		}
		span.SetAttributes(attribute.String("db.sql.table", tx.Statement.Table), attribute.Int64("db.rows_affected", tx.Statement.RowsAffected))
		endDBSpan(span, tx.Error)
	}
	cb := db.Callback()
	for _, r := range []struct {
		op       string
		beforeFn func(name string, fn func(*gorm.DB)) error
		afterFn  func(name string, fn func(*gorm.DB)) error
	}{
		{"create", func(n string, f func(*gorm.DB)) error { return cb.Create().Before("gorm:create").Register(n, f) },
			func(n string, f func(*gorm.DB)) error { return cb.Create().After("gorm:create").Register(n, f) }},
		{"query", func(n string, f func(*gorm.DB)) error { return cb.Query().Before("gorm:query").Register(n, f) },
			func(n string, f func(*gorm.DB)) error { return cb.Query().After("gorm:query").Register(n, f) }},
		{"update", func(n string, f func(*gorm.DB)) error { return cb.Update().Before("gorm:update").Register(n, f) },
			func(n string, f func(*gorm.DB)) error { return cb.Update().After("gorm:update").Register(n, f) }},
		{"delete", func(n string, f func(*gorm.DB)) error { return cb.Delete().Before("gorm:delete").Register(n, f) },
			func(n string, f func(*gorm.DB)) error { return cb.Delete().After("gorm:delete").Register(n, f) }},
		{"row", func(n string, f func(*gorm.DB)) error { return cb.Row().Before("gorm:row").Register(n, f) },
			func(n string, f func(*gorm.DB)) error { return cb.Row().After("gorm:row").Register(n, f) }},
		{"raw", func(n string, f func(*gorm.DB)) error { return cb.Raw().Before("gorm:raw").Register(n, f) },
			func(n string, f func(*gorm.DB)) error { return cb.Raw().After("gorm:raw").Register(n, f) }},
	} {
		if err := r.beforeFn("otel:before_"+r.op, before(r.op)); err != nil {
			return fmt.Errorf("trace %s statements: %w", r.op, err)
		}
		if err := r.afterFn("otel:after_"+r.op, after); err != nil {
			return fmt.Errorf("trace %s statements: %w", r.op, err)
		}
	}
	return nil
}

// Shutdown flushes pending spans.
func (t *Tracing) Shutdown(log *slog.Logger) {
	if t == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := t.tp.Shutdown(ctx); err != nil {
		log.Warn("tracing shutdown", "err", err)
	}
}
