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
	Sources []Cited // sources: one per document, numbered as cited
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
	Sources   []Cited
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

// NoPassagePrompt ends the system prompt when no retrieved passage is
// relevant: the model is still called (it answers in the user's language,
// and a custom system prompt keeps its say), but has nothing to cite.
const NoPassagePrompt = "No passage of the documents is relevant to this message. Say that the documents do not cover it. Cite nothing, and do not make up an answer."

// NotCovered is how the extractive provider answers when no passage is
// relevant.
const NotCovered = "The documents do not cover this question."

// Cited is one source of an answer: a document, with its best retrieved
// chunk (the embedded Source) and its other retrieved chunks, best first.
// All of them are given to the model under the document's one number.
type Cited struct {
	Source
	More []Source
}

// Passages are the document's retrieved chunks, best first.
func (c Cited) Passages() []Source {
	return append([]Source{c.Source}, c.More...)
}

// GroupByDocument folds ranked chunks into one Cited per document, in the
// order of each document's best chunk; its other chunks keep their rank
// order under it.
func GroupByDocument(ranked []Source) []Cited {
	out := []Cited{}
	at := map[int64]int{}
	for _, s := range ranked {
		if i, ok := at[s.DocumentID]; ok {
			out[i].More = append(out[i].More, s)
			continue
		}
		at[s.DocumentID] = len(out)
		out = append(out, Cited{Source: s})
	}
	return out
}

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
	// Unrelated passages are not given to the model, nor shown as sources.
	relevant := make([]Source, 0, len(found))
	for _, src := range found {
		if src.Relevant {
			relevant = append(relevant, src)
		}
	}
	if len(relevant) < len(found) && s.Log != nil {
		s.Log.DebugContext(ctx, "chat passages below the relevance bar left out", "retrieved", len(found), "relevant", len(relevant))
	}
	found = relevant
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

// buildPrompt keeps the best passages that fit the context budget, folds
// them by document and builds the messages: system prompt with the
// documents numbered as the sources are (a document's passages all under
// its one number, so the model's [1] is the first source shown), bounded
// history, question.
func (s *Service) buildPrompt(req Request, found []Source) Completion {
	budget := s.ContextTokens
	if budget <= 0 {
		budget = 3000
	}
	var fit []Source
	spent := 0
	for _, src := range found {
		n := len(src.Text) / 4
		if s.Tokens != nil {
			n = s.Tokens.Count(src.Text)
		}
		if spent+n > budget && len(fit) > 0 {
			break
		}
		spent += n
		fit = append(fit, src)
	}
	cited := GroupByDocument(fit)
	var ctxText strings.Builder
	for i, c := range cited {
		fmt.Fprintf(&ctxText, "\n\n[%d] %s", i+1, c.Title)
		for j, p := range c.Passages() {
			if j > 0 {
				ctxText.WriteString("\n…")
			}
			ctxText.WriteString("\n" + p.Text)
		}
	}
	system := req.SystemPrompt
	if system == "" {
		system = DefaultSystemPrompt
	}
	if len(cited) > 0 {
		system += "\n\nPassages:" + ctxText.String()
	} else {
		system += "\n\n" + NoPassagePrompt
	}
	msgs := []Message{{Role: "system", Content: system}}
	msgs = append(msgs, req.History...)
	msgs = append(msgs, Message{Role: "user", Content: req.Message})
	return Completion{Model: req.Model, Messages: msgs, Temperature: req.Temperature, Question: req.Message, Sources: cited}
}
