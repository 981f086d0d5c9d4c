package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"gorm.io/gorm"

	"tienda/app/chat"
	"tienda/app/obs"
	"tienda/app/web"
	"tienda/models"
)

// Request bodies of the chat API, as documented in the OpenAPI document.
// The handlers parse them field by field (to name every bad field), with
// the limits above; TestChatDocTypesMatchLimits keeps the two in step.
type (
	chatHistoryItem struct {
		Role    string `json:"role" validate:"required,oneof=user assistant"`
		Content string `json:"content" validate:"required,min=1,max=4096"`
	}
	chatRequestBody struct {
		Message      string            `json:"message" validate:"required,min=1,max=4096"`
		Model        string            `json:"model,omitempty" validate:"max=200"`
		SystemPrompt string            `json:"system_prompt,omitempty" validate:"max=4000"`
		Temperature  *float64          `json:"temperature,omitempty" validate:"omitempty,gte=0,lte=2"`
		TopK         int               `json:"top_k,omitempty" validate:"omitempty,min=1,max=50"`
		History      []chatHistoryItem `json:"history,omitempty" validate:"max=20,dive"`
	}
	searchRequestBody struct {
		Query string `json:"query" validate:"required,min=1,max=1000"`
		TopK  int    `json:"top_k,omitempty" validate:"omitempty,min=1,max=50"`
		Mode  string `json:"mode,omitempty" validate:"omitempty,oneof=keyword semantic hybrid"`
	}
	embeddingsRequestBody struct {
		// Input is a string or a list of at most 256 strings of 1 to 8192 characters.
		Input          any    `json:"input" validate:"required" description:"A string, or a list of 1 to 256 strings, each 1 to 8192 characters."`
		Model          string `json:"model,omitempty" validate:"max=200"`
		EncodingFormat string `json:"encoding_format,omitempty" validate:"omitempty,oneof=float"`
	}
)

// Responses of the chat API.
type (
	chatAnswer struct {
		Answer     string       `json:"answer"`
		Sources    []chatSource `json:"sources"`
		TokensUsed int          `json:"tokens_used"`
		Model      string       `json:"model"`
		LatencyMS  int64        `json:"latency_ms"`
	}
	chatModels struct {
		Models   []string `json:"models"`
		Default  string   `json:"default"`
		Provider string   `json:"provider"`
	}
	searchResults struct {
		Results []chat.Source `json:"results"`
		Mode    string        `json:"mode"`
		TookMS  int64         `json:"took_ms"`
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

// Chat serves the knowledge base and chat API: chat (plain and streamed),
// document search, embeddings and the model list.
type Chat struct {
	Service   *chat.Service
	Retriever *chat.Retriever
	Embedder  chat.Embedder
	Provider  chat.Provider
	DB        *gorm.DB
	// Budget is each user's daily token budget (0: unlimited).
	Budget  int64
	Metrics *obs.Metrics
	Log     *slog.Logger
	// Ping is the keep-alive interval of event streams.
	Ping time.Duration
	// Draining is closed when shutdown begins; ShutdownTimeout bounds how
	// long open streams may still run then.
	Draining        <-chan struct{}
	ShutdownTimeout time.Duration
	// StreamTimeout bounds one event stream (0: none).
	StreamTimeout time.Duration
}

// strictFields decodes the body as a JSON object and checks that every
// key is allowed; values are decoded by the caller.
func strictFields(c *fiber.Ctx, allowed ...string) (map[string]json.RawMessage, map[string]string, error) {
	obj, err := web.DecodeObject(c)
	if err != nil {
		return nil, nil, err
	}
	ok := map[string]bool{}
	for _, a := range allowed {
		ok[a] = true
	}
	fields := map[string]string{}
	for k := range obj {
		if !ok[k] {
			fields[k] = "is not a known field"
		}
	}
	return obj, fields, nil
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

// decodeString reads a string field with a length bound in characters.
func decodeString(obj map[string]json.RawMessage, fields map[string]string, name string, required bool, minChars, maxChars int) string {
	raw, ok := obj[name]
	if !ok || isNull(raw) {
		if required {
			fields[name] = "is required"
		}
		return ""
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		fields[name] = "must be a string"
		return ""
	}
	n := utf8.RuneCountInString(v)
	switch {
	case !utf8.ValidString(v):
		fields[name] = "must be valid UTF-8"
	case n > maxChars:
		fields[name] = fmt.Sprintf("must be at most %d characters", maxChars)
	case n < minChars || (minChars > 0 && strings.TrimSpace(v) == ""):
		fields[name] = fmt.Sprintf("must be %d to %d characters", minChars, maxChars)
	}
	return v
}

// decodeInt reads an integer field in [lo, hi]; def when absent.
func decodeInt(obj map[string]json.RawMessage, fields map[string]string, name string, lo, hi, def int) int {
	raw, ok := obj[name]
	if !ok || isNull(raw) {
		return def
	}
	var v int
	if err := json.Unmarshal(raw, &v); err != nil || v < lo || v > hi {
		fields[name] = fmt.Sprintf("must be a whole number from %d to %d", lo, hi)
		return def
	}
	return v
}

// chatRequest parses and validates a chat body.
func parseChatRequest(c *fiber.Ctx) (chat.Request, error) {
	obj, fields, err := strictFields(c, "message", "model", "system_prompt", "temperature", "top_k", "history")
	if err != nil {
		return chat.Request{}, err
	}
	req := chat.Request{
		Message:      decodeString(obj, fields, "message", true, 1, chat.MaxMessageChars),
		Model:        decodeString(obj, fields, "model", false, 0, chat.MaxModelChars),
		SystemPrompt: decodeString(obj, fields, "system_prompt", false, 0, chat.MaxSystemPromptChars),
		TopK:         decodeInt(obj, fields, "top_k", 1, chat.MaxTopK, 5),
	}
	if raw, ok := obj["temperature"]; ok && !isNull(raw) {
		var t float64
		if err := json.Unmarshal(raw, &t); err != nil || t < 0 || t > 2 {
			fields["temperature"] = "must be a number from 0 to 2"
		} else {
			req.Temperature = &t
		}
	}
	if raw, ok := obj["history"]; ok && !isNull(raw) {
		var items []map[string]json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			fields["history"] = "must be a list of {role, content} objects"
		} else if len(items) > chat.MaxHistory {
			fields["history"] = fmt.Sprintf("must hold at most %d messages", chat.MaxHistory)
		} else {
			for i, it := range items {
				sub := map[string]string{}
				for k := range it {
					if k != "role" && k != "content" {
						sub[k] = "is not a known field"
					}
				}
				role := decodeString(it, sub, "role", true, 1, 20)
				content := decodeString(it, sub, "content", true, 1, chat.MaxMessageChars)
				if _, bad := sub["role"]; !bad && role != "user" && role != "assistant" {
					sub["role"] = "must be user or assistant"
				}
				for k, v := range sub {
					fields[fmt.Sprintf("history[%d].%s", i, k)] = v
				}
				req.History = append(req.History, chat.Message{Role: role, Content: strings.Clone(content)})
			}
		}
	}
	if len(fields) > 0 {
		return req, web.Invalid(fields)
	}
	// The body buffer is reused by fasthttp: keep copies.
	req.Message, req.Model, req.SystemPrompt = strings.Clone(req.Message), strings.Clone(req.Model), strings.Clone(req.SystemPrompt)
	return req, nil
}

// chatError maps provider errors to the envelope (504 LLM_TIMEOUT, 503 or
// 502 LLM_UNAVAILABLE).
func chatError(err error) *web.Error {
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

// checkBudget refuses a user who has spent the daily token budget.
func (h *Chat) checkBudget(ctx context.Context, userID int64) error {
	budget := h.Budget
	if budget <= 0 {
		return nil
	}
	now := models.Now()
	used, err := models.TokensUsedOn(ctx, h.DB, userID, models.UsageDay(now))
	if err != nil {
		return err
	}
	if used < budget {
		return nil
	}
	reset := now.Truncate(24 * time.Hour).Add(24 * time.Hour)
	secs := int64(reset.Sub(now).Seconds()) + 1
	return &web.Error{Status: 429, Code: web.CodeRateLimited, Message: "Your daily chat token budget is used up.",
		Detail: fmt.Sprintf("%d of %d tokens used today; the budget resets at %s.", used, budget, reset.Format(time.RFC3339)),
		Headers: map[string]string{
			"Retry-After":       strconv.FormatInt(secs, 10),
			"X-RateLimit-Limit": strconv.FormatInt(budget, 10), "X-RateLimit-Reset": strconv.FormatInt(reset.Unix(), 10),
		}}
}

// recordUsage stores one message's usage (never fails the request) and
// counts it in the metrics.
func (h *Chat) recordUsage(userID int64, res chat.Result, outcome string) {
	h.Metrics.ChatRequest(outcome)
	h.Metrics.TokensUsed("prompt", res.Usage.PromptTokens)
	h.Metrics.TokensUsed("completion", res.Usage.CompletionTokens)
	if outcome != "cancelled" {
		var err error
		if outcome != "ok" {
			err = errors.New(outcome)
		}
		h.Metrics.LLMCall("chat", time.Duration(res.LatencyMS)*time.Millisecond, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	u := &models.ChatUsage{UserID: userID, Model: res.Model, PromptTokens: res.Usage.PromptTokens,
		CompletionTokens: res.Usage.CompletionTokens, TotalTokens: res.Usage.Total(), LatencyMS: res.LatencyMS, Outcome: outcome}
	if err := models.RecordUsage(ctx, h.DB, u); err != nil {
		h.Log.Error("record chat usage", "err", err, "user_id", userID)
	}
}

func outcomeOf(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, chat.ErrTimeout):
		return "timeout"
	default:
		return "error"
	}
}

// chatSource is a source as clients see it.
type chatSource struct {
	DocumentID int64  `json:"document_id"`
	Title      string `json:"title"`
	Snippet    string `json:"snippet"`
	ChunkID    int64  `json:"chunk_id"`
	URL        string `json:"url"`
}

func chatSources(in []chat.Source) []chatSource {
	out := make([]chatSource, len(in))
	for i, s := range in {
		out[i] = chatSource{DocumentID: s.DocumentID, Title: s.Title, Snippet: s.Snippet, ChunkID: s.ChunkID,
			URL: "/api/v1/documents/" + strconv.FormatInt(s.DocumentID, 10)}
	}
	return out
}

// Chat answers one message: {answer, sources, tokens_used, model, latency_ms}.
func (h *Chat) Chat(c *fiber.Ctx) error {
	if err := web.Require(c, "view", "chat"); err != nil {
		return err
	}
	req, err := parseChatRequest(c)
	if err != nil {
		return err
	}
	p := web.PrincipalOf(c)
	ctx := c.UserContext()
	if err := h.checkBudget(ctx, p.UserID); err != nil {
		return err
	}
	res, err := h.Service.Chat(ctx, req, func(chat.Event) error { return nil })
	h.recordUsage(p.UserID, res, outcomeOf(err))
	web.Log(c, h.Log).InfoContext(ctx, "chat answered", "user_id", p.UserID, "model", res.Model, "tokens", res.Usage.Total(),
		"latency_ms", res.LatencyMS, "sources", len(res.Sources), "outcome", outcomeOf(err))
	if err != nil {
		return chatError(err)
	}
	return c.JSON(chatAnswer{
		Answer: res.Answer, Sources: chatSources(res.Sources), TokensUsed: res.Usage.Total(),
		Model: res.Model, LatencyMS: res.LatencyMS,
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
	obj, fields, err := strictFields(c, "query", "top_k", "mode")
	if err != nil {
		return err
	}
	query := decodeString(obj, fields, "query", true, 1, chat.MaxQueryChars)
	topK := decodeInt(obj, fields, "top_k", 1, chat.MaxTopK, 5)
	mode := decodeString(obj, fields, "mode", false, 0, 20)
	if _, bad := fields["mode"]; !bad {
		switch mode {
		case "":
			mode = chat.ModeHybrid
		case chat.ModeKeyword, chat.ModeSemantic, chat.ModeHybrid:
		default:
			fields["mode"] = "must be keyword, semantic or hybrid"
		}
	}
	if len(fields) > 0 {
		return web.Invalid(fields)
	}
	start := time.Now()
	res, err := h.Retriever.Search(c.UserContext(), strings.Clone(query), topK, mode)
	if err != nil {
		return chatError(err)
	}
	return c.JSON(searchResults{Results: res, Mode: mode, TookMS: time.Since(start).Milliseconds()})
}

// Embeddings: OpenAI's embeddings shape.
func (h *Chat) Embeddings(c *fiber.Ctx) error {
	if err := web.Require(c, "view", "chat"); err != nil {
		return err
	}
	obj, fields, err := strictFields(c, "input", "model", "encoding_format")
	if err != nil {
		return err
	}
	var inputs []string
	raw, ok := obj["input"]
	switch {
	case !ok || isNull(raw):
		fields["input"] = "is required"
	default:
		var one string
		var many []json.RawMessage
		if json.Unmarshal(raw, &one) == nil {
			inputs = []string{one}
		} else if json.Unmarshal(raw, &many) == nil {
			if len(many) == 0 {
				fields["input"] = "must not be empty"
			} else if len(many) > chat.MaxEmbeddingInputs {
				return &web.Error{Status: 413, Code: web.CodePayloadTooLarge, Message: fmt.Sprintf("At most %d inputs per request.", chat.MaxEmbeddingInputs),
					Fields: map[string]string{"input": fmt.Sprintf("must hold at most %d strings", chat.MaxEmbeddingInputs)}}
			}
			for i, r := range many {
				var v string
				if err := json.Unmarshal(r, &v); err != nil {
					fields[fmt.Sprintf("input[%d]", i)] = "must be a string"
					continue
				}
				inputs = append(inputs, v)
			}
		} else {
			fields["input"] = "must be a string or a list of strings"
		}
	}
	for i, in := range inputs {
		n := utf8.RuneCountInString(in)
		if n == 0 || n > chat.MaxEmbeddingChars {
			key := "input"
			if len(inputs) > 1 || !strings.HasPrefix(strings.TrimSpace(string(raw)), `"`) {
				key = fmt.Sprintf("input[%d]", i)
			}
			fields[key] = fmt.Sprintf("must be 1 to %d characters", chat.MaxEmbeddingChars)
		}
	}
	model := decodeString(obj, fields, "model", false, 0, chat.MaxModelChars)
	if _, bad := fields["model"]; !bad && model != "" && model != h.Embedder.Model() {
		fields["model"] = "must be " + h.Embedder.Model() + " (the configured embedding model)"
	}
	if f := decodeString(obj, fields, "encoding_format", false, 0, 10); f != "" && f != "float" {
		fields["encoding_format"] = "must be float"
	}
	if len(fields) > 0 {
		return web.Invalid(fields)
	}
	for i := range inputs {
		inputs[i] = strings.Clone(inputs[i])
	}
	vecs, tokens, err := h.Embedder.Embed(c.UserContext(), inputs)
	if err != nil {
		return chatError(err)
	}
	data := make([]embeddingItem, len(vecs))
	for i, v := range vecs {
		data[i] = embeddingItem{Object: "embedding", Index: i, Embedding: v}
	}
	out := embeddingList{Object: "list", Data: data, Model: h.Embedder.Model()}
	out.Usage.PromptTokens, out.Usage.TotalTokens = tokens, tokens
	return c.JSON(out)
}
