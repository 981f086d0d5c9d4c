package app

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"tienda/app/api"
	"tienda/app/chat/openaitest"
	"tienda/app/config"
	"tienda/app/web"
	"tienda/models"
)

const lampDoc = "# Lamps\nLamps can be returned within 30 days of delivery, in their original box.\n\n# Sofas\nSofas are final sale once delivered."

// createIndexedDoc creates a document through the API and waits until the
// background indexer has indexed it.
func (ts *testServer) createIndexedDoc(auth, title, content string) int64 {
	ts.t.Helper()
	resp := ts.do("POST", "/api/v1/documents", map[string]string{"title": title, "content": content}, "Authorization", auth)
	if resp.Status != 201 {
		ts.t.Fatalf("create document: %d %s", resp.Status, resp.Body)
	}
	var doc struct {
		ID    int64 `json:"id"`
		Index struct {
			State string `json:"state"`
		} `json:"index"`
	}
	resp.JSON(ts.t, &doc)
	if doc.Index.State != "pending" {
		ts.t.Fatalf("a new document shows index state pending, got %s", resp.Body)
	}
	ok := eventually(ts.t, 10*time.Second, func() bool {
		r := ts.do("GET", fmt.Sprintf("/api/v1/documents/%d", doc.ID), nil, "Authorization", auth)
		return strings.Contains(string(r.Body), `"state":"indexed"`)
	})
	if !ok {
		ts.t.Fatalf("document %d never indexed", doc.ID)
	}
	return doc.ID
}

func TestChatAPIOffline(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		auth := ts.staffToken("ana")
		id := ts.createIndexedDoc(auth, "Return policy", lampDoc)

		list := ts.do("GET", "/api/v1/documents", nil, "Authorization", auth)
		if !strings.Contains(string(list.Body), `"index":{"state":"indexed"`) {
			t.Fatalf("index state on the document list: %s", list.Body)
		}
		r := ts.do("GET", fmt.Sprintf("/api/v1/documents/%d", id), nil, "Authorization", auth)
		var doc map[string]any
		r.JSON(t, &doc)
		ix, _ := doc["index"].(map[string]any)
		if ix["embedding_model"] != "tienda-hash-v1-384" || ix["embedding_dim"] != float64(384) || ix["chunks"] != float64(2) {
			t.Fatalf("index state on the document API: %v", doc["index"])
		}

		for _, mode := range []string{"keyword", "semantic", "hybrid", ""} {
			body := map[string]any{"query": "return a lamp", "top_k": 3}
			if mode != "" {
				body["mode"] = mode
			}
			r := ts.do("POST", "/api/v1/documents/search", body, "Authorization", auth)
			if r.Status != 200 {
				t.Fatalf("search %s: %d %s", mode, r.Status, r.Body)
			}
			want := mode
			if want == "" {
				want = "hybrid"
			}
			if m := r.Map(t); m["mode"] != want || m["retrieval"] != want {
				t.Fatalf("search %s: mode and retrieval %v %v", mode, m["mode"], m["retrieval"])
			}
			var out struct {
				Results []struct {
					DocumentID int64   `json:"document_id"`
					Title      string  `json:"title"`
					Snippet    string  `json:"snippet"`
					Score      float64 `json:"score"`
					ChunkID    int64   `json:"chunk_id"`
				} `json:"results"`
			}
			r.JSON(t, &out)
			if len(out.Results) == 0 || out.Results[0].DocumentID != id || out.Results[0].Title != "Return policy" ||
				out.Results[0].ChunkID == 0 || !strings.Contains(out.Results[0].Snippet, "Lamps") {
				t.Fatalf("search %s: %s", mode, r.Body)
			}
		}

		r = ts.do("POST", "/api/v1/chat", map[string]any{"message": "How long do I have to return a lamp?"}, "Authorization", auth)
		if r.Status != 200 {
			t.Fatalf("chat: %d %s", r.Status, r.Body)
		}
		var ans struct {
			Answer  string `json:"answer"`
			Sources []struct {
				DocumentID int64  `json:"document_id"`
				ChunkID    int64  `json:"chunk_id"`
				Title      string `json:"title"`
				Snippet    string `json:"snippet"`
			} `json:"sources"`
			TokensUsed int    `json:"tokens_used"`
			Model      string `json:"model"`
			LatencyMS  *int64 `json:"latency_ms"`
			Retrieval  string `json:"retrieval"`
		}
		r.JSON(t, &ans)
		if ans.Retrieval != "hybrid" {
			t.Fatalf("chat retrieval %q", ans.Retrieval)
		}
		if !strings.Contains(ans.Answer, "No language model is configured") || !strings.Contains(ans.Answer, "30 days") ||
			!strings.Contains(ans.Answer, "[1]") {
			t.Fatalf("extractive answer: %q", ans.Answer)
		}
		if len(ans.Sources) == 0 || ans.Sources[0].DocumentID != id || ans.TokensUsed == 0 || ans.Model != "extractive" || ans.LatencyMS == nil {
			t.Fatalf("chat response: %s", r.Body)
		}
		if strings.Contains(ts.logs.String(), "How long do I have") {
			t.Fatal("prompt text must not be logged")
		}
		var usage int64
		ts.srv.db.Raw("SELECT COUNT(*) FROM chat_usage WHERE total_tokens > 0").Scan(&usage)
		if usage != 1 {
			t.Fatalf("usage rows: %d", usage)
		}
		sum, err := models.ChatUsageSince(context.Background(), ts.srv.db, time.Now())
		if err != nil || len(sum) != 1 || sum[0].Messages != 1 || sum[0].TotalTokens != int64(ans.TokensUsed) || sum[0].Model != "extractive" {
			t.Fatalf("usage summary %+v %v", sum, err)
		}
	})
}

func TestEmbeddingsAPI(t *testing.T) {
	ts := newTestServer(t, "sqlite")
	auth := ts.staffToken("ana")
	for _, input := range []any{"hello world", []string{"a lamp", "a sofa"}} {
		r := ts.do("POST", "/api/v1/embeddings", map[string]any{"input": input}, "Authorization", auth)
		if r.Status != 200 {
			t.Fatalf("%v: %d %s", input, r.Status, r.Body)
		}
		var out struct {
			Data []struct {
				Index     int       `json:"index"`
				Embedding []float64 `json:"embedding"`
			} `json:"data"`
			Model string `json:"model"`
			Usage struct {
				PromptTokens int `json:"prompt_tokens"`
				TotalTokens  int `json:"total_tokens"`
			} `json:"usage"`
		}
		r.JSON(t, &out)
		want := 1
		if _, many := input.([]string); many {
			want = 2
		}
		if len(out.Data) != want || len(out.Data[0].Embedding) != 384 || out.Model != "tienda-hash-v1-384" ||
			out.Usage.TotalTokens == 0 || out.Data[want-1].Index != want-1 {
			t.Fatalf("%v: %s", input, r.Body)
		}
	}
}

func TestChatBadInput(t *testing.T) {
	ts := newTestServer(t, "sqlite")
	auth := ts.staffToken("ana")
	many := make([]string, 10000)
	for i := range many {
		many[i] = "x"
	}
	cases := []struct {
		name   string
		path   string
		body   any
		status int
		field  string
	}{
		{"empty message", "/api/v1/chat", map[string]any{"message": ""}, 422, "message"},
		{"blank message", "/api/v1/chat", map[string]any{"message": "   "}, 422, "message"},
		{"missing message", "/api/v1/chat", map[string]any{}, 422, "message"},
		{"4097 characters", "/api/v1/chat", map[string]any{"message": strings.Repeat("a", 4097)}, 422, "message"},
		{"message not a string", "/api/v1/chat", map[string]any{"message": 42}, 422, "message"},
		{"unknown role", "/api/v1/chat", map[string]any{"message": "hi", "history": []map[string]string{{"role": "wizard", "content": "x"}}}, 422, "history[0].role"},
		{"system role in history", "/api/v1/chat", map[string]any{"message": "hi", "history": []map[string]string{{"role": "system", "content": "x"}}}, 422, "history[0].role"},
		{"history too long", "/api/v1/chat", map[string]any{"message": "hi", "history": make([]map[string]string, 21)}, 422, "history"},
		{"history not a list", "/api/v1/chat", map[string]any{"message": "hi", "history": "x"}, 422, "history"},
		{"temperature too high", "/api/v1/chat", map[string]any{"message": "hi", "temperature": 2.5}, 422, "temperature"},
		{"temperature negative", "/api/v1/chat", map[string]any{"message": "hi", "temperature": -0.1}, 422, "temperature"},
		{"temperature a string", "/api/v1/chat", map[string]any{"message": "hi", "temperature": "hot"}, 422, "temperature"},
		{"top_k 0", "/api/v1/chat", map[string]any{"message": "hi", "top_k": 0}, 422, "top_k"},
		{"top_k 1000", "/api/v1/chat", map[string]any{"message": "hi", "top_k": 1000}, 422, "top_k"},
		{"unknown field", "/api/v1/chat", map[string]any{"message": "hi", "stream": true}, 422, "stream"},
		{"malformed JSON", "/api/v1/chat", `{"message": "hi"`, 400, ""},
		{"stream empty message", "/api/v1/chat/stream", map[string]any{"message": ""}, 422, "message"},
		{"stream top_k 1000", "/api/v1/chat/stream", map[string]any{"message": "hi", "top_k": 1000}, 422, "top_k"},
		{"search empty query", "/api/v1/documents/search", map[string]any{"query": ""}, 422, "query"},
		{"search bad mode", "/api/v1/documents/search", map[string]any{"query": "x", "mode": "fuzzy"}, 422, "mode"},
		{"search top_k 0", "/api/v1/documents/search", map[string]any{"query": "x", "top_k": 0}, 422, "top_k"},
		{"search top_k 51", "/api/v1/documents/search", map[string]any{"query": "x", "top_k": 51}, 422, "top_k"},
		{"embeddings number", "/api/v1/embeddings", map[string]any{"input": 5}, 422, "input"},
		{"embeddings non-string item", "/api/v1/embeddings", map[string]any{"input": []any{"a", 7}}, 422, "input[1]"},
		{"embeddings empty list", "/api/v1/embeddings", map[string]any{"input": []string{}}, 422, "input"},
		{"embeddings empty string", "/api/v1/embeddings", map[string]any{"input": ""}, 422, "input"},
		{"embeddings 10000 inputs", "/api/v1/embeddings", map[string]any{"input": many}, 413, "input"},
		{"embeddings other model", "/api/v1/embeddings", map[string]any{"input": "x", "model": "gpt-9"}, 422, "model"},
		{"embeddings missing input", "/api/v1/embeddings", map[string]any{}, 422, "input"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.do("POST", tc.path, tc.body, "Authorization", auth)
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
			}
			var e struct {
				Code   string            `json:"code"`
				Fields map[string]string `json:"fields"`
			}
			r.JSON(t, &e)
			if e.Code == "" || (tc.field != "" && e.Fields[tc.field] == "") {
				t.Fatalf("want a field error on %q: %s", tc.field, r.Body)
			}
		})
	}
	for _, path := range []string{"/api/v1/chat", "/api/v1/chat/stream", "/api/v1/documents/search", "/api/v1/embeddings"} {
		if r := ts.do("POST", path, map[string]any{"message": "hi"}); r.Status != 401 {
			t.Fatalf("%s without a token: %d", path, r.Status)
		}
	}
}

func TestChatDailyTokenBudget(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		const budget, maxTokens = 150, 20
		ts := newTestServer(t, dialect, func(c *config.Config) { c.Chat.DailyTokenBudget, c.Chat.MaxTokens = budget, maxTokens })
		auth := ts.staffToken("ana")
		answered := 0
		var r *testResponse
		for i := 0; i < 10; i++ {
			if r = ts.do("POST", "/api/v1/chat", map[string]any{"message": "what is the return policy?"}, "Authorization", auth); r.Status != 200 {
				break
			}
			answered++
		}
		if answered == 0 {
			t.Fatalf("the first chat must fit in the budget: %d %s", r.Status, r.Body)
		}
		// The same message again: a shorter one could still fit the tokens left.
		for _, path := range []string{"/api/v1/chat", "/api/v1/chat/stream"} {
			r := ts.do("POST", path, map[string]any{"message": "what is the return policy?"}, "Authorization", auth)
			if r.Status != 429 || !strings.Contains(string(r.Body), "RATE_LIMITED") || !strings.Contains(string(r.Body), "resets at") ||
				r.Header.Get("Retry-After") == "" || r.Header.Get("X-RateLimit-Reset") == "" {
				t.Fatalf("%s over budget: %d %v %s", path, r.Status, r.Header, r.Body)
			}
		}
		var used int64
		ts.srv.db.Raw("SELECT COALESCE(SUM(total_tokens), 0) FROM chat_usage").Scan(&used)
		if used == 0 || used > budget+maxTokens {
			t.Fatalf("%d tokens used of a budget of %d (max_tokens %d)", used, budget, maxTokens)
		}
		// Another user has a budget of their own.
		other := ts.staffToken("bea")
		if r := ts.do("POST", "/api/v1/chat", map[string]any{"message": "hello"}, "Authorization", other); r.Status != 200 {
			t.Fatalf("other user: %d %s", r.Status, r.Body)
		}
	})
}

func TestChatBudgetConfig(t *testing.T) {
	cases := []struct {
		val    string
		ok     bool
		budget int64
	}{{"", true, 0}, {"0", true, 0}, {"50000", true, 50000}, {"-1", false, 0}, {"lots", false, 0}}
	for _, tc := range cases {
		cfg, err := config.Load(func(k string) string {
			if k == "CHAT_DAILY_TOKEN_BUDGET" {
				return tc.val
			}
			return ""
		})
		if (err == nil) != tc.ok || (tc.ok && cfg.Chat.DailyTokenBudget != tc.budget) {
			t.Fatalf("%q: %v %d", tc.val, err, cfg.Chat.DailyTokenBudget)
		}
	}
}

// sseEvent is one parsed Server-Sent Event.
type sseEvent struct {
	Event string
	Data  string
	At    time.Time
}

// sseReader reads events one at a time from a live response.
type sseReader struct {
	r *bufio.Reader
}

func (s *sseReader) next() (sseEvent, error) {
	var ev sseEvent
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return ev, err
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "":
			if ev.Event != "" || ev.Data != "" {
				ev.At = time.Now()
				return ev, nil
			}
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "event: "):
			ev.Event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			ev.Data += strings.TrimPrefix(line, "data: ")
		}
	}
}

func postStream(t *testing.T, ctx context.Context, url, auth string, body any) *http.Response {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(ctx, "POST", url+"/api/v1/chat/stream", strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", auth)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func withFakeLLM(fake *openaitest.Server, timeout time.Duration) func(*config.Config) {
	return func(c *config.Config) {
		c.LLMBaseURL, c.LLMAPIKey, c.LLMModel, c.LLMTimeout = fake.BaseURL(), "test-key", "fake-chat-1", timeout
	}
}

func TestChatStreamArrivesIncrementally(t *testing.T) {
	fake := openaitest.New()
	defer fake.Close()
	fake.Default = openaitest.Reply{Tokens: []string{"Lamps ", "can ", "be ", "returned ", "within ", "30 ", "days ", "[1]."}, Delay: 100 * time.Millisecond}
	ts := newTestServer(t, "sqlite", withFakeLLM(fake, 5*time.Second))
	auth := ts.staffToken("ana")
	id := ts.createIndexedDoc(auth, "Return policy", lampDoc)
	base := ts.listen()

	start := time.Now()
	resp := postStream(t, context.Background(), base, auth, map[string]any{"message": "How long to return a lamp?", "temperature": 0.2})
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	rd := &sseReader{r: bufio.NewReader(resp.Body)}
	var events []sseEvent
	for {
		ev, err := rd.next()
		if err != nil {
			break
		}
		events = append(events, ev)
		if ev.Event == "token" && len(events) == 2 && fake.Completed() != 0 {
			t.Fatal("the first token arrived only after the upstream answer was complete")
		}
		if ev.Event == "done" || ev.Event == "error" {
			break
		}
	}
	if len(events) < 3 || events[0].Event != "sources" || events[len(events)-1].Event != "done" {
		t.Fatalf("events %+v", events)
	}
	if !strings.Contains(events[0].Data, fmt.Sprintf(`"document_id":%d`, id)) {
		t.Fatalf("sources %s", events[0].Data)
	}
	var text strings.Builder
	for _, ev := range events[1 : len(events)-1] {
		var d struct {
			Delta string `json:"delta"`
		}
		if ev.Event != "token" || json.Unmarshal([]byte(ev.Data), &d) != nil {
			t.Fatalf("bad token event %+v", ev)
		}
		text.WriteString(d.Delta)
	}
	if text.String() != "Lamps can be returned within 30 days [1]." {
		t.Fatalf("text %q", text.String())
	}
	first, last := events[1].At.Sub(start), events[len(events)-1].At.Sub(start)
	if last-first < 500*time.Millisecond {
		t.Fatalf("tokens were not streamed progressively: first %v, done %v", first, last)
	}
	var done struct {
		TokensUsed int   `json:"tokens_used"`
		LatencyMS  int64 `json:"latency_ms"`
	}
	if err := json.Unmarshal([]byte(events[len(events)-1].Data), &done); err != nil || done.TokensUsed == 0 || done.LatencyMS < 500 {
		t.Fatalf("done %s", events[len(events)-1].Data)
	}
	// The prompt given to the model holds the passage and the question.
	reqs := fake.Requests()
	last2 := reqs[len(reqs)-1]
	msgs, _ := last2.Body["messages"].([]any)
	if len(msgs) != 2 || !strings.Contains(fmt.Sprint(msgs[0]), "30 days") || last2.Body["temperature"] != 0.2 {
		t.Fatalf("upstream request %v", last2.Body)
	}
}

func TestChatStreamClientDisconnectCancelsUpstream(t *testing.T) {
	fake := openaitest.New()
	defer fake.Close()
	fake.Default = openaitest.Reply{Tokens: strings.Split(strings.Repeat("t", 200), ""), Delay: 25 * time.Millisecond}
	ts := newTestServer(t, "sqlite", withFakeLLM(fake, 5*time.Second))
	auth := ts.staffToken("ana")
	base := ts.listen()

	ctx, cancel := context.WithCancel(context.Background())
	resp := postStream(t, ctx, base, auth, map[string]any{"message": "tell me a long story"})
	rd := &sseReader{r: bufio.NewReader(resp.Body)}
	tokens := 0
	for tokens < 3 {
		ev, err := rd.next()
		if err != nil {
			t.Fatalf("stream ended early: %v", err)
		}
		if ev.Event == "token" {
			tokens++
		}
	}
	cancel() // the client goes away
	resp.Body.Close()
	select {
	case <-fake.CancelledCh():
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream request was not cancelled after the client disconnected")
	}
	if fake.Completed() != 0 {
		t.Fatal("the upstream stream ran to completion")
	}
	ok := eventually(t, 5*time.Second, func() bool {
		var n int64
		ts.srv.db.Raw("SELECT COUNT(*) FROM chat_usage WHERE outcome = 'cancelled'").Scan(&n)
		return n == 1
	})
	if !ok {
		t.Fatal("the cancelled chat's usage was not recorded")
	}
}

func TestChatStreamUpstreamFailures(t *testing.T) {
	cases := []struct {
		name  string
		reply openaitest.Reply
		code  string
		http  int
	}{
		{"server errors", openaitest.Reply{Mode: openaitest.Status, Status: 500}, "LLM_UNAVAILABLE", 503},
		{"rate limited", openaitest.Reply{Mode: openaitest.Status, Status: 429, RetryAfter: "0"}, "LLM_UNAVAILABLE", 503},
		{"stall", openaitest.Reply{Mode: openaitest.Stall}, "LLM_TIMEOUT", 504},
		{"garbage", openaitest.Reply{Mode: openaitest.Garbage}, "LLM_UNAVAILABLE", 502},
		{"broken stream", openaitest.Reply{Mode: openaitest.Broken, Tokens: []string{"a", "b", "c"}, BreakAfter: 2}, "LLM_UNAVAILABLE", 502},
		{"unknown model", openaitest.Reply{Mode: openaitest.Status, Status: 404}, "VALIDATION_ERROR", 422},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := openaitest.New()
			defer fake.Close()
			fake.Default = tc.reply
			ts := newTestServer(t, "sqlite", withFakeLLM(fake, 300*time.Millisecond))
			auth := ts.staffToken("ana")
			base := ts.listen()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			resp := postStream(t, ctx, base, auth, map[string]any{"message": "hello"})
			defer resp.Body.Close()
			rd := &sseReader{r: bufio.NewReader(resp.Body)}
			var last sseEvent
			var kinds []string
			for {
				ev, err := rd.next()
				if err != nil {
					break
				}
				kinds = append(kinds, ev.Event)
				last = ev
				if ev.Event == "error" || ev.Event == "done" {
					break
				}
			}
			if kinds[0] != "sources" || last.Event != "error" || !strings.Contains(last.Data, `"code":"`+tc.code+`"`) {
				t.Fatalf("events %v, last %+v", kinds, last)
			}
			// The JSON endpoint maps the same failure to a status.
			r := ts.do("POST", "/api/v1/chat", map[string]any{"message": "hello"}, "Authorization", auth)
			if r.Status != tc.http || !strings.Contains(string(r.Body), tc.code) {
				t.Fatalf("chat: %d %s", r.Status, r.Body)
			}
			recorded := eventually(t, 3*time.Second, func() bool {
				var n int64
				ts.srv.db.Raw("SELECT COUNT(*) FROM chat_usage WHERE outcome IN ('error', 'timeout')").Scan(&n)
				return n == 2
			})
			if !recorded {
				t.Fatal("the failed messages were not recorded")
			}
		})
	}
}

func TestChatModelsAndAdminStream(t *testing.T) {
	fake := openaitest.New()
	defer fake.Close()
	ts := newTestServer(t, "sqlite", withFakeLLM(fake, 5*time.Second))
	auth := ts.staffToken("ana")
	r := ts.do("GET", "/api/v1/chat/models", nil, "Authorization", auth)
	if r.Status != 200 || !strings.Contains(string(r.Body), `"fake-chat-2"`) || !strings.Contains(string(r.Body), `"default":"fake-chat-1"`) {
		t.Fatalf("models: %d %s", r.Status, r.Body)
	}
	// The playground's handler streams the same events (the lead mounts it
	// behind the admin session; here behind the API's auth).
	ts.srv.app.Post("/test/admin/chat/stream", ts.srv.auth.JWT(), ts.srv.chatAPI.Stream)
	r = ts.do("POST", "/test/admin/chat/stream", map[string]any{"message": "hello", "model": "fake-chat-2"}, "Authorization", auth)
	body := string(r.Body)
	if r.Status != 200 || !strings.HasPrefix(body, ": stream open") || !strings.Contains(body, "event: sources") ||
		!strings.Contains(body, `data: {"delta":"Hello"}`) || !strings.Contains(body, "event: done") {
		t.Fatalf("admin stream: %d %s", r.Status, body)
	}
	reqs := fake.Requests()
	if reqs[len(reqs)-1].Body["model"] != "fake-chat-2" {
		t.Fatal("the chosen model was not used")
	}
	js := ts.do("GET", "/static/js/chat.js", nil)
	if js.Status != 200 || !strings.Contains(string(js.Body), "AbortController") || strings.Contains(string(js.Body), ".innerHTML =") {
		t.Fatalf("chat.js: %d", js.Status)
	}
}

func TestChatStreamFirstByteAndKeepAlive(t *testing.T) {
	fake := openaitest.New()
	defer fake.Close()
	// The model thinks for 1.5 s before its first token.
	fake.Default = openaitest.Reply{Tokens: []string{"ok"}, Delay: 1500 * time.Millisecond}
	ts := newTestServer(t, "sqlite", withFakeLLM(fake, 5*time.Second))
	ts.srv.chatAPI.Ping = 200 * time.Millisecond
	auth := ts.staffToken("ana")
	base := ts.listen()
	start := time.Now()
	resp := postStream(t, context.Background(), base, auth, map[string]any{"message": "hello"})
	defer resp.Body.Close()
	rd := bufio.NewReader(resp.Body)
	first, err := rd.ReadString('\n')
	if err != nil || first != ": stream open\n" || time.Since(start) > time.Second {
		t.Fatalf("first line %q after %v (%v)", first, time.Since(start), err)
	}
	pings := 0
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended: %v", err)
		}
		if line == ": ping\n" {
			pings++
		}
		if strings.HasPrefix(line, "event: token") {
			break
		}
	}
	if pings < 3 {
		t.Fatalf("%d keep-alive comments while the model was silent", pings)
	}
}

// TestChatStreamEndsCleanlyOnShutdown: SIGTERM (the Serve context ending)
// lets an open stream run for most of SHUTDOWN_TIMEOUT, then ends it with a
// final error event, cancels the upstream call and exits within the timeout.
func TestChatStreamEndsCleanlyOnShutdown(t *testing.T) {
	fake := openaitest.New()
	defer fake.Close()
	fake.Default = openaitest.Reply{Tokens: strings.Split(strings.Repeat("t", 400), ""), Delay: 50 * time.Millisecond}
	ts := newTestServer(t, "sqlite", withFakeLLM(fake, 5*time.Second), func(c *config.Config) { c.ShutdownTimeout = 4 * time.Second })
	auth := ts.staffToken("ana")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ts.srv.Serve(serveCtx, ln) }()
	defer stop()

	resp := postStream(t, context.Background(), "http://"+ln.Addr().String(), auth, map[string]any{"message": "tell me a long story"})
	defer resp.Body.Close()
	rd := &sseReader{r: bufio.NewReader(resp.Body)}
	for {
		ev, err := rd.next()
		if err != nil {
			t.Fatalf("stream ended before the first token: %v", err)
		}
		if ev.Event == "token" {
			break
		}
	}
	began := time.Now()
	stop() // SIGTERM
	var last sseEvent
	for {
		ev, err := rd.next()
		if err != nil {
			break
		}
		last = ev
	}
	if last.Event != "error" || !strings.Contains(last.Data, web.CodeUnavailable) {
		t.Fatalf("last event %+v, want a final error event saying the server is restarting", last)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not stop")
	}
	if d := time.Since(began); d > 4*time.Second {
		t.Fatalf("shutdown took %v, more than SHUTDOWN_TIMEOUT", d)
	}
	select {
	case <-fake.CancelledCh():
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream generation was not cancelled")
	}
}

// The LLM boundary never hangs (issue 12, item 8).

// withFakeEmbeddings points the chat and the embeddings at the fake.
func withFakeEmbeddings(fake *openaitest.Server, timeout time.Duration) func(*config.Config) {
	return func(c *config.Config) {
		withFakeLLM(fake, timeout)(c)
		c.LLMEmbedModel = "fake-embed"
	}
}

// parseSSE splits a complete event stream into its events.
func parseSSE(body string) []sseEvent {
	var out []sseEvent
	for _, frame := range strings.Split(body, "\n\n") {
		var ev sseEvent
		for _, line := range strings.Split(frame, "\n") {
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.Event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.Data += strings.TrimPrefix(line, "data: ")
			}
		}
		if ev.Event != "" {
			out = append(out, ev)
		}
	}
	return out
}

// TestLLMBoundaryNeverHangs: whatever the model server does to chat
// completions or embeddings (stall, reset, answer slowly, hang halfway),
// /chat, /chat/stream, /documents/search, /embeddings and /chat/models
// answer within LLM_TIMEOUT + 2 s, with the status (or final event) that
// says what happened; search and chat fall back to keywords and say so.
func TestLLMBoundaryNeverHangs(t *testing.T) {
	const llmTimeout = time.Second
	slowTokens := []string{"Lamps ", "can ", "go ", "back."}
	type want struct {
		chat      int    // status of /chat
		code      string // its error code, or the stream's error event's
		retrieval string // of search, chat and the stream when they answer
		embed     int    // status of /embeddings
		embedCode string
	}
	ok := want{chat: 200, retrieval: "hybrid", embed: 200}
	cases := []struct {
		name   string
		chat   openaitest.Reply
		embed  openaitest.Reply
		models openaitest.Reply
		want   want
	}{
		{name: "everything answers", want: ok},
		{name: "chat stalls before answering", chat: openaitest.Reply{Mode: openaitest.Stall},
			want: want{chat: 504, code: "LLM_TIMEOUT", retrieval: "hybrid", embed: 200}},
		{name: "chat resets the connection", chat: openaitest.Reply{Mode: openaitest.Reset},
			want: want{chat: 503, code: "LLM_UNAVAILABLE", retrieval: "hybrid", embed: 200}},
		{name: "chat answers slowly within the timeout", chat: openaitest.Reply{Tokens: slowTokens, Delay: 300 * time.Millisecond}, want: ok},
		{name: "chat answers slower than the timeout", chat: openaitest.Reply{Tokens: slowTokens, Delay: 5 * time.Second},
			want: want{chat: 504, code: "LLM_TIMEOUT", retrieval: "hybrid", embed: 200}},
		{name: "chat hangs mid-stream", chat: openaitest.Reply{Mode: openaitest.Hang, Tokens: slowTokens, HangAfter: 2},
			want: want{chat: 504, code: "LLM_TIMEOUT", retrieval: "hybrid", embed: 200}},
		{name: "embeddings stall before answering", embed: openaitest.Reply{Mode: openaitest.Stall},
			want: want{chat: 200, retrieval: "keyword", embed: 504, embedCode: "LLM_TIMEOUT"}},
		{name: "embeddings reset the connection", embed: openaitest.Reply{Mode: openaitest.Reset},
			want: want{chat: 200, retrieval: "keyword", embed: 503, embedCode: "LLM_UNAVAILABLE"}},
		{name: "embeddings answer slowly within the timeout", embed: openaitest.Reply{Delay: 400 * time.Millisecond}, want: ok},
		{name: "embeddings answer slower than the timeout", embed: openaitest.Reply{Delay: 5 * time.Second},
			want: want{chat: 200, retrieval: "keyword", embed: 504, embedCode: "LLM_TIMEOUT"}},
		{name: "embeddings hang halfway through the body", embed: openaitest.Reply{Mode: openaitest.Hang},
			want: want{chat: 200, retrieval: "keyword", embed: 504, embedCode: "LLM_TIMEOUT"}},
		{name: "the model list stalls", models: openaitest.Reply{Mode: openaitest.Stall}, want: ok},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := openaitest.New()
			defer fake.Close()
			ts := newTestServer(t, "sqlite", withFakeEmbeddings(fake, llmTimeout))
			auth := ts.staffToken("ana")
			id := ts.createIndexedDoc(auth, "Return policy", lampDoc) // indexed through the fake, while it answers
			if tc.chat.Mode != openaitest.Normal || tc.chat.Tokens != nil {
				fake.SetDefault(tc.chat)
			}
			fake.SetEmbedDefault(tc.embed)
			fake.ModelsReply = tc.models

			type call struct {
				path string
				body any
				resp *testResponse
				took time.Duration
			}
			calls := []*call{
				{path: "/api/v1/chat", body: map[string]any{"message": "Can I return a lamp?"}},
				{path: "/api/v1/chat/stream", body: map[string]any{"message": "Can I return a lamp?"}},
				{path: "/api/v1/documents/search", body: map[string]any{"query": "return a lamp", "mode": "hybrid"}},
				{path: "/api/v1/embeddings", body: map[string]any{"input": "return a lamp"}},
				{path: "/api/v1/chat/models"},
			}
			var wg sync.WaitGroup
			for _, c := range calls {
				wg.Add(1)
				go func() {
					defer wg.Done()
					start := time.Now()
					method := "POST"
					if c.body == nil {
						method = "GET"
					}
					c.resp = ts.do(method, c.path, c.body, "Authorization", auth)
					c.took = time.Since(start)
				}()
			}
			wg.Wait()
			for _, c := range calls {
				if c.took > llmTimeout+2*time.Second {
					t.Errorf("%s answered after %v, past LLM_TIMEOUT + 2s", c.path, c.took)
				}
			}
			chatR, streamR, searchR, embedR, modelsR := calls[0].resp, calls[1].resp, calls[2].resp, calls[3].resp, calls[4].resp

			if chatR.Status != tc.want.chat || (tc.want.code != "" && !strings.Contains(string(chatR.Body), `"code":"`+tc.want.code+`"`)) {
				t.Errorf("/chat: %d %s", chatR.Status, chatR.Body)
			}
			if tc.want.chat == 200 && chatR.Map(t)["retrieval"] != tc.want.retrieval {
				t.Errorf("/chat retrieval: %s", chatR.Body)
			}

			events := parseSSE(string(streamR.Body))
			if streamR.Status != 200 || len(events) < 2 || events[0].Event != "sources" ||
				!strings.Contains(events[0].Data, `"retrieval":"`+tc.want.retrieval+`"`) {
				t.Errorf("/chat/stream: %d %+v", streamR.Status, events)
			} else {
				last := events[len(events)-1]
				if tc.want.code != "" && (last.Event != "error" || !strings.Contains(last.Data, `"code":"`+tc.want.code+`"`)) {
					t.Errorf("/chat/stream ends with %+v, want an %s error event", last, tc.want.code)
				}
				if tc.want.code == "" && (last.Event != "done" || !strings.Contains(last.Data, `"retrieval":"`+tc.want.retrieval+`"`)) {
					t.Errorf("/chat/stream ends with %+v", last)
				}
			}

			var search struct {
				Results []struct {
					DocumentID int64 `json:"document_id"`
				} `json:"results"`
				Mode      string `json:"mode"`
				Retrieval string `json:"retrieval"`
			}
			searchR.JSON(t, &search)
			if searchR.Status != 200 || search.Mode != "hybrid" || search.Retrieval != tc.want.retrieval ||
				len(search.Results) == 0 || search.Results[0].DocumentID != id {
				t.Errorf("/documents/search: %d %s", searchR.Status, searchR.Body)
			}

			if embedR.Status != tc.want.embed || (tc.want.embedCode != "" && !strings.Contains(string(embedR.Body), `"code":"`+tc.want.embedCode+`"`)) {
				t.Errorf("/embeddings: %d %.300s", embedR.Status, embedR.Body)
			}
			if modelsR.Status != 200 || !strings.Contains(string(modelsR.Body), `"default":"fake-chat-1"`) {
				t.Errorf("/chat/models: %d %s", modelsR.Status, modelsR.Body)
			}
		})
	}
}

// TestIndexingNeverBlockedByAStalledEmbedder: a document whose embedding
// stalls, resets or hangs fails its attempt by LLM_TIMEOUT and is retried
// with backoff; meanwhile the next document is indexed.
func TestIndexingNeverBlockedByAStalledEmbedder(t *testing.T) {
	const llmTimeout = time.Second
	failures := []struct {
		name    string
		replies []openaitest.Reply
	}{
		{"stall", []openaitest.Reply{{Mode: openaitest.Stall}}},
		{"reset", []openaitest.Reply{{Mode: openaitest.Reset}, {Mode: openaitest.Reset}, {Mode: openaitest.Reset}}},
		{"hang halfway", []openaitest.Reply{{Mode: openaitest.Hang}}},
		{"slower than the timeout", []openaitest.Reply{{Delay: 10 * time.Second}}},
	}
	forEachDialect(t, func(t *testing.T, dialect string) {
		for _, f := range failures {
			if dialect == models.Postgres && f.name != "stall" {
				continue // the queue is the same on both; one case proves it there
			}
			t.Run(f.name, func(t *testing.T) {
				fake := openaitest.New()
				defer fake.Close()
				ts := newTestServer(t, dialect, withFakeEmbeddings(fake, llmTimeout))
				auth := ts.staffToken("ana")
				fake.PushEmbeddings(f.replies...)
				create := func(title string) int64 {
					r := ts.do("POST", "/api/v1/documents", map[string]string{"title": title, "content": lampDoc}, "Authorization", auth)
					if r.Status != 201 {
						t.Fatalf("create: %d %s", r.Status, r.Body)
					}
					return int64(r.Map(t)["id"].(float64))
				}
				indexed := func(id int64) bool {
					r := ts.do("GET", fmt.Sprintf("/api/v1/documents/%d", id), nil, "Authorization", auth)
					return strings.Contains(string(r.Body), `"state":"indexed"`)
				}
				stuck := create("Stuck")
				if !eventually(t, 5*time.Second, func() bool { return fake.EmbeddingRequests() > 0 }) {
					t.Fatal("the first document's embedding was never asked for")
				}
				start := time.Now()
				next := create("Next")
				if !eventually(t, llmTimeout+2*time.Second, func() bool { return indexed(next) }) {
					t.Fatalf("the next document waited more than LLM_TIMEOUT + 2s behind the stalled one")
				}
				t.Logf("next document indexed after %v", time.Since(start))
				if !eventually(t, 10*time.Second, func() bool { return indexed(stuck) }) {
					t.Fatal("the stalled document was not indexed on retry")
				}
				var attempts int
				ts.srv.db.Raw("SELECT MAX(attempts) FROM jobs WHERE key = ?", fmt.Sprintf("index_document:%d", stuck)).Scan(&attempts)
				if attempts < 2 {
					t.Fatalf("the stalled document was indexed in %d attempt(s); want a failed one, then a retry", attempts)
				}
			})
		}
	})
}

// TestChatClientGoneCancelsUpstream: a client that closes its connection
// while the model is silent (a stream hung after some tokens, a plain chat
// waiting for its answer) cancels the upstream request within 2 s, not at
// the next write or the model's timeout, and its usage is recorded as
// cancelled.
func TestChatClientGoneCancelsUpstream(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		t.Run("stream", func(t *testing.T) {
			fake := openaitest.New()
			defer fake.Close()
			fake.Default = openaitest.Reply{Mode: openaitest.Hang, Tokens: []string{"Once ", "upon ", "a ", "time"}, HangAfter: 2}
			ts := newTestServer(t, dialect, withFakeLLM(fake, 30*time.Second))
			auth := ts.staffToken("ana")
			base := ts.listen()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			resp := postStream(t, ctx, base, auth, map[string]any{"message": "tell me a long story"})
			rd := &sseReader{r: bufio.NewReader(resp.Body)}
			for tokens := 0; tokens < 2; {
				ev, err := rd.next()
				if err != nil {
					t.Fatalf("stream ended early: %v", err)
				}
				if ev.Event == "token" {
					tokens++
				}
			}
			gone := time.Now()
			cancel() // the client goes away while the model is silent
			resp.Body.Close()
			assertCancelledWithin(t, ts, fake, gone, 2*time.Second)
		})
		t.Run("chat", func(t *testing.T) {
			fake := openaitest.New()
			defer fake.Close()
			fake.Default = openaitest.Reply{Mode: openaitest.Stall}
			ts := newTestServer(t, dialect, withFakeLLM(fake, 30*time.Second))
			auth := ts.staffToken("ana")
			base := ts.listen()
			conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			body := `{"message":"tell me a long story"}`
			fmt.Fprintf(conn, "POST /api/v1/chat HTTP/1.1\r\nHost: tienda\r\nAuthorization: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
				auth, len(body), body)
			if !eventually(t, 5*time.Second, func() bool { return fake.ChatRequests() == 1 }) {
				t.Fatal("the chat never reached the model")
			}
			gone := time.Now()
			_ = conn.Close() // the client goes away while the model thinks
			assertCancelledWithin(t, ts, fake, gone, 2*time.Second)
		})
	})
}

func assertCancelledWithin(t *testing.T, ts *testServer, fake *openaitest.Server, gone time.Time, within time.Duration) {
	t.Helper()
	select {
	case <-fake.CancelledCh():
	case <-time.After(within + 3*time.Second):
		t.Fatal("the upstream request was not cancelled after the client went away")
	}
	at := fake.CancelledAt()
	if len(at) != 1 || at[0].Sub(gone) > within {
		t.Fatalf("upstream cancelled %v after the client went away, want within %v", at[0].Sub(gone), within)
	}
	t.Logf("upstream cancelled %v after the client went away", at[0].Sub(gone))
	if fake.Completed() != 0 {
		t.Fatal("the upstream request ran to completion")
	}
	ok := eventually(t, 5*time.Second, func() bool {
		var n int64
		ts.srv.db.Raw("SELECT COUNT(*) FROM chat_usage WHERE outcome = 'cancelled'").Scan(&n)
		return n == 1
	})
	if !ok {
		t.Fatal("the cancelled chat's usage was not recorded as cancelled")
	}
}

// TestChatShutdownAnswers503: a plain chat still waiting for the model when
// Serve's context ends gets a 503 JSON answer before the shutdown deadline,
// its usage row is recorded, and the upstream call is cancelled.
func TestChatShutdownAnswers503(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		fake := openaitest.New()
		defer fake.Close()
		fake.Default = openaitest.Reply{Mode: openaitest.Stall}
		const shutdown = 3 * time.Second
		ts := newTestServer(t, dialect, withFakeLLM(fake, 30*time.Second), func(c *config.Config) { c.ShutdownTimeout = shutdown })
		auth := ts.staffToken("ana")
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		serveCtx, stop := context.WithCancel(context.Background())
		defer stop()
		done := make(chan error, 1)
		go func() { done <- ts.srv.Serve(serveCtx, ln) }()

		type answer struct {
			status int
			body   string
			hdr    http.Header
			err    error
		}
		answered := make(chan answer, 1)
		go func() {
			req, _ := http.NewRequest("POST", "http://"+ln.Addr().String()+"/api/v1/chat", strings.NewReader(`{"message":"hello"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", auth)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				answered <- answer{err: err}
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			answered <- answer{status: resp.StatusCode, body: string(b), hdr: resp.Header}
		}()
		if !eventually(t, 5*time.Second, func() bool { return fake.ChatRequests() == 1 }) {
			t.Fatal("the chat never reached the model")
		}
		began := time.Now()
		stop() // SIGTERM
		var a answer
		select {
		case a = <-answered:
		case <-time.After(shutdown + 2*time.Second):
			t.Fatal("the in-flight chat got no answer")
		}
		if a.err != nil || a.status != 503 || !strings.Contains(a.body, `"code":"SERVICE_UNAVAILABLE"`) || a.hdr.Get("Retry-After") == "" {
			t.Fatalf("in-flight chat at shutdown: %d %v %s %v", a.status, a.hdr, a.body, a.err)
		}
		if d := time.Since(began); d > shutdown {
			t.Fatalf("answered %v after shutdown began, past SHUTDOWN_TIMEOUT", d)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("serve: %v", err)
			}
		case <-time.After(shutdown + 2*time.Second):
			t.Fatal("the server did not stop")
		}
		var outcome string
		ts.srv.db.Raw("SELECT outcome FROM chat_usage").Scan(&outcome)
		if outcome != "shutdown" {
			t.Fatalf("usage row outcome %q, want shutdown", outcome)
		}
		select {
		case <-fake.CancelledCh():
		case <-time.After(3 * time.Second):
			t.Fatal("the upstream call was not cancelled")
		}
	})
}

// TestChatBudgetReservedBeforeTheCall: concurrent chats of one user never
// spend more than the daily budget plus one request's max_tokens: each
// reserves its prompt and max_tokens atomically before the model is
// called, and settles to its real usage after.
func TestChatBudgetReservedBeforeTheCall(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		const budget, maxTokens, clients = 400, 30, 10
		fake := openaitest.New()
		defer fake.Close()
		// 40 tokens, 25 ms apart: every chat is in flight at once, and
		// each answer is cut at max_tokens.
		fake.Default = openaitest.Reply{Tokens: strings.Split(strings.Repeat("w ", 40), " ")[:40], Delay: 25 * time.Millisecond}
		ts := newTestServer(t, dialect, withFakeLLM(fake, 5*time.Second),
			func(c *config.Config) { c.Chat.DailyTokenBudget, c.Chat.MaxTokens = budget, maxTokens })
		auth := ts.staffToken("ana")
		statuses := make([]int, clients)
		var wg sync.WaitGroup
		for i := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = ts.do("POST", "/api/v1/chat", map[string]any{"message": fmt.Sprintf("question number %d", i)}, "Authorization", auth).Status
			}()
		}
		wg.Wait()
		answered, refused := 0, 0
		for _, s := range statuses {
			switch s {
			case 200:
				answered++
			case 429:
				refused++
			default:
				t.Fatalf("statuses %v", statuses)
			}
		}
		var used int64
		ts.srv.db.Raw("SELECT COALESCE(SUM(total_tokens), 0) FROM chat_usage").Scan(&used)
		t.Logf("%d answered, %d refused, %d tokens used of %d", answered, refused, used, budget)
		if answered == 0 || refused == 0 || used > budget+maxTokens {
			t.Fatalf("%d answered, %d refused: %d tokens used, budget %d + max_tokens %d", answered, refused, used, budget, maxTokens)
		}
		for _, r := range fake.Requests() {
			if r.Body["max_tokens"] != float64(maxTokens) {
				t.Fatalf("max_tokens sent: %v", r.Body["max_tokens"])
			}
		}
		// Every reservation was settled to the real usage.
		var row models.ChatBudget
		if err := ts.srv.db.Where("day = ?", models.UsageDay(models.Now())).Take(&row).Error; err != nil {
			t.Fatal(err)
		}
		if row.Reserved != 0 || row.Tokens != used {
			t.Fatalf("budget row %+v, usage %d", row, used)
		}
	})
}

// TestChatRetrievalInOpenAPI: the OpenAPI document shows how answers were
// retrieved.
func TestChatRetrievalInOpenAPI(t *testing.T) {
	doc, err := api.BuildOpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Enum []string `json:"enum"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(doc, &spec); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ChatAnswer", "SearchResults"} {
		if p, ok := spec.Components.Schemas[name].Properties["retrieval"]; !ok || !slices.Contains(p.Enum, "keyword") {
			t.Fatalf("OpenAPI %s has no retrieval property: %+v", name, spec.Components.Schemas[name])
		}
	}
}

// TestChatWatchLeavesTheConnectionUsable: watching a request's connection
// for the client's close takes nothing from it: the next request on a
// kept-alive connection, and a request pipelined behind a chat, are
// answered.
func TestChatWatchLeavesTheConnectionUsable(t *testing.T) {
	fake := openaitest.New()
	defer fake.Close()
	fake.Default = openaitest.Reply{Tokens: []string{"ok"}, Delay: 200 * time.Millisecond}
	ts := newTestServer(t, "sqlite", withFakeLLM(fake, 5*time.Second))
	auth := ts.staffToken("ana")
	base := ts.listen()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	body := `{"message":"hello"}`
	chatReq := fmt.Sprintf("POST /api/v1/chat HTTP/1.1\r\nHost: tienda\r\nAuthorization: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		auth, len(body), body)
	rd := bufio.NewReader(conn)
	read := func() *http.Response {
		t.Helper()
		resp, err := http.ReadResponse(rd, nil)
		if err != nil {
			t.Fatalf("read response: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, b)
		}
		return resp
	}
	// One after the other on a kept-alive connection.
	for range 2 {
		if _, err := io.WriteString(conn, chatReq); err != nil {
			t.Fatal(err)
		}
		read()
	}
	// A request pipelined behind a chat that is still waiting for the
	// model: its bytes reach the socket the chat's watch is peeking at.
	if _, err := io.WriteString(conn, chatReq); err != nil {
		t.Fatal(err)
	}
	if !eventually(t, 5*time.Second, func() bool { return fake.ChatRequests() == 3 }) {
		t.Fatal("the third chat never reached the model")
	}
	if _, err := io.WriteString(conn, "GET /health HTTP/1.1\r\nHost: tienda\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	read()
	read()
	if fake.Cancelled() != 0 {
		t.Fatal("a pipelined request is not a client that went away")
	}
}

// TestChatStreamTimeoutEndsWithAnEvent: a stream cut by its own deadline
// ends with an error event, so that the client does not reconnect and ask
// again.
func TestChatStreamTimeoutEndsWithAnEvent(t *testing.T) {
	fake := openaitest.New()
	defer fake.Close()
	fake.Default = openaitest.Reply{Tokens: strings.Split(strings.Repeat("t", 50), ""), Delay: 100 * time.Millisecond}
	ts := newTestServer(t, "sqlite", withFakeLLM(fake, 5*time.Second))
	ts.srv.chatAPI.StreamTimeout = time.Second
	auth := ts.staffToken("ana")
	start := time.Now()
	r := ts.do("POST", "/api/v1/chat/stream", map[string]any{"message": "tell me a long story"}, "Authorization", auth)
	events := parseSSE(string(r.Body))
	if len(events) < 3 || events[len(events)-1].Event != "error" || !strings.Contains(events[len(events)-1].Data, `"code":"LLM_TIMEOUT"`) {
		t.Fatalf("events %+v", events)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("the stream ran %v past its 1s deadline", took)
	}
}
