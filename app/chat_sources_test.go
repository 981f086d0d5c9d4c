package app

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"tienda/app/chat"
	"tienda/app/chat/openaitest"
)

// lampsGuideDoc has three sections about lamps: three chunks of one document.
const lampsGuideDoc = "# Lamp returns\nLamps can be returned within 30 days of delivery, in their original box.\n\n" +
	"# Lamp bulbs\nLamp bulbs are not returned once fitted; a broken lamp bulb is replaced.\n\n" +
	"# Lamp shades\nLamp shades are returned like lamps, within 30 days."

const offTopicQuestion = "What is the weather forecast for Mars tomorrow?"

// apiSource is a chat source as the API sends it.
type apiSource struct {
	DocumentID int64   `json:"document_id"`
	Title      string  `json:"title"`
	Snippet    string  `json:"snippet"`
	ChunkID    int64   `json:"chunk_id"`
	Chunk      *int    `json:"chunk"`
	Score      float64 `json:"score"`
	URL        string  `json:"url"`
	More       []struct {
		ChunkID int64   `json:"chunk_id"`
		Chunk   *int    `json:"chunk"`
		Snippet string  `json:"snippet"`
		Score   float64 `json:"score"`
	} `json:"more"`
}

// checkOnePerDocument: every document once, the lamps guide with its two
// other chunks folded under the best one.
func checkOnePerDocument(t *testing.T, where string, sources []apiSource, lamps, sofas int64) {
	t.Helper()
	seen := map[int64]bool{}
	var guide *apiSource
	for i, s := range sources {
		if seen[s.DocumentID] {
			t.Fatalf("%s: document %d cited twice: %+v", where, s.DocumentID, sources)
		}
		seen[s.DocumentID] = true
		if s.URL != fmt.Sprintf("/api/v1/documents/%d", s.DocumentID) || s.ChunkID == 0 || s.Chunk == nil || s.More == nil {
			t.Fatalf("%s: source fields: %+v", where, s)
		}
		if s.DocumentID == lamps {
			guide = &sources[i]
		}
	}
	if guide == nil || !seen[sofas] || len(guide.More) != 2 {
		t.Fatalf("%s: want the lamps guide once with two chunks folded, and the sofas: %+v", where, sources)
	}
	chunks := map[int]bool{*guide.Chunk: true}
	prev := guide.Score
	for _, m := range guide.More {
		if m.ChunkID == 0 || m.Chunk == nil || chunks[*m.Chunk] || !strings.Contains(strings.ToLower(m.Snippet), "lamp") || m.Score > prev {
			t.Fatalf("%s: folded chunks (other chunks of the guide, best first): %+v", where, guide)
		}
		chunks[*m.Chunk] = true
		prev = m.Score
	}
}

// systemPrompt is the system message of the fake model's last request.
func systemPrompt(t *testing.T, fake *openaitest.Server) string {
	t.Helper()
	reqs := fake.Requests()
	for i := len(reqs) - 1; i >= 0; i-- {
		if msgs, ok := reqs[i].Body["messages"].([]any); ok && len(msgs) > 0 {
			m, _ := msgs[0].(map[string]any)
			s, _ := m["content"].(string)
			return s
		}
	}
	t.Fatal("the model was not called")
	return ""
}

// checkNumbering: the prompt numbers the documents as the sources list
// them, once each, and nothing past them.
func checkNumbering(t *testing.T, where, system string, sources []apiSource) {
	t.Helper()
	for i, s := range sources {
		if head := fmt.Sprintf("\n[%d] %s\n", i+1, s.Title); strings.Count(system, head) != 1 {
			t.Fatalf("%s: the prompt must hold %q once: %s", where, head, system)
		}
	}
	if strings.Contains(system, fmt.Sprintf("\n[%d] ", len(sources)+1)) {
		t.Fatalf("%s: the prompt numbers passages past the %d sources: %s", where, len(sources), system)
	}
}

// readStream reads an SSE answer to its end: the sources event's data,
// the text, and the kinds of events in order.
func readStream(t *testing.T, base, auth string, body map[string]any) (sources string, text string, kinds []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp := postStream(t, ctx, base, auth, body)
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("stream: %d", resp.StatusCode)
	}
	rd := &sseReader{r: bufio.NewReader(resp.Body)}
	var b strings.Builder
	for {
		ev, err := rd.next()
		if err != nil {
			break
		}
		kinds = append(kinds, ev.Event)
		switch ev.Event {
		case "sources":
			sources = ev.Data
		case "token":
			var d struct {
				Delta string `json:"delta"`
			}
			if err := json.Unmarshal([]byte(ev.Data), &d); err != nil {
				t.Fatalf("token %q: %v", ev.Data, err)
			}
			b.WriteString(d.Delta)
		}
		if ev.Event == "done" || ev.Event == "error" {
			break
		}
	}
	return sources, b.String(), kinds
}

func TestChatSourcesOnePerDocument(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		fake := openaitest.New()
		defer fake.Close()
		fake.Default = openaitest.Reply{Tokens: []string{"Lamps: 30 days [1]; ", "sofas: 14 days [2]."}}
		ts := newTestServer(t, dialect, withFakeLLM(fake, 5*time.Second))
		auth := ts.staffToken("ana")
		lamps := ts.createIndexedDoc(auth, "Lamps guide", lampsGuideDoc)
		sofas := ts.createIndexedDoc(auth, "Sofas", "Sofas can be returned within 14 days when unused. Sofa covers are final sale.")
		question := map[string]any{"message": "Can lamps and sofas be returned?", "top_k": 6}

		r := ts.do("POST", "/api/v1/chat", question, "Authorization", auth)
		if r.Status != 200 {
			t.Fatalf("chat: %d %s", r.Status, r.Body)
		}
		var ans struct {
			Answer  string      `json:"answer"`
			Sources []apiSource `json:"sources"`
		}
		r.JSON(t, &ans)
		checkOnePerDocument(t, "POST /api/v1/chat", ans.Sources, lamps, sofas)
		checkNumbering(t, "POST /api/v1/chat", systemPrompt(t, fake), ans.Sources)

		data, text, kinds := readStream(t, ts.listen(), auth, question)
		var ev struct {
			Sources   []apiSource `json:"sources"`
			Retrieval string      `json:"retrieval"`
		}
		if err := json.Unmarshal([]byte(data), &ev); err != nil || kinds[0] != "sources" || kinds[len(kinds)-1] != "done" || ev.Retrieval != "hybrid" {
			t.Fatalf("stream: %v %s %v", kinds, data, err)
		}
		checkOnePerDocument(t, "POST /api/v1/chat/stream", ev.Sources, lamps, sofas)
		checkNumbering(t, "POST /api/v1/chat/stream", systemPrompt(t, fake), ev.Sources)
		if text != ans.Answer {
			t.Fatalf("stream text %q, answer %q", text, ans.Answer)
		}
	})
}

func TestChatOffTopicCitesNothing(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		fake := openaitest.New()
		defer fake.Close()
		const reply = "The documents do not cover the weather on Mars."
		fake.Default = openaitest.Reply{Tokens: []string{"The documents ", "do not cover ", "the weather on Mars."}}
		ts := newTestServer(t, dialect, withFakeLLM(fake, 5*time.Second))
		auth := ts.staffToken("ana")
		ts.createIndexedDoc(auth, "Lamps guide", lampsGuideDoc)
		ts.createIndexedDoc(auth, "Return policy", lampDoc)
		search := ts.do("POST", "/api/v1/documents/search", map[string]any{"query": offTopicQuestion}, "Authorization", auth)
		if search.Status != 200 || !strings.Contains(string(search.Body), `"document_id"`) {
			t.Fatalf("search still ranks passages for the question, or the test proves nothing: %d %s", search.Status, search.Body)
		}

		r := ts.do("POST", "/api/v1/chat", map[string]any{"message": offTopicQuestion}, "Authorization", auth)
		if r.Status != 200 || !strings.Contains(string(r.Body), `"sources":[]`) {
			t.Fatalf("chat: %d %s", r.Status, r.Body)
		}
		var ans struct {
			Answer string `json:"answer"`
		}
		r.JSON(t, &ans)
		system := systemPrompt(t, fake)
		if ans.Answer != reply || !strings.Contains(system, chat.NoPassagePrompt) || strings.Contains(system, "Lamps can be returned") {
			t.Fatalf("answer %q; the model must be told nothing is relevant and get no passage: %s", ans.Answer, system)
		}

		data, text, kinds := readStream(t, ts.listen(), auth, map[string]any{"message": offTopicQuestion})
		if strings.Join(kinds, ",") != "sources,token,token,token,done" || !strings.Contains(data, `"sources":[]`) || text != reply {
			t.Fatalf("stream: %v %s %q", kinds, data, text)
		}
		if system := systemPrompt(t, fake); !strings.Contains(system, chat.NoPassagePrompt) {
			t.Fatalf("stream prompt: %s", system)
		}

		// An on-topic question still cites.
		r = ts.do("POST", "/api/v1/chat", map[string]any{"message": "How long do I have to return a lamp?"}, "Authorization", auth)
		if r.Status != 200 || strings.Contains(string(r.Body), `"sources":[]`) || strings.Contains(systemPrompt(t, fake), chat.NoPassagePrompt) {
			t.Fatalf("on-topic chat: %d %s", r.Status, r.Body)
		}
	})
}

// TestChatOffTopicOffline: without a language model the extractive answer
// says the documents do not cover the question and quotes nothing.
func TestChatOffTopicOffline(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect)
		auth := ts.staffToken("ana")
		ts.createIndexedDoc(auth, "Return policy", lampDoc)
		r := ts.do("POST", "/api/v1/chat", map[string]any{"message": offTopicQuestion}, "Authorization", auth)
		var ans struct {
			Answer  string      `json:"answer"`
			Sources []apiSource `json:"sources"`
		}
		r.JSON(t, &ans)
		if r.Status != 200 || ans.Sources == nil || len(ans.Sources) != 0 || !strings.HasPrefix(ans.Answer, chat.NotCovered) ||
			strings.Contains(ans.Answer, "[1]") || strings.Contains(ans.Answer, "Lamps") {
			t.Fatalf("chat: %d %s", r.Status, r.Body)
		}
		data, text, _ := readStream(t, ts.listen(), auth, map[string]any{"message": offTopicQuestion})
		if !strings.Contains(data, `"sources":[]`) || text != ans.Answer {
			t.Fatalf("stream: %s %q", data, text)
		}
	})
}
