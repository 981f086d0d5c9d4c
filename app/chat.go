package app

import (
	"context"
	"fmt"
	"time"

	"tienda/app/api"
	"tienda/app/chat"
	"tienda/app/obs"
)

// chatParts is the knowledge base and chat, wired from the configuration.
type chatParts struct {
	tokens    chat.TokenCounter
	embedder  chat.Embedder
	retriever *chat.Retriever
	provider  chat.Provider
	indexer   *chat.Indexer
	service   *chat.Service
	// ssePing is the keep-alive interval of chat streams.
	ssePing time.Duration
}

// startChat builds the chat parts and starts the indexing workers on bg.
// With LLM_BASE_URL unset, everything runs offline: the hashing embedder
// and the extractive provider.
func (s *Server) startChat(bg context.Context) error {
	tok, err := chat.NewTiktoken()
	if err != nil {
		return fmt.Errorf("load tokenizer: %w", err)
	}
	p := &chatParts{tokens: tok, ssePing: api.SSEPingInterval}
	cfg := s.cfg
	if cfg.LLMBaseURL != "" && cfg.LLMEmbedModel != "" {
		// Every call, indexing batches included, ends by LLM_TIMEOUT; a
		// query's embedding is bounded tighter by the retriever.
		p.embedder = chat.NewOpenAIEmbedder(chat.OpenAIEmbedderConfig{
			BaseURL: cfg.LLMBaseURL, APIKey: cfg.LLMAPIKey, Model: cfg.LLMEmbedModel, Timeout: cfg.LLMTimeout,
		})
	} else {
		p.embedder = chat.HashEmbedder{Tokens: tok}
	}
	if cfg.LLMBaseURL != "" {
		model := cfg.LLMModel
		if model == "" {
			model = "gpt-4o-mini"
		}
		p.provider = chat.NewOpenAIProvider(chat.OpenAIConfig{
			BaseURL: cfg.LLMBaseURL, APIKey: cfg.LLMAPIKey, Model: model, Timeout: cfg.LLMTimeout,
			MaxRetries: 2, Tokens: tok, Log: s.log,
		})
	} else {
		p.provider = &chat.Extractive{Tokens: tok}
	}
	if s.tracing != nil {
		tr := s.tracing.Tracer("tienda/llm")
		p.provider = obs.TracedProvider{Provider: p.provider, Tracer: tr}
		p.embedder = obs.TracedEmbedder{Embedder: p.embedder, Tracer: tr}
	}
	p.retriever = chat.NewRetriever(s.db, p.embedder)
	p.retriever.QueryEmbedTimeout = cfg.QueryEmbedTimeout()
	p.retriever.Log = s.log
	p.retriever.MinSimilarity = cfg.Chat.MinSimilarity
	p.indexer = chat.NewIndexer(s.db, p.embedder, tok, s.log)
	p.indexer.Workers = cfg.Chat.IndexWorkers
	p.indexer.JobTimeout = cfg.Chat.IndexJobTimeout
	if cfg.Chat.NATSURL != "" {
		pub, err := chat.NewNATSPublisher(bg, cfg.Chat.NATSURL, s.log)
		if err != nil {
			return err
		}
		p.indexer.Events = pub
	}
	p.indexer.OnIndexChange = func(ctx context.Context, _ int64, indexed bool) {
		if indexed {
			s.metrics.DocumentIndexed()
		}
		// The index state is part of the document's API representation.
		s.invalidate(ctx, "document")
	}
	p.service = &chat.Service{Retriever: p.retriever, Provider: p.provider, Tokens: tok, Log: s.log, MaxTokens: cfg.Chat.MaxTokens}
	if err := p.indexer.RegisterHooks(s.db); err != nil {
		return err
	}
	s.chat = p
	go p.indexer.Run(bg)
	return nil
}
