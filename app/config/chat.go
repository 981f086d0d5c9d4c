package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ChatConfig is the knowledge base and chat configuration (besides the
// LLM_* variables of Config).
type ChatConfig struct {
	// DailyTokenBudget is the tokens each user may spend on chat per UTC
	// day (CHAT_DAILY_TOKEN_BUDGET; 0 = unlimited).
	DailyTokenBudget int64
	// MaxTokens bounds every chat completion (CHAT_MAX_TOKENS, default
	// 1024): it is sent to the model as max_tokens and reserved from the
	// daily budget before the call.
	MaxTokens int
	// IndexWorkers is the number of indexing workers per instance
	// (CHAT_INDEX_WORKERS, default 1).
	IndexWorkers int
	// IndexJobTimeout bounds the indexing of one document
	// (CHAT_INDEX_JOB_TIMEOUT, default 10m); past it the job is retried
	// with backoff and the worker goes on with the next one.
	IndexJobTimeout time.Duration
	// QueryEmbedTimeout bounds the embedding of a search or chat query
	// (LLM_QUERY_EMBED_TIMEOUT); past it the search uses keywords alone.
	// 0 (unset): see Config.QueryEmbedTimeout.
	QueryEmbedTimeout time.Duration
	// NATSURL, when set, is where document.indexed events are published
	// (NATS_URL, e.g. nats://127.0.0.1:4222).
	NATSURL string
	// MinSimilarity is the cosine similarity from which a semantic hit is
	// relevant enough for the chat to cite it (CHAT_MIN_SIMILARITY,
	// default 0.25, 0 to 1); see chat.Retriever.MinSimilarity.
	MinSimilarity float64
}

// MaxChatTokens is the largest CHAT_MAX_TOKENS accepted.
const MaxChatTokens = 65536

// loadChatConfig reads the CHAT_* variables; get returns def when unset.
func loadChatConfig(get func(k, def string) string) (ChatConfig, error) {
	var c ChatConfig
	b, err := strconv.ParseInt(get("CHAT_DAILY_TOKEN_BUDGET", "0"), 10, 64)
	if err != nil || b < 0 {
		return c, fmt.Errorf("CHAT_DAILY_TOKEN_BUDGET must be a whole number of tokens, 0 or more (0: unlimited)")
	}
	c.DailyTokenBudget = b
	m, err := strconv.Atoi(get("CHAT_MAX_TOKENS", "1024"))
	if err != nil || m < 1 || m > MaxChatTokens {
		return c, fmt.Errorf("CHAT_MAX_TOKENS must be a whole number of tokens from 1 to %d", MaxChatTokens)
	}
	c.MaxTokens = m
	w, err := strconv.Atoi(get("CHAT_INDEX_WORKERS", "1"))
	if err != nil || w < 1 || w > 16 {
		return c, fmt.Errorf("CHAT_INDEX_WORKERS must be a whole number from 1 to 16")
	}
	c.IndexWorkers = w
	if c.IndexJobTimeout, err = time.ParseDuration(get("CHAT_INDEX_JOB_TIMEOUT", "10m")); err != nil || c.IndexJobTimeout <= 0 {
		return c, fmt.Errorf("CHAT_INDEX_JOB_TIMEOUT must be a positive duration such as 10m")
	}
	if v := get("LLM_QUERY_EMBED_TIMEOUT", ""); v != "" {
		if c.QueryEmbedTimeout, err = time.ParseDuration(v); err != nil || c.QueryEmbedTimeout <= 0 {
			return c, fmt.Errorf("LLM_QUERY_EMBED_TIMEOUT must be a positive duration such as 5s")
		}
	}
	if c.MinSimilarity, err = strconv.ParseFloat(get("CHAT_MIN_SIMILARITY", "0.25"), 64); err != nil || c.MinSimilarity < 0 || c.MinSimilarity > 1 {
		return c, fmt.Errorf("CHAT_MIN_SIMILARITY must be a number from 0 to 1 (a cosine similarity), such as 0.25")
	}
	c.NATSURL = get("NATS_URL", "")
	if c.NATSURL != "" && !strings.HasPrefix(c.NATSURL, "nats://") && !strings.HasPrefix(c.NATSURL, "tls://") {
		return c, fmt.Errorf("NATS_URL must be a nats:// or tls:// URL")
	}
	return c, nil
}

// DefaultQueryEmbedTimeout caps the default wait for a query's embedding.
const DefaultQueryEmbedTimeout = 5 * time.Second

// QueryEmbedTimeout is how long search and chat wait for the embedding of
// a query before answering from keywords alone: LLM_QUERY_EMBED_TIMEOUT
// when set, else the smaller of LLM_TIMEOUT and 5s.
func (c Config) QueryEmbedTimeout() time.Duration {
	if c.Chat.QueryEmbedTimeout > 0 {
		return c.Chat.QueryEmbedTimeout
	}
	return min(c.LLMTimeout, DefaultQueryEmbedTimeout)
}
