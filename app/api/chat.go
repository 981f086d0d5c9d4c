package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/swaggest/jsonschema-go"
	"gorm.io/gorm"

	"tienda/app/chat"
	"tienda/app/obs"
	"tienda/app/web"
	"tienda/models"
)

// Request bodies of the chat API. They are decoded strictly (web.Decode:
// unknown fields refused, every bad field named) and checked by the models'
// validator against their `validate` tags, which also give the OpenAPI
// document its bounds: one rule source.
type (
	chatHistoryItem struct {
		Role    string `json:"role" validate:"required,oneof=user assistant"`
		Content string `json:"content" validate:"required,notblank,max=4096"`
	}
	chatRequestBody struct {
		Message      string            `json:"message" validate:"required,notblank,max=4096"`
		Model        string            `json:"model,omitempty" validate:"max=200"`
		SystemPrompt string            `json:"system_prompt,omitempty" validate:"max=4000"`
		Temperature  *float64          `json:"temperature,omitempty" validate:"omitempty,gte=0,lte=2"`
		TopK         *int              `json:"top_k,omitempty" validate:"omitempty,min=1,max=50"`
		History      []chatHistoryItem `json:"history,omitempty" validate:"max=20,dive"`
	}
	searchRequestBody struct {
		Query string `json:"query" validate:"required,notblank,max=1000"`
		TopK  *int   `json:"top_k,omitempty" validate:"omitempty,min=1,max=50"`
		Mode  string `json:"mode,omitempty" validate:"omitempty,oneof=keyword semantic hybrid"`
	}
	embeddingsRequestBody struct {
		Input          embeddingInput `json:"input" validate:"required,min=1,max=256,dive,min=1,max=8192" description:"A string, or a list of 1 to 256 strings, each 1 to 8192 characters."`
		Model          string         `json:"model,omitempty" validate:"max=200"`
		EncodingFormat string         `json:"encoding_format,omitempty" validate:"omitempty,oneof=float"`
	}
)

// SearchRequest is the document search's input, checked by the models'
// validator against its tags; GraphQL's searchDocuments checks its
// arguments with the same rules.
type SearchRequest = searchRequestBody

// singleInput reports whether the body's input is one string, not a list.
func singleInput(body []byte) bool {
	var in struct {
		Input json.RawMessage `json:"input"`
	}
	return json.Unmarshal(body, &in) == nil && len(in.Input) > 0 && in.Input[0] == '"'
}

// embeddingInput is OpenAI's input: one string or a list of strings. A
// list longer than MaxEmbeddingInputs is refused as too large (413) while
// it is read, before its strings are.
type embeddingInput []string

// JSONSchema documents both forms, with the bounds the validator enforces.
func (embeddingInput) JSONSchema() (jsonschema.Schema, error) {
	one := jsonschema.Schema{}
	one.WithType(jsonschema.String.Type()).WithMinLength(1).WithMaxLength(chat.MaxEmbeddingChars)
	many := jsonschema.Schema{}
	items := jsonschema.Items{}
	items.WithSchemaOrBool(one.ToSchemaOrBool())
	many.WithType(jsonschema.Array.Type()).WithMinItems(1).WithMaxItems(chat.MaxEmbeddingInputs).WithItems(items)
	out := jsonschema.Schema{}
	out.WithOneOf(one.ToSchemaOrBool(), many.ToSchemaOrBool())
	return out, nil
}

func (in *embeddingInput) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*in = embeddingInput{one}
		return nil
	}
	var many []json.RawMessage
	if err := json.Unmarshal(b, &many); err != nil {
		return &web.SubfieldError{Message: "must be a string or a list of strings"}
	}
	if len(many) > chat.MaxEmbeddingInputs {
		return &web.Error{Status: 413, Code: web.CodePayloadTooLarge, Message: fmt.Sprintf("At most %d inputs per request.", chat.MaxEmbeddingInputs),
			Fields: map[string]string{"input": fmt.Sprintf("must hold at most %d strings", chat.MaxEmbeddingInputs)}}
	}
	out := make(embeddingInput, len(many))
	for i, raw := range many {
		if err := json.Unmarshal(raw, &out[i]); err != nil {
			return &web.SubfieldError{Suffix: fmt.Sprintf("[%d]", i), Message: "must be a string"}
		}
	}
	*in = out
	return nil
}

// Responses of the chat API.
type (
	chatAnswer struct {
		Answer     string       `json:"answer"`
		Sources    []chatSource `json:"sources" description:"One per document, in citation order ([1] is the first). Empty when no passage is relevant enough: the answer then says the documents do not cover the question."`
		TokensUsed int          `json:"tokens_used"`
		Model      string       `json:"model"`
		LatencyMS  int64        `json:"latency_ms"`
		Retrieval  string       `json:"retrieval" enum:"hybrid,keyword" description:"How the sources were found: hybrid, or keyword when the question could not be embedded in time (the embedding server failed or was too slow)."`
	}
	chatModels struct {
		Models   []string `json:"models"`
		Default  string   `json:"default"`
		Provider string   `json:"provider"`
	}
	searchResults struct {
		Results []chat.Source `json:"results"`
		Mode    string        `json:"mode" enum:"keyword,semantic,hybrid" description:"The mode asked for."`
		// Retrieval is the mode used: Mode, or keyword after a fallback.
		Retrieval string `json:"retrieval" enum:"keyword,semantic,hybrid" description:"The retrieval used: the mode asked for, or keyword when the query could not be embedded in time (the embedding server failed or was too slow)."`
		TookMS    int64  `json:"took_ms"`
	}
	embeddingItem struct {
		Object    string    `json:"object"`
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	}
	embeddingList struct {
		Object string          `json:"object"`
		Data   []embeddingItem `json:"data"`
		Model  string          `json:"model"`
		Usage  struct {
			PromptTokens int `json:"prompt_tokens"`
			TotalTokens  int `json:"total_tokens"`
		} `json:"usage"`
	}
	sseStream string
)

// JSONSchema describes the events of the stream.
func (sseStream) JSONSchema() (jsonschema.Schema, error) {
	s := jsonschema.Schema{}
	s.WithType(jsonschema.String.Type()).WithDescription("Server-Sent Events, in order: `sources` " +
		`({"sources": [...], "retrieval": "hybrid"|"keyword"}; the sources as in POST /api/v1/chat: one per document, ` +
		`{"document_id", "title", "snippet", "chunk_id", "chunk", "score", "url", "more": [{"chunk_id", "chunk", "snippet", "score"}]}, ` +
		`in citation order, empty when no passage is relevant enough), ` + "`token` " + `({"delta": "..."}) ` +
		"repeated, then `done` " + `({"tokens_used", "latency_ms", "model", "retrieval"}) ` + "or `error` " +
		`({"code", "error"}). Comment lines (": ping") keep the connection alive.`)
	return s, nil
}

// Chat serves the knowledge base and chat API: chat (plain and streamed),
// document search, embeddings and the model list.
type Chat struct {
	Service   *chat.Service
	Retriever *chat.Retriever
	Embedder  chat.Embedder
	Provider  chat.Provider
	DB        *gorm.DB
	// Budget is each user's daily token budget (0: unlimited). A chat
	// reserves its prompt and the service's MaxTokens before the model is
	// called, so the budget is never passed by more than one max_tokens.
	Budget  int64
	Metrics *obs.Metrics
	Log     *slog.Logger
	// Ping is the keep-alive interval of event streams.
	Ping time.Duration
	// Draining is closed when shutdown begins; ShutdownTimeout bounds how
	// long open streams may still run then.
	Draining        <-chan struct{}
	ShutdownTimeout time.Duration
	// Validate checks request bodies (the models' validator).
	Validate *models.Validator
	// StreamTimeout bounds one event stream (0: none).
	StreamTimeout time.Duration
}

// parseChatRequest decodes and validates a chat body.
func (h *Chat) parseChatRequest(c *fiber.Ctx) (chat.Request, error) {
	var in chatRequestBody
	if err := web.Decode(c, &in, h.Validate); err != nil {
		return chat.Request{}, err
	}
	req := chat.Request{Message: in.Message, Model: in.Model, SystemPrompt: in.SystemPrompt, Temperature: in.Temperature, TopK: 5}
	if in.TopK != nil {
		req.TopK = *in.TopK
	}
	for _, m := range in.History {
		req.History = append(req.History, chat.Message{Role: m.Role, Content: m.Content})
	}
	return req, nil
}

// ChatError maps provider errors to the envelope (504 LLM_TIMEOUT, 503 or
// 502 LLM_UNAVAILABLE).
func ChatError(err error) *web.Error {
	var ue *chat.UpstreamError
	switch {
	case errors.Is(err, chat.ErrTimeout):
		return &web.Error{Status: 504, Code: web.CodeLLMTimeout, Message: "The language model did not answer in time."}
	case errors.As(err, &ue) && (ue.Status == 400 || ue.Status == 404 || ue.Status == 422):
		ae := &web.Error{Status: 422, Code: web.CodeValidation, Message: "The language model refused the request.", Detail: ue.Message}
		if ue.Status == 404 {
			ae.Fields = map[string]string{"model": "is not known to the language model server"}
		}
		return ae
	case errors.As(err, &ue) && ue.Status == 429:
		return &web.Error{Status: 503, Code: web.CodeLLMUnavailable, Message: "The language model is overloaded; try again shortly.",
			Headers: map[string]string{"Retry-After": "5"}}
	case errors.Is(err, chat.ErrStreamBroken), errors.Is(err, chat.ErrBadResponse):
		return &web.Error{Status: 502, Code: web.CodeLLMUnavailable, Message: "The language model sent an invalid or incomplete answer."}
	case errors.Is(err, chat.ErrUnavailable):
		return &web.Error{Status: 503, Code: web.CodeLLMUnavailable, Message: "The language model is unavailable; try again shortly.",
			Headers: map[string]string{"Retry-After": "30"}}
	}
	return web.AsError(err)
}

// checkBudget refuses at once a user who has spent (or reserved) the whole
// daily token budget; admit is the check that counts.
func (h *Chat) checkBudget(ctx context.Context, userID int64) error {
	if h.Budget <= 0 {
		return nil
	}
	used, err := models.TokensUsedOn(ctx, h.DB, userID, models.UsageDay(models.Now()))
	if err != nil {
		return err
	}
	if used < h.Budget {
		return nil
	}
	return h.overBudget(used, 0)
}

// budgetClaim is what a chat reserved of its user's day.
type budgetClaim struct {
	day      string
	reserved int64
}

// admit is the chat's Admit hook: it reserves the prompt and maxTokens of
// userID's day (atomically, in the database), refusing the chat with a 429
// when its prompt does not fit in what is left of the budget, and keeps
// what it reserved in claim for recordUsage to settle.
func (h *Chat) admit(userID int64, claim *budgetClaim) func(ctx context.Context, prompt, maxTokens int) error {
	return func(ctx context.Context, prompt, maxTokens int) error {
		day := models.UsageDay(models.Now())
		need := int64(prompt) + int64(maxTokens)
		ok, used, err := models.ReserveTokens(ctx, h.DB, userID, day, need, int64(prompt), h.Budget)
		if err != nil {
			return err
		}
		if !ok {
			return h.overBudget(used, prompt)
		}
		claim.day, claim.reserved = day, need
		return nil
	}
}

// overBudget is the 429 of a user whose day has used tokens of the budget
// (and whose message, when prompt > 0, needs prompt more).
func (h *Chat) overBudget(used int64, prompt int) *web.Error {
	now := models.Now()
	reset := now.Truncate(24 * time.Hour).Add(24 * time.Hour)
	secs := int64(reset.Sub(now).Seconds()) + 1
	detail := fmt.Sprintf("%d of %d tokens used today; the budget resets at %s.", used, h.Budget, reset.Format(time.RFC3339))
	if prompt > 0 && used < h.Budget {
		detail = fmt.Sprintf("%d of %d tokens used today, and this message needs about %d for its prompt; the budget resets at %s.",
			used, h.Budget, prompt, reset.Format(time.RFC3339))
	}
	return &web.Error{Status: 429, Code: web.CodeRateLimited, Message: "Your daily chat token budget is used up.",
		Detail: detail,
		Headers: map[string]string{
			"Retry-After":       strconv.FormatInt(secs, 10),
			"X-RateLimit-Limit": strconv.FormatInt(h.Budget, 10), "X-RateLimit-Reset": strconv.FormatInt(reset.Unix(), 10),
		}}
}

// refused reports whether the budget refused the chat before the model was
// called (nothing to record).
func refused(err error) bool {
	var ae *web.Error
	return errors.As(err, &ae) && ae.Code == web.CodeRateLimited
}

// recordUsage stores one message's usage and settles its reservation
// (never fails the request), and counts it in the metrics. It runs even
// when the request's context has ended, on a short deadline of its own.
func (h *Chat) recordUsage(userID int64, res chat.Result, outcome string, claim budgetClaim) {
	h.Metrics.ChatRequest(outcome)
	h.Metrics.TokensUsed("prompt", res.Usage.PromptTokens)
	h.Metrics.TokensUsed("completion", res.Usage.CompletionTokens)
	if outcome != "cancelled" && outcome != "shutdown" {
		var err error
		if outcome != "ok" {
			err = errors.New(outcome)
		}
		h.Metrics.LLMCall("chat", time.Duration(res.LatencyMS)*time.Millisecond, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	u := &models.ChatUsage{UserID: userID, Day: claim.day, Model: res.Model, PromptTokens: res.Usage.PromptTokens,
		CompletionTokens: res.Usage.CompletionTokens, TotalTokens: res.Usage.Total(), LatencyMS: res.LatencyMS, Outcome: outcome}
	if err := models.SettleUsage(ctx, h.DB, u, claim.reserved); err != nil {
		h.Log.Error("record chat usage", "err", err, "user_id", userID)
	}
}

// outcomeOf names how a chat ended, for the usage row and the metrics: ok,
// cancelled (the client went away), shutdown (the server stopped it),
// timeout or error.
func outcomeOf(ctx context.Context, err error) string {
	cause := context.Cause(ctx)
	switch {
	case err == nil:
		return "ok"
	case errors.Is(cause, errShuttingDown):
		return "shutdown"
	case errors.Is(cause, errClientGone), errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, chat.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	default:
		return "error"
	}
}

// watchRequest derives the handler's context from the request's: it ends
// (cause errClientGone) as soon as the client closes its connection, and
// stop, to call before the handler returns, ends the watch.
func watchRequest(c *fiber.Ctx) (ctx context.Context, cancel context.CancelCauseFunc, stop func()) {
	ctx, cancel = context.WithCancelCause(c.UserContext())
	stopWatch := watchClient(c.Context().Conn(), func() { cancel(errClientGone) })
	return ctx, cancel, func() {
		stopWatch()
		cancel(nil)
	}
}

// clientGone answers a request whose client left (nobody reads it; the
// access log shows 499) and closes the connection.
func clientGone(c *fiber.Ctx) error {
	c.Context().SetConnectionClose()
	return c.SendStatus(StatusClientClosedRequest)
}

// cancelOnDrain cancels ctx (cause errShuttingDown) once shutdown has begun
// and drainTime has passed, so that a chat still waiting for its answer
// then gets a 503 while the server can still send it. stop ends the watch.
func (h *Chat) cancelOnDrain(ctx context.Context, cancel context.CancelCauseFunc) (stop func()) {
	if h.Draining == nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			return
		case <-done:
			return
		case <-h.Draining:
		}
		t := time.NewTimer(drainTime(h.ShutdownTimeout))
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-done:
		case <-t.C:
			cancel(errShuttingDown)
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done) }) }
}

// chatSource is a source as clients see it: one per document, numbered
// as the answer cites them ([1] is the first), with the document's best
// passage and its other passages under more.
type chatSource struct {
	DocumentID int64         `json:"document_id"`
	Title      string        `json:"title"`
	Snippet    string        `json:"snippet" description:"The best passage of the document, HTML-escaped, matching words in <mark>."`
	ChunkID    int64         `json:"chunk_id" description:"The best passage's chunk."`
	Chunk      int           `json:"chunk" description:"The best passage's position in the document, from 0."`
	Score      float64       `json:"score" description:"The best passage's retrieval score (hybrid: reciprocal rank fusion)."`
	URL        string        `json:"url"`
	More       []chatPassage `json:"more" description:"The document's other retrieved passages, best first (often empty); given to the model under the same citation number."`
}

// chatPassage is another passage of a source's document.
type chatPassage struct {
	ChunkID int64   `json:"chunk_id"`
	Chunk   int     `json:"chunk" description:"Position in the document, from 0."`
	Snippet string  `json:"snippet"`
	Score   float64 `json:"score"`
}

func chatSources(in []chat.Cited) []chatSource {
	out := make([]chatSource, len(in))
	for i, s := range in {
		more := make([]chatPassage, len(s.More))
		for j, m := range s.More {
			more[j] = chatPassage{ChunkID: m.ChunkID, Chunk: m.Chunk, Snippet: m.Snippet, Score: m.Score}
		}
		out[i] = chatSource{DocumentID: s.DocumentID, Title: s.Title, Snippet: s.Snippet, ChunkID: s.ChunkID,
			Chunk: s.Chunk, Score: s.Score, URL: "/api/v1/documents/" + strconv.FormatInt(s.DocumentID, 10), More: more}
	}
	return out
}

// Chat answers one message: {answer, sources, tokens_used, model,
// latency_ms, retrieval}. A client that closes its connection cancels the
// model's call at once; a chat still running late in a shutdown answers 503.
func (h *Chat) Chat(c *fiber.Ctx) error {
	if err := web.Require(c, "view", "chat"); err != nil {
		return err
	}
	req, err := h.parseChatRequest(c)
	if err != nil {
		return err
	}
	p := web.PrincipalOf(c)
	if err := h.checkBudget(c.UserContext(), p.UserID); err != nil {
		return err
	}
	ctx, cancel, stop := watchRequest(c)
	defer stop()
	stopDrain := h.cancelOnDrain(ctx, cancel)
	var claim budgetClaim
	req.Admit = h.admit(p.UserID, &claim)
	res, err := h.Service.Chat(ctx, req, func(chat.Event) error { return nil })
	stopDrain()
	outcome := outcomeOf(ctx, err)
	if !refused(err) {
		h.recordUsage(p.UserID, res, outcome, claim)
	}
	web.Log(c, h.Log).InfoContext(ctx, "chat answered", "user_id", p.UserID, "model", res.Model, "tokens", res.Usage.Total(),
		"latency_ms", res.LatencyMS, "sources", len(res.Sources), "retrieval", res.Retrieval, "outcome", outcome)
	switch {
	case err == nil:
	case outcome == "shutdown":
		return &web.Error{Status: 503, Code: web.CodeUnavailable, Message: "The server is restarting; ask again in a moment.",
			Headers: map[string]string{fiber.HeaderRetryAfter: "5"}}
	case errors.Is(context.Cause(ctx), errClientGone):
		return clientGone(c)
	default:
		return ChatError(err)
	}
	return c.JSON(chatAnswer{
		Answer: res.Answer, Sources: chatSources(res.Sources), TokensUsed: res.Usage.Total(),
		Model: res.Model, LatencyMS: res.LatencyMS, Retrieval: res.Retrieval,
	})
}

// Models lists the models the playground offers.
func (h *Chat) Models(c *fiber.Ctx) error {
	if err := web.Require(c, "view", "chat"); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), 5*time.Second)
	defer cancel()
	def := h.Provider.DefaultModel()
	list, err := h.Provider.Models(ctx)
	if err != nil || len(list) == 0 {
		if err != nil {
			web.Log(c, h.Log).Warn("list models", "err", err)
		}
		list = []string{def}
	}
	return c.JSON(chatModels{Models: list, Default: def, Provider: h.Provider.Name()})
}

// Search: {query, top_k, mode} → ranked chunks.
func (h *Chat) Search(c *fiber.Ctx) error {
	if err := web.Require(c, "view", "document"); err != nil {
		return err
	}
	var in searchRequestBody
	if err := web.Decode(c, &in, h.Validate); err != nil {
		return err
	}
	query, topK, mode := in.Query, 5, in.Mode
	if in.TopK != nil {
		topK = *in.TopK
	}
	if mode == "" {
		mode = chat.ModeHybrid
	}
	start := time.Now()
	ctx, _, stop := watchRequest(c)
	defer stop()
	res, retrieval, err := h.Retriever.Search(ctx, query, topK, mode)
	if err != nil {
		if errors.Is(context.Cause(ctx), errClientGone) {
			return clientGone(c)
		}
		return ChatError(err)
	}
	return c.JSON(searchResults{Results: res, Mode: mode, Retrieval: retrieval, TookMS: time.Since(start).Milliseconds()})
}

// Embeddings: OpenAI's embeddings shape.
func (h *Chat) Embeddings(c *fiber.Ctx) error {
	if err := web.Require(c, "view", "chat"); err != nil {
		return err
	}
	var in embeddingsRequestBody
	if err := web.Decode(c, &in, h.Validate); err != nil {
		var ve *models.ValidationError
		if errors.As(err, &ve) && singleInput(c.Body()) {
			if msg, ok := ve.Fields["input[0]"]; ok {
				// One string was sent, so it is "input" that is wrong.
				delete(ve.Fields, "input[0]")
				ve.Fields["input"] = msg
			}
		}
		return err
	}
	if in.Model != "" && in.Model != h.Embedder.Model() {
		return web.Invalid(map[string]string{"model": "must be " + h.Embedder.Model() + " (the configured embedding model)"})
	}
	inputs := []string(in.Input)
	ctx, _, stop := watchRequest(c)
	defer stop()
	vecs, tokens, err := h.Embedder.Embed(ctx, inputs)
	if err != nil {
		if errors.Is(context.Cause(ctx), errClientGone) {
			return clientGone(c)
		}
		return ChatError(err)
	}
	data := make([]embeddingItem, len(vecs))
	for i, v := range vecs {
		data[i] = embeddingItem{Object: "embedding", Index: i, Embedding: v}
	}
	out := embeddingList{Object: "list", Data: data, Model: h.Embedder.Model()}
	out.Usage.PromptTokens, out.Usage.TotalTokens = tokens, tokens
	return c.JSON(out)
}
