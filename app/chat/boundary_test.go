package chat_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"tienda/app/chat"
	"tienda/app/chat/openaitest"
	"tienda/models"
)

// The LLM boundary never hangs: every call to an OpenAI-compatible server
// ends by its deadline, whatever the server does.

func newEmbedder(fake *openaitest.Server, timeout time.Duration, edit ...func(*chat.OpenAIEmbedderConfig)) *chat.OpenAIEmbedder {
	cfg := chat.OpenAIEmbedderConfig{BaseURL: fake.BaseURL(), APIKey: "k", Model: "fake-embed", Timeout: timeout,
		RetryBase: 20 * time.Millisecond}
	for _, e := range edit {
		e(&cfg)
	}
	return chat.NewOpenAIEmbedder(cfg)
}

func TestOpenAIEmbedderNeverHangs(t *testing.T) {
	const timeout = 500 * time.Millisecond
	cases := []struct {
		name     string
		replies  []openaitest.Reply
		want     error // nil: vectors
		requests int
	}{
		{"answers", []openaitest.Reply{{}}, nil, 1},
		{"slow but within the timeout", []openaitest.Reply{{Delay: 200 * time.Millisecond}}, nil, 1},
		{"slower than the timeout", []openaitest.Reply{{Delay: 5 * time.Second}}, chat.ErrTimeout, 1},
		{"stalls before answering", []openaitest.Reply{{Mode: openaitest.Stall}}, chat.ErrTimeout, 1},
		{"hangs halfway through its body", []openaitest.Reply{{Mode: openaitest.Hang}}, chat.ErrTimeout, 1},
		{"resets the connection, then answers", []openaitest.Reply{{Mode: openaitest.Reset}, {}}, nil, 2},
		{"resets every connection", []openaitest.Reply{{Mode: openaitest.Reset}, {Mode: openaitest.Reset}, {Mode: openaitest.Reset}}, chat.ErrUnavailable, 3},
		{"500 then answers", []openaitest.Reply{{Mode: openaitest.Status, Status: 500}, {}}, nil, 2},
		{"garbage", []openaitest.Reply{{Mode: openaitest.Garbage}}, chat.ErrBadResponse, 1},
		{"400 is not retried", []openaitest.Reply{{Mode: openaitest.Status, Status: 400}}, chat.ErrUnavailable, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := openaitest.New()
			defer fake.Close()
			fake.PushEmbeddings(tc.replies...)
			fake.EmbedDefault = openaitest.Reply{Mode: openaitest.Stall}
			e := newEmbedder(fake, timeout)
			start := time.Now()
			vecs, _, err := e.Embed(context.Background(), []string{"return policy", "lamp shades"})
			took := time.Since(start)
			if tc.want == nil && (err != nil || len(vecs) != 2) {
				t.Fatalf("want vectors, got %d, %v", len(vecs), err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if took > timeout+500*time.Millisecond {
				t.Fatalf("answered after %v, past the %v timeout", took, timeout)
			}
			if n := fake.EmbeddingRequests(); n != tc.requests {
				t.Fatalf("%d requests, want %d", n, tc.requests)
			}
		})
	}
}

func TestOpenAIEmbedderRetriesOnlyWithinItsDeadline(t *testing.T) {
	fake := openaitest.New()
	defer fake.Close()
	fake.EmbedDefault = openaitest.Reply{Mode: openaitest.Reset}
	// The second retry's backoff (2 x 300ms) does not fit in the 700ms
	// left: the server is reported down, not timed out.
	e := newEmbedder(fake, 700*time.Millisecond, func(c *chat.OpenAIEmbedderConfig) { c.RetryBase = 300 * time.Millisecond })
	_, _, err := e.Embed(context.Background(), []string{"x"})
	if !errors.Is(err, chat.ErrUnavailable) || errors.Is(err, chat.ErrTimeout) {
		t.Fatalf("want the outage, got %v", err)
	}
	if n := fake.EmbeddingRequests(); n != 2 {
		t.Fatalf("%d requests, want 2", n)
	}
}

func TestOpenAIEmbedderCallerCancels(t *testing.T) {
	fake := openaitest.New()
	defer fake.Close()
	fake.EmbedDefault = openaitest.Reply{Mode: openaitest.Stall}
	br := chat.NewBreaker(1, time.Hour)
	e := newEmbedder(fake, 10*time.Second, func(c *chat.OpenAIEmbedderConfig) { c.Breaker = br })
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, _, err := e.Embed(ctx, []string{"x"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want the caller's cancellation, got %v", err)
	}
	select {
	case <-fake.CancelledCh():
	case <-time.After(2 * time.Second):
		t.Fatal("the upstream request was not cancelled")
	}
	if br.Open() {
		t.Fatal("a caller that goes away is not the server's failure")
	}
}

func TestOpenAIEmbedderBreakerFailsFast(t *testing.T) {
	fake := openaitest.New()
	defer fake.Close()
	fake.EmbedDefault = openaitest.Reply{Mode: openaitest.Stall}
	br := chat.NewBreaker(2, time.Hour)
	e := newEmbedder(fake, 200*time.Millisecond, func(c *chat.OpenAIEmbedderConfig) { c.Breaker = br })
	for i := 0; i < 2; i++ {
		if _, _, err := e.Embed(context.Background(), []string{"x"}); !errors.Is(err, chat.ErrTimeout) {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	start := time.Now()
	_, _, err := e.Embed(context.Background(), []string{"x"})
	if !errors.Is(err, chat.ErrUnavailable) || time.Since(start) > 50*time.Millisecond || fake.EmbeddingRequests() != 2 {
		t.Fatalf("an open circuit fails fast without calling: %v after %v, %d requests", err, time.Since(start), fake.EmbeddingRequests())
	}
}

func TestOpenAIProviderSendsMaxTokens(t *testing.T) {
	fake := openaitest.New()
	defer fake.Close()
	fake.Default = openaitest.Reply{Tokens: strings.Split("abcdefghij", "")}
	p := newProvider(t, fake)
	req := completion()
	req.MaxTokens = 3
	var got strings.Builder
	usage, err := p.Stream(context.Background(), req, func(d string) error { got.WriteString(d); return nil })
	if err != nil || got.String() != "abc" || usage.CompletionTokens != 3 {
		t.Fatalf("%q %+v %v", got.String(), usage, err)
	}
	if mt := fake.Requests()[0].Body["max_tokens"]; mt != float64(3) {
		t.Fatalf("max_tokens sent: %v", mt)
	}
}

// blockingEmbedder waits for its context on texts containing block (as a
// stalled server would), and embeds the others.
type blockingEmbedder struct {
	chat.HashEmbedder
	mu    sync.Mutex
	block string
	calls int
}

func (b *blockingEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, int, error) {
	b.mu.Lock()
	b.calls++
	block := b.block
	b.mu.Unlock()
	for _, t := range texts {
		if block != "" && strings.Contains(t, block) {
			<-ctx.Done()
			return nil, 0, ctx.Err()
		}
	}
	return b.HashEmbedder.Embed(ctx, texts)
}

func (b *blockingEmbedder) setBlock(s string) {
	b.mu.Lock()
	b.block = s
	b.mu.Unlock()
}

func TestSearchFallsBackToKeywordsWhenTheEmbedderFailsOrStalls(t *testing.T) {
	forDialects(t, func(t *testing.T, dialect string) {
		env := newIndexEnv(t, dialect, chat.HashEmbedder{})
		doc := &models.Document{Title: "Returns", Content: "Lamps can be returned within 30 days."}
		if err := env.store.Create(env.ctx, doc); err != nil {
			t.Fatal(err)
		}
		env.runOnce(t)
		stalled := &blockingEmbedder{block: "lamps"}
		failing := &flakyEmbedder{fails: 100}
		for name, e := range map[string]chat.Embedder{"stalled": stalled, "failing": failing} {
			r := chat.NewRetriever(env.db, e)
			r.QueryEmbedTimeout = 300 * time.Millisecond
			for _, mode := range []string{chat.ModeHybrid, chat.ModeSemantic} {
				start := time.Now()
				hits, retrieval, err := r.Search(env.ctx, "returned lamps", 3, mode)
				if err != nil || len(hits) != 1 || hits[0].DocumentID != doc.ID || retrieval != chat.ModeKeyword {
					t.Fatalf("%s embedder, %s: %+v %q %v", name, mode, hits, retrieval, err)
				}
				if took := time.Since(start); took > time.Second {
					t.Fatalf("%s embedder, %s: answered after %v", name, mode, took)
				}
			}
		}
		// Once the embedder answers, hybrid is hybrid again.
		stalled.setBlock("")
		hits, retrieval, err := chat.NewRetriever(env.db, stalled).Search(env.ctx, "returned lamps", 3, chat.ModeHybrid)
		if err != nil || len(hits) != 1 || retrieval != chat.ModeHybrid {
			t.Fatalf("hybrid: %+v %q %v", hits, retrieval, err)
		}
		// The caller's own end is an error, not a fallback.
		ctx, cancel := context.WithCancel(env.ctx)
		cancel()
		if _, _, err := chat.NewRetriever(env.db, stalled).Search(ctx, "returned lamps", 3, chat.ModeHybrid); err == nil {
			t.Fatal("a cancelled search must fail")
		}
	})
}

func TestIndexingJobTimeoutDoesNotBlockOtherJobs(t *testing.T) {
	forDialects(t, func(t *testing.T, dialect string) {
		emb := &blockingEmbedder{block: "stalls"}
		env := newIndexEnv(t, dialect, emb)
		env.ix.JobTimeout = 300 * time.Millisecond
		stuck := &models.Document{Title: "Stuck", Content: "This one stalls the embedder."}
		other := &models.Document{Title: "Other", Content: "Lamps can be returned within 30 days."}
		for _, d := range []*models.Document{stuck, other} {
			if err := env.store.Create(env.ctx, d); err != nil {
				t.Fatal(err)
			}
		}
		start := time.Now()
		env.runOnce(t) // the stuck document, first in line
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("the stalled job ran for %v, past its 300ms timeout", took)
		}
		st := env.state(t, stuck.ID)
		if st.State != models.IndexPending || !strings.Contains(st.Error, "longer than 300ms") {
			t.Fatalf("the timed-out document waits for its retry with the error: %+v", st)
		}
		env.runOnce(t)
		if st := env.state(t, other.ID); st.State != models.IndexIndexed {
			t.Fatalf("the other document was not indexed meanwhile: %+v", st)
		}
		if env.runOnce(t) {
			t.Fatal("the retry must wait for its backoff")
		}
		emb.setBlock("")
		env.clk.Add(1500 * time.Millisecond)
		if !env.runOnce(t) {
			t.Fatal("the retry did not run after the backoff")
		}
		if st := env.state(t, stuck.ID); st.State != models.IndexIndexed || st.Error != "" {
			t.Fatalf("after the retry: %+v", st)
		}
	})
}

func TestServiceAdmitsBeforeCallingTheModel(t *testing.T) {
	env := newIndexEnv(t, "sqlite", chat.HashEmbedder{})
	fake := openaitest.New()
	defer fake.Close()
	tok, err := chat.NewTiktoken()
	if err != nil {
		t.Fatal(err)
	}
	svc := &chat.Service{Retriever: chat.NewRetriever(env.db, chat.HashEmbedder{}), Provider: newProvider(t, fake), Tokens: tok, MaxTokens: 64}
	var gotPrompt, gotMax int
	refusal := errors.New("over budget")
	var events []string
	_, err = svc.Chat(env.ctx, chat.Request{Message: "hello there", Admit: func(_ context.Context, prompt, maxTokens int) error {
		gotPrompt, gotMax = prompt, maxTokens
		return refusal
	}}, func(ev chat.Event) error { events = append(events, ev.Type); return nil })
	if !errors.Is(err, refusal) || strings.Join(events, ",") != "error" || fake.ChatRequests() != 0 {
		t.Fatalf("a refused message never reaches the model: %v %v, %d requests", err, events, fake.ChatRequests())
	}
	if gotMax != 64 || gotPrompt < tok.Count(chat.DefaultSystemPrompt) {
		t.Fatalf("admit saw prompt %d, max %d", gotPrompt, gotMax)
	}
	res, err := svc.Chat(env.ctx, chat.Request{Message: "hello there", Admit: func(context.Context, int, int) error { return nil }},
		func(chat.Event) error { return nil })
	if err != nil || res.Answer != "Hello, world." || res.Retrieval != chat.ModeHybrid {
		t.Fatalf("admitted: %+v %v", res, err)
	}
	if mt := fake.Requests()[0].Body["max_tokens"]; mt != float64(64) {
		t.Fatalf("max_tokens sent: %v", mt)
	}
}
