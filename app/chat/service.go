package chat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Event types of a chat stream, in order: sources, token..., then done or error.
const (
	EventSources = "sources"
	EventToken   = "token"
	EventDone    = "done"
	EventError   = "error"
)

// Event is one step of an answer.
type Event struct {
	Type    string
	Sources []Source // sources
	// Retrieval is how the sources were found (sources and done):
	// ModeHybrid, or ModeKeyword when the question could not be embedded.
	Retrieval string
	Delta     string // token
	// done
	TokensUsed int
	LatencyMS  int64
	Model      string
	// error
	Err error
}

// Limits of a chat request and of the retrieval and embeddings API.
const (
	MaxMessageChars      = 4096
	MaxSystemPromptChars = 4000
	MaxHistory           = 20
	MaxQueryChars        = 1000
	MaxTopK              = 50
	MaxEmbeddingInputs   = 256
	MaxEmbeddingChars    = 8192
	MaxModelChars        = 200
)

// Request is one chat message with its options.
type Request struct {
	Message      string
	Model        string
	SystemPrompt string
	Temperature  *float64
	TopK         int
	History      []Message
	// Admit, when set, is called once the prompt is built and before the
	// model is called, with the prompt's token count and the bound on the
	// completion (Service.MaxTokens): the daily budget reserves them there.
	// Its error ends the chat without calling the model.
	Admit func(ctx context.Context, promptTokens, maxTokens int) error
}

// Result is the complete answer.
type Result struct {
	Answer    string
	Sources   []Source
	Usage     Usage
	Model     string
	LatencyMS int64
	// FirstTokenMS is the time to the first token (0 if none).
	FirstTokenMS int64
	// Retrieval is how the sources were found (see Event.Retrieval).
	Retrieval string
}

// DefaultSystemPrompt grounds the model on the passages.
const DefaultSystemPrompt = "You are the shop's assistant. Answer using only the numbered passages below; cite them as [1], [2]. If they do not contain the answer, say so."

// Service answers chat messages grounded on the documents.
type Service struct {
	Retriever *Retriever
	Provider  Provider
	Tokens    TokenCounter
	Log       *slog.Logger
	// ContextTokens bounds the passages given to the model (default 3000):
	// passages past it are left out, and so not returned as sources.
	ContextTokens int
	// MaxTokens bounds every completion (0: the provider's default).
	MaxTokens int
	// Now is the clock (tests).
	Now func() time.Time
}

// Prepared is a message ready for the model: its passages retrieved, its
// prompt built and admitted.
type Prepared struct {
	comp      Completion
	model     string
	retrieval string
	start     time.Time
}

// Chat answers req, calling emit for every event: Prepare, then Answer. An
// emit error (the client is gone) stops the generation upstream. On
// failure an error event is emitted and the error returned.
func (s *Service) Chat(ctx context.Context, req Request, emit func(Event) error) (Result, error) {
	p, res, err := s.Prepare(ctx, req)
	if err != nil {
		if ctx.Err() == nil {
			_ = emit(Event{Type: EventError, Err: err})
		}
		return res, err
	}
	return s.Answer(ctx, p, emit)
}

// Prepare retrieves the passages for req and builds the prompt, then lets
// req.Admit accept it. On failure the Result holds what is known of the
// message (model, latency, retrieval) for the caller to record.
func (s *Service) Prepare(ctx context.Context, req Request) (*Prepared, Result, error) {
	p := &Prepared{model: req.Model, start: s.now()}
	if p.model == "" || s.Provider.Name() == "extractive" {
		p.model = s.Provider.DefaultModel()
	}
	topK := req.TopK
	if topK <= 0 {
		topK = 5
	}
	fail := func(err error) (*Prepared, Result, error) {
		return nil, Result{Model: p.model, Retrieval: p.retrieval, LatencyMS: s.now().Sub(p.start).Milliseconds()}, err
	}
	found, retrieval, err := s.Retriever.Search(ctx, req.Message, topK, ModeHybrid)
	if err != nil {
		return fail(fmt.Errorf("retrieve passages: %w", err))
	}
	p.retrieval = retrieval
	p.comp = s.buildPrompt(req, found)
	p.comp.MaxTokens = s.MaxTokens
	if req.Admit != nil {
		if err := req.Admit(ctx, s.PromptTokens(p.comp), s.MaxTokens); err != nil {
			return fail(err)
		}
	}
	return p, Result{}, nil
}

// Answer calls the model with a prepared message, emitting sources,
// token... then done, or error.
func (s *Service) Answer(ctx context.Context, p *Prepared, emit func(Event) error) (Result, error) {
	res := Result{Model: p.model, Retrieval: p.retrieval, Sources: p.comp.Sources}
	fail := func(err error) (Result, error) {
		res.LatencyMS = s.now().Sub(p.start).Milliseconds()
		if ctx.Err() == nil {
			_ = emit(Event{Type: EventError, Err: err})
		}
		return res, err
	}
	if err := emit(Event{Type: EventSources, Sources: p.comp.Sources, Retrieval: p.retrieval}); err != nil {
		return res, err
	}
	var answer strings.Builder
	usage, err := s.Provider.Stream(ctx, p.comp, func(delta string) error {
		if answer.Len() == 0 {
			res.FirstTokenMS = s.now().Sub(p.start).Milliseconds()
		}
		answer.WriteString(delta)
		return emit(Event{Type: EventToken, Delta: delta})
	})
	res.Answer = answer.String()
	if usage.Total() == 0 && s.Tokens != nil {
		for _, m := range p.comp.Messages {
			usage.PromptTokens += s.Tokens.Count(m.Content)
		}
		usage.CompletionTokens = s.Tokens.Count(res.Answer)
	}
	res.Usage = usage
	if err != nil {
		if errors.Is(err, context.Canceled) || ctx.Err() != nil {
			res.LatencyMS = s.now().Sub(p.start).Milliseconds()
			return res, err
		}
		return fail(err)
	}
	res.LatencyMS = s.now().Sub(p.start).Milliseconds()
	err = emit(Event{Type: EventDone, TokensUsed: usage.Total(), LatencyMS: res.LatencyMS, Model: res.Model, Retrieval: p.retrieval})
	return res, err
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

// PromptTokens counts the tokens of a completion's messages as the model
// will see them (about 4 tokens of framing per message, 3 to prime the
// reply), with the service's counter, or four bytes a token without one.
func (s *Service) PromptTokens(c Completion) int {
	n := 3
	for _, m := range c.Messages {
		if s.Tokens != nil {
			n += s.Tokens.Count(m.Content) + 4
		} else {
			n += len(m.Content)/4 + 5
		}
	}
	return n
}

// buildPrompt numbers the passages that fit the context budget and builds
// the messages: system prompt with passages, bounded history, question.
func (s *Service) buildPrompt(req Request, found []Source) Completion {
	budget := s.ContextTokens
	if budget <= 0 {
		budget = 3000
	}
	var used []Source
	var ctxText strings.Builder
	spent := 0
	for _, src := range found {
		n := len(src.Text) / 4
		if s.Tokens != nil {
			n = s.Tokens.Count(src.Text)
		}
		if spent+n > budget && len(used) > 0 {
			break
		}
		spent += n
		used = append(used, src)
		fmt.Fprintf(&ctxText, "\n\n[%d] %s\n%s", len(used), src.Title, src.Text)
	}
	system := req.SystemPrompt
	if system == "" {
		system = DefaultSystemPrompt
	}
	if len(used) > 0 {
		system += "\n\nPassages:" + ctxText.String()
	} else {
		system += "\n\nNo passage matches this question."
	}
	msgs := []Message{{Role: "system", Content: system}}
	msgs = append(msgs, req.History...)
	msgs = append(msgs, Message{Role: "user", Content: req.Message})
	if used == nil {
		used = []Source{}
	}
	return Completion{Model: req.Model, Messages: msgs, Temperature: req.Temperature, Question: req.Message, Sources: used}
}
