package obs

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"tienda/app/chat"
)

// TracedProvider wraps a chat provider in an "llm.chat" client span per
// generation: provider, model, tokens and failure, never the prompt text.
type TracedProvider struct {
	chat.Provider
	Tracer trace.Tracer
}

func (p TracedProvider) Stream(ctx context.Context, req chat.Completion, onDelta func(string) error) (chat.Usage, error) {
	model := req.Model
	if model == "" {
		model = p.DefaultModel()
	}
	ctx, span := p.Tracer.Start(ctx, "llm.chat", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("llm.provider", p.Name()), attribute.String("llm.model", model)))
	defer span.End()
	u, err := p.Provider.Stream(ctx, req, onDelta)
	span.SetAttributes(attribute.Int("llm.tokens.prompt", u.PromptTokens), attribute.Int("llm.tokens.completion", u.CompletionTokens))
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "llm chat failed")
	}
	return u, err
}

// TracedEmbedder wraps an embedder in an "llm.embed" client span per call.
type TracedEmbedder struct {
	chat.Embedder
	Tracer trace.Tracer
}

func (e TracedEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, int, error) {
	ctx, span := e.Tracer.Start(ctx, "llm.embed", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("llm.model", e.Model()), attribute.Int("llm.inputs", len(texts))))
	defer span.End()
	vecs, tokens, err := e.Embedder.Embed(ctx, texts)
	span.SetAttributes(attribute.Int("llm.tokens.prompt", tokens))
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "llm embed failed")
	}
	return vecs, tokens, err
}
