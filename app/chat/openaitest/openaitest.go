// Package openaitest is an in-process HTTP server that speaks the OpenAI
// wire format (chat completions as JSON or `data:` SSE chunks ending with
// `[DONE]`, usage, `max_tokens`, embeddings, the model list) and misbehaves
// on request, on chat completions and embeddings alike: error statuses with
// Retry-After, stalls before the first byte, connection resets, slow
// answers, streams (and bodies) that hang halfway, garbage, broken streams.
// It records when each request's client went away, so tests can prove that
// an upstream call was cancelled, and when. Tests point the real providers
// at it, so the whole client path is exercised.
package openaitest

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Mode says how the server answers a request.
type Mode int

// Modes. Chat completions know them all; embeddings know Normal, Status,
// Stall, Reset, Hang and Garbage (and Delay).
const (
	Normal  Mode = iota // stream (or return) the tokens, or the vectors
	Status              // answer Status with an OpenAI error body (and Retry-After)
	Stall               // send nothing until the client gives up
	Broken              // send BreakAfter tokens, then drop the connection
	Garbage             // 200 with a stream (or body) that is not JSON
	// Reset drops the connection with a TCP reset before a byte is sent.
	Reset
	// Hang sends the headers and HangAfter tokens (embeddings: the first
	// half of the JSON body), then nothing more until the client gives up.
	Hang
)

// Reply scripts one answer.
type Reply struct {
	Mode   Mode
	Tokens []string
	// Delay is the wait before every chunk, the first included (a model
	// that answers slowly); for embeddings, the wait before the answer.
	Delay      time.Duration
	Status     int
	RetryAfter string
	BreakAfter int
	HangAfter  int
	// NoUsage leaves the usage chunk out (some servers send none).
	NoUsage bool
}

// Request is a request the server saw.
type Request struct {
	Path string
	Body map[string]any
	// Start is when the request arrived.
	Start time.Time
}

// Server is the fake. Script chat replies with Push and embeddings replies
// with PushEmbeddings; when a script is empty, Default (chat) or
// EmbedDefault (embeddings) answers. Change the defaults while requests may
// run with SetDefault and SetEmbedDefault.
type Server struct {
	*httptest.Server
	mu           sync.Mutex
	script       []Reply
	embedScript  []Reply
	Default      Reply
	EmbedDefault Reply
	// ModelsReply answers /v1/models (Normal, Status, Stall or Reset).
	ModelsReply Reply
	Models      []string
	requests    []Request
	cancelled   int
	cancelledAt []time.Time
	completed   int
	cancelCh    chan struct{}
}

// New starts a server; Close it when done.
func New() *Server {
	s := &Server{
		Default:  Reply{Tokens: []string{"Hello", ", ", "world", "."}},
		Models:   []string{"fake-chat-1", "fake-chat-2"},
		cancelCh: make(chan struct{}, 64),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", s.chat)
	mux.HandleFunc("POST /v1/embeddings", s.embeddings)
	mux.HandleFunc("GET /v1/models", s.models)
	s.Server = httptest.NewServer(mux)
	return s
}

// BaseURL is the URL to give to clients (ends in /v1).
func (s *Server) BaseURL() string { return s.URL + "/v1" }

// Push appends replies to the chat completions script.
func (s *Server) Push(r ...Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = append(s.script, r...)
}

// PushEmbeddings appends replies to the embeddings script.
func (s *Server) PushEmbeddings(r ...Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.embedScript = append(s.embedScript, r...)
}

// SetDefault changes the chat reply used when the script is empty.
func (s *Server) SetDefault(r Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Default = r
}

// SetEmbedDefault changes the embeddings reply used when its script is empty.
func (s *Server) SetEmbedDefault(r Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.EmbedDefault = r
}

// Requests returns the requests seen so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// ChatRequests counts chat completion requests.
func (s *Server) ChatRequests() int {
	n := 0
	for _, r := range s.Requests() {
		if r.Path == "/v1/chat/completions" {
			n++
		}
	}
	return n
}

// EmbeddingRequests counts embeddings requests.
func (s *Server) EmbeddingRequests() int {
	n := 0
	for _, r := range s.Requests() {
		if r.Path == "/v1/embeddings" {
			n++
		}
	}
	return n
}

// Cancelled counts requests whose client went away before the end.
func (s *Server) Cancelled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cancelled
}

// CancelledAt returns when the server saw each cancelled request's client
// go away (its connection closed), in order.
func (s *Server) CancelledAt() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.cancelledAt...)
}

// CancelledCh receives once per cancelled request.
func (s *Server) CancelledCh() <-chan struct{} { return s.cancelCh }

// Completed counts chat requests answered to the end.
func (s *Server) Completed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.completed
}

func (s *Server) record(r *http.Request) map[string]any {
	body, _ := io.ReadAll(r.Body)
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	s.mu.Lock()
	s.requests = append(s.requests, Request{Path: r.URL.Path, Body: m, Start: time.Now()})
	s.mu.Unlock()
	return m
}

func (s *Server) next() Reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.script) > 0 {
		r := s.script[0]
		s.script = s.script[1:]
		return r
	}
	return s.Default
}

func (s *Server) nextEmbed() Reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.embedScript) > 0 {
		r := s.embedScript[0]
		s.embedScript = s.embedScript[1:]
		return r
	}
	return s.EmbedDefault
}

// markCancelled records that the request's client went away; net/http
// cancels the request's context as soon as it sees the connection close.
func (s *Server) markCancelled() {
	s.mu.Lock()
	s.cancelled++
	s.cancelledAt = append(s.cancelledAt, time.Now())
	s.mu.Unlock()
	select {
	case s.cancelCh <- struct{}{}:
	default:
	}
}

func writeError(w http.ResponseWriter, status int, retryAfter string) {
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	typ := "server_error"
	if status == 429 {
		typ = "rate_limit_exceeded"
	}
	fmt.Fprintf(w, `{"error":{"message":"fake %d","type":%q,"param":null,"code":%q}}`, status, typ, typ)
}

// wait sleeps d unless the client goes away first (reported as false).
func wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return r.Context().Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-r.Context().Done():
		return false
	case <-t.C:
		return true
	}
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	body := s.record(r)
	reply := s.next()
	model, _ := body["model"].(string)
	stream, _ := body["stream"].(bool)
	switch reply.Mode {
	case Status:
		writeError(w, reply.Status, reply.RetryAfter)
		return
	case Stall:
		<-r.Context().Done()
		s.markCancelled()
		return
	case Reset:
		reset(w)
		return
	}
	tokens := reply.Tokens
	finish := "stop"
	if mt, ok := body["max_tokens"].(float64); ok && int(mt) < len(tokens) {
		// As real servers do: the answer stops at max_tokens.
		tokens, finish = tokens[:int(mt)], "length"
	}
	prompt := 0
	if msgs, ok := body["messages"].([]any); ok {
		for _, m := range msgs {
			if mm, ok := m.(map[string]any); ok {
				c, _ := mm["content"].(string)
				prompt += len(strings.Fields(c))
			}
		}
	}
	usage := fmt.Sprintf(`{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}`, prompt, len(tokens), prompt+len(tokens))
	if !stream {
		w.Header().Set("Content-Type", "application/json")
		content, _ := json.Marshal(strings.Join(tokens, ""))
		fmt.Fprintf(w, `{"id":"chatcmpl-fake","object":"chat.completion","created":1700000000,"model":%q,"choices":[{"index":0,"message":{"role":"assistant","content":%s},"finish_reason":%q}],"usage":%s}`,
			model, content, finish, usage)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(200)
	fl, _ := w.(http.Flusher)
	send := func(data string) bool {
		if _, err := fmt.Fprintf(w, "data: %s\n\n", data); err != nil {
			return false
		}
		if fl != nil {
			fl.Flush()
		}
		return true
	}
	if reply.Mode == Garbage {
		send(`{"id": not json at all`)
		return
	}
	chunk := func(delta, finish string) string {
		d, _ := json.Marshal(map[string]any{"content": delta})
		if delta == "" {
			d = []byte("{}")
		}
		fin := "null"
		if finish != "" {
			fin = `"` + finish + `"`
		}
		return fmt.Sprintf(`{"id":"chatcmpl-fake","object":"chat.completion.chunk","created":1700000000,"model":%q,"choices":[{"index":0,"delta":%s,"finish_reason":%s}],"usage":null}`, model, d, fin)
	}
	if reply.Mode == Hang && reply.HangAfter == 0 && fl != nil {
		// Headers sent, then silence.
		fl.Flush()
	}
	for i, tok := range tokens {
		if reply.Mode == Broken && i == reply.BreakAfter {
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					_ = conn.Close()
				}
			}
			return
		}
		if reply.Mode == Hang && i == reply.HangAfter {
			<-r.Context().Done()
			s.markCancelled()
			return
		}
		if !wait(r, reply.Delay) || !send(chunk(tok, "")) {
			s.markCancelled()
			return
		}
	}
	if reply.Mode == Hang {
		<-r.Context().Done()
		s.markCancelled()
		return
	}
	send(chunk("", finish))
	if !reply.NoUsage {
		send(fmt.Sprintf(`{"id":"chatcmpl-fake","object":"chat.completion.chunk","created":1700000000,"model":%q,"choices":[],"usage":%s}`, model, usage))
	}
	send("[DONE]")
	s.mu.Lock()
	s.completed++
	s.mu.Unlock()
}

// Vector is the fake embedding of text: 8 dimensions from a hash.
func Vector(text string) []float64 {
	v := make([]float64, 8)
	for _, w := range strings.Fields(strings.ToLower(text)) {
		h := fnv.New32a()
		_, _ = h.Write([]byte(w))
		v[h.Sum32()%8]++
	}
	var n float64
	for _, x := range v {
		n += x * x
	}
	if n > 0 {
		for i := range v {
			v[i] /= math.Sqrt(n)
		}
	}
	return v
}

// reset drops the connection with a TCP RST (SO_LINGER 0), as a crashed or
// overloaded server's kernel does.
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

func (s *Server) embeddings(w http.ResponseWriter, r *http.Request) {
	body := s.record(r)
	reply := s.nextEmbed()
	switch reply.Mode {
	case Status:
		writeError(w, reply.Status, reply.RetryAfter)
		return
	case Stall:
		<-r.Context().Done()
		s.markCancelled()
		return
	case Reset:
		reset(w)
		return
	}
	if !wait(r, reply.Delay) {
		s.markCancelled()
		return
	}
	if reply.Mode == Garbage {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"object": "list", "data": [not json`)
		return
	}
	var inputs []string
	switch in := body["input"].(type) {
	case string:
		inputs = []string{in}
	case []any:
		for _, x := range in {
			s, _ := x.(string)
			inputs = append(inputs, s)
		}
	}
	type item struct {
		Object    string    `json:"object"`
		Index     int       `json:"index"`
		Embedding []float64 `json:"embedding"`
	}
	data := make([]item, len(inputs))
	tokens := 0
	for i, in := range inputs {
		data[i] = item{Object: "embedding", Index: i, Embedding: Vector(in)}
		tokens += len(strings.Fields(in))
	}
	out, _ := json.Marshal(map[string]any{
		"object": "list", "data": data, "model": body["model"],
		"usage": map[string]int{"prompt_tokens": tokens, "total_tokens": tokens},
	})
	w.Header().Set("Content-Type", "application/json")
	if reply.Mode == Hang {
		// Half the body, then silence.
		w.Header().Set("Content-Length", fmt.Sprint(len(out)))
		_, _ = w.Write(out[:len(out)/2])
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		<-r.Context().Done()
		s.markCancelled()
		return
	}
	_, _ = w.Write(out)
}

func (s *Server) models(w http.ResponseWriter, r *http.Request) {
	s.record(r)
	s.mu.Lock()
	reply := s.ModelsReply
	s.mu.Unlock()
	switch reply.Mode {
	case Status:
		writeError(w, reply.Status, reply.RetryAfter)
		return
	case Stall:
		<-r.Context().Done()
		s.markCancelled()
		return
	case Reset:
		reset(w)
		return
	}
	type model struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
	}
	var data []model
	for _, m := range s.Models {
		data = append(data, model{ID: m, Object: "model", Created: 1700000000, OwnedBy: "tienda-test"})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data})
}
