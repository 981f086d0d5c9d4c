package chat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"tienda/models"
)

// Errors of providers and embedders; the HTTP layer maps them to codes.
var (
	// ErrTimeout: the provider did not answer (or stalled) within the timeout.
	ErrTimeout = errors.New("language model timed out")
	// ErrUnavailable: the provider is down, overloaded or the circuit is open.
	ErrUnavailable = errors.New("language model unavailable")
	// ErrBadResponse: the provider answered something that is not the protocol.
	ErrBadResponse = errors.New("language model sent an invalid response")
	// ErrStreamBroken: the stream stopped halfway (tokens were already sent).
	ErrStreamBroken = errors.New("language model stream broke off")
)

// UpstreamError is an HTTP error status from the provider.
type UpstreamError struct {
	Status     int
	RetryAfter time.Duration
	Message    string
}

func (e *UpstreamError) Error() string {
	return fmt.Sprintf("upstream status %d: %s", e.Status, e.Message)
}

// Unwrap makes every upstream error an ErrUnavailable for callers.
func (e *UpstreamError) Unwrap() error { return ErrUnavailable }

// retryable is true for 429 and 5xx.
func (e *UpstreamError) retryable() bool { return e.Status == 429 || e.Status >= 500 }

func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return time.Until(t)
	}
	return 0
}

// Message is one turn of a conversation.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Roles allowed in a conversation history.
var Roles = []string{"user", "assistant"}

// Usage is the token count of one completion.
type Usage struct {
	PromptTokens     int
	CompletionTokens int
}

// Total is prompt plus completion tokens.
func (u Usage) Total() int { return u.PromptTokens + u.CompletionTokens }

// Completion is one request to a provider.
type Completion struct {
	Model       string
	Messages    []Message // system, history, and the user's question with the passages
	Temperature *float64
	// MaxTokens bounds the completion (sent as max_tokens; 0: the
	// server's default).
	MaxTokens int
	// Question and Sources are the raw parts (the extractive provider
	// answers from them without a model).
	Question string
	Sources  []Cited
}

// Provider generates an answer, streaming its text through onDelta. Two
// implementations: OpenAIProvider and Extractive.
type Provider interface {
	// Name says what kind of provider this is ("openai", "extractive").
	Name() string
	// DefaultModel is the model used when a request names none.
	DefaultModel() string
	// Models lists the models the playground offers.
	Models(ctx context.Context) ([]string, error)
	// Stream generates the answer. onDelta returning an error stops the
	// generation (the client went away) and cancels the upstream request.
	Stream(ctx context.Context, req Completion, onDelta func(string) error) (Usage, error)
}

// OpenAIConfig configures the OpenAI-compatible provider.
type OpenAIConfig struct {
	BaseURL string
	APIKey  string
	Model   string
	// Timeout bounds the wait for the first token and every gap between
	// chunks; a stream that keeps producing is never cut.
	Timeout time.Duration
	// MaxRetries on 429/5xx before the first token (default 2).
	MaxRetries int
	// RetryBase is the first backoff (default 500ms), doubled per retry and
	// capped at 8s; a Retry-After header wins when larger (up to 8s).
	RetryBase time.Duration
	Breaker   *Breaker
	Tokens    TokenCounter
	Log       *slog.Logger
	// HTTPClient is optional (tests).
	HTTPClient *http.Client
}

// OpenAIProvider streams chat completions from any OpenAI-compatible server
// (OpenAI, Azure, Ollama, vLLM, llama.cpp server).
type OpenAIProvider struct {
	cfg    OpenAIConfig
	client *openaiClient
}

// NewOpenAIProvider builds the provider. Retries are ours (before the first
// token only).
func NewOpenAIProvider(cfg OpenAIConfig) *OpenAIProvider {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	if cfg.MaxRetries < 0 {
		cfg.MaxRetries = 0
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = 500 * time.Millisecond
	}
	if cfg.Breaker == nil {
		cfg.Breaker = NewBreaker(5, 30*time.Second)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &OpenAIProvider{cfg: cfg, client: newOpenAIClient(cfg.BaseURL, cfg.APIKey, cfg.HTTPClient)}
}

// Name implements Provider.
func (p *OpenAIProvider) Name() string { return "openai" }

// DefaultModel implements Provider.
func (p *OpenAIProvider) DefaultModel() string { return p.cfg.Model }

// Models implements Provider: the server's model list.
func (p *OpenAIProvider) Models(ctx context.Context) ([]string, error) {
	if !p.cfg.Breaker.Allow() {
		return nil, fmt.Errorf("%w: circuit open", ErrUnavailable)
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	resp, err := p.client.send(ctx, http.MethodGet, "/models", nil)
	if err != nil {
		return nil, fmt.Errorf("list models: %w", err)
	}
	var page modelsAnswer
	if err := decode(resp, &page); err != nil {
		return nil, fmt.Errorf("list models: %w", err)
	}
	out := make([]string, 0, len(page.Data))
	for _, m := range page.Data {
		out = append(out, m.ID)
	}
	return out, nil
}

// Stream implements Provider.
func (p *OpenAIProvider) Stream(ctx context.Context, req Completion, onDelta func(string) error) (Usage, error) {
	params := chatRequest{Model: req.Model, Stream: true, Temperature: req.Temperature, MaxTokens: req.MaxTokens}
	params.StreamOptions.IncludeUsage = true
	if params.Model == "" {
		params.Model = p.cfg.Model
	}
	for _, m := range req.Messages {
		role := m.Role
		if role != "system" && role != "assistant" {
			role = "user"
		}
		params.Messages = append(params.Messages, chatMessage{Role: role, Content: m.Content})
	}
	var lastErr error
	for attempt := 0; attempt <= p.cfg.MaxRetries; attempt++ {
		if attempt > 0 {
			wait := models.Backoff(attempt, p.cfg.RetryBase, 8*time.Second)
			var ue *UpstreamError
			if errors.As(lastErr, &ue) && ue.RetryAfter > wait {
				wait = min(ue.RetryAfter, 8*time.Second)
			}
			p.cfg.Log.WarnContext(ctx, "llm retry", "attempt", attempt, "wait_ms", wait.Milliseconds(), "err", lastErr)
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return Usage{}, ctx.Err()
			case <-t.C:
			}
		}
		if !p.cfg.Breaker.Allow() {
			return Usage{}, fmt.Errorf("%w: circuit open after repeated failures", ErrUnavailable)
		}
		usage, started, err := p.attempt(ctx, params, req, onDelta)
		if err == nil {
			p.cfg.Breaker.Success()
			return usage, nil
		}
		if ctx.Err() != nil {
			// the caller went away: not the provider's fault
			p.cfg.Breaker.Release()
			return usage, ctx.Err()
		}
		var stop *consumerStop
		if errors.As(err, &stop) {
			p.cfg.Breaker.Release()
			return usage, stop.err
		}
		var ue *UpstreamError
		if errors.As(err, &ue) && !ue.retryable() {
			// the request was refused (bad model, bad parameters): the
			// provider itself is fine
			p.cfg.Breaker.Success()
			return usage, err
		}
		p.cfg.Breaker.Failure()
		if started {
			return usage, err
		}
		lastErr = err
		if ue == nil {
			return usage, err
		}
	}
	return Usage{}, lastErr
}

// consumerStop carries an error returned by onDelta.
type consumerStop struct{ err error }

func (c *consumerStop) Error() string { return "consumer stopped: " + c.err.Error() }

func (p *OpenAIProvider) attempt(ctx context.Context, params chatRequest, req Completion, onDelta func(string) error) (Usage, bool, error) {
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	watchdog := time.AfterFunc(p.cfg.Timeout, func() { cancel(ErrTimeout) })
	defer watchdog.Stop()

	resp, err := p.client.send(actx, http.MethodPost, "/chat/completions", params)
	if err != nil {
		if errors.Is(context.Cause(actx), ErrTimeout) && ctx.Err() == nil {
			err = fmt.Errorf("%w after %s without data", ErrTimeout, p.cfg.Timeout)
		}
		return p.fillUsage(Usage{}, req, nil), false, err
	}
	stream := newSSEStream(resp.Body)
	defer stream.Close()
	started := false
	var usage Usage
	var text []byte
	for stream.Next() {
		watchdog.Reset(p.cfg.Timeout)
		chunk := stream.Current()
		if chunk.Usage != nil && chunk.Usage.TotalTokens > 0 {
			usage = Usage{PromptTokens: chunk.Usage.PromptTokens, CompletionTokens: chunk.Usage.CompletionTokens}
		}
		for _, ch := range chunk.Choices {
			if ch.Index != 0 || ch.Delta.Content == "" {
				continue
			}
			started = true
			text = append(text, ch.Delta.Content...)
			if err := onDelta(ch.Delta.Content); err != nil {
				cancel(err)
				return p.fillUsage(usage, req, text), true, &consumerStop{err: err}
			}
		}
	}
	err = stream.Err()
	if err == nil && !started && usage.Total() == 0 && len(text) == 0 {
		// no chunk at all: an empty body or a non-SSE answer
		err = fmt.Errorf("%w: empty stream", ErrBadResponse)
	}
	if err != nil {
		if errors.Is(context.Cause(actx), ErrTimeout) && ctx.Err() == nil {
			err = fmt.Errorf("%w after %s without data", ErrTimeout, p.cfg.Timeout)
		} else {
			err = classify(err)
		}
		if started && !errors.Is(err, ErrTimeout) {
			err = fmt.Errorf("%w: %w", ErrStreamBroken, err)
		}
		return p.fillUsage(usage, req, text), started, err
	}
	return p.fillUsage(usage, req, text), started, nil
}

// fillUsage counts tokens locally when the provider sent no usage.
func (p *OpenAIProvider) fillUsage(u Usage, req Completion, text []byte) Usage {
	if u.Total() > 0 || p.cfg.Tokens == nil {
		return u
	}
	for _, m := range req.Messages {
		u.PromptTokens += p.cfg.Tokens.Count(m.Content) + 4
	}
	u.CompletionTokens = p.cfg.Tokens.Count(string(text))
	return u
}

// Breaker is a circuit breaker: after Threshold consecutive failures it
// opens for Cooldown (calls fail fast), then lets one trial call through.
type Breaker struct {
	mu        sync.Mutex
	threshold int
	cooldown  time.Duration
	failures  int
	openUntil time.Time
	trial     bool
	now       func() time.Time
}

// NewBreaker returns a closed breaker.
func NewBreaker(threshold int, cooldown time.Duration) *Breaker {
	if threshold <= 0 {
		threshold = 5
	}
	return &Breaker{threshold: threshold, cooldown: cooldown, now: time.Now}
}

// Allow reports whether a call may go through.
func (b *Breaker) Allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failures < b.threshold {
		return true
	}
	if b.now().Before(b.openUntil) || b.trial {
		return false
	}
	b.trial = true // half-open: one call decides
	return true
}

// Success closes the breaker.
func (b *Breaker) Success() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures, b.trial = 0, false
}

// Failure counts a failure and opens the breaker at the threshold.
func (b *Breaker) Failure() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures++
	b.trial = false
	if b.failures >= b.threshold {
		b.openUntil = b.now().Add(b.cooldown)
	}
}

// Release ends a call that proved nothing either way (the caller went
// away): a half-open breaker lets the next call be the trial.
func (b *Breaker) Release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.trial = false
}

// Open reports whether calls currently fail fast.
func (b *Breaker) Open() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.failures >= b.threshold && b.now().Before(b.openUntil)
}
