package chat_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"tienda/app/chat"
	"tienda/app/chat/openaitest"
)

func newProvider(t *testing.T, fake *openaitest.Server, edit ...func(*chat.OpenAIConfig)) *chat.OpenAIProvider {
	t.Helper()
	cfg := chat.OpenAIConfig{BaseURL: fake.BaseURL(), APIKey: "test-key", Model: "fake-chat-1", Timeout: 2 * time.Second,
		MaxRetries: 2, RetryBase: 5 * time.Millisecond}
	for _, e := range edit {
		e(&cfg)
	}
	return chat.NewOpenAIProvider(cfg)
}

func completion() chat.Completion {
	return chat.Completion{Messages: []chat.Message{{Role: "system", Content: "be brief"}, {Role: "user", Content: "hello there"}}}
}

func TestOpenAIProviderStreamsTokensAndUsage(t *testing.T) {
	fake := openaitest.New()
	defer fake.Close()
	p := newProvider(t, fake)
	var got []string
	usage, err := p.Stream(context.Background(), completion(), func(d string) error { got = append(got, d); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "") != "Hello, world." || len(got) != 4 {
		t.Fatalf("deltas %q", got)
	}
	if usage.CompletionTokens != 4 || usage.PromptTokens != 4 {
		t.Fatalf("usage from the provider expected, got %+v", usage)
	}
	req := fake.Requests()[0]
	if req.Body["stream"] != true || req.Body["model"] != "fake-chat-1" {
		t.Fatalf("request body %v", req.Body)
	}
}

func TestOpenAIProviderCountsTokensWithoutUsage(t *testing.T) {
	fake := openaitest.New()
	defer fake.Close()
	fake.Default.NoUsage = true
	tok, err := chat.NewTiktoken()
	if err != nil {
		t.Fatal(err)
	}
	p := newProvider(t, fake, func(c *chat.OpenAIConfig) { c.Tokens = tok })
	usage, err := p.Stream(context.Background(), completion(), func(string) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if usage.CompletionTokens != tok.Count("Hello, world.") || usage.PromptTokens == 0 {
		t.Fatalf("local count expected, got %+v", usage)
	}
}

func TestOpenAIProviderFailures(t *testing.T) {
	cases := []struct {
		name     string
		replies  []openaitest.Reply
		wantErr  error
		requests int
		deltas   string
	}{
		{"429 then ok retries", []openaitest.Reply{{Mode: openaitest.Status, Status: 429, RetryAfter: "0"}, {Tokens: []string{"ok"}}}, nil, 2, "ok"},
		{"500 twice then ok", []openaitest.Reply{{Mode: openaitest.Status, Status: 500}, {Mode: openaitest.Status, Status: 503}, {Tokens: []string{"ok"}}}, nil, 3, "ok"},
		{"500 forever gives up", []openaitest.Reply{{Mode: openaitest.Status, Status: 500}, {Mode: openaitest.Status, Status: 500}, {Mode: openaitest.Status, Status: 500}}, chat.ErrUnavailable, 3, ""},
		{"400 is not retried", []openaitest.Reply{{Mode: openaitest.Status, Status: 400}}, chat.ErrUnavailable, 1, ""},
		{"404 unknown model is not retried", []openaitest.Reply{{Mode: openaitest.Status, Status: 404}}, chat.ErrUnavailable, 1, ""},
		{"broken stream is not retried after the first token", []openaitest.Reply{{Mode: openaitest.Broken, Tokens: []string{"a", "b", "c", "d"}, BreakAfter: 2}}, chat.ErrStreamBroken, 1, "ab"},
		{"garbage", []openaitest.Reply{{Mode: openaitest.Garbage}}, chat.ErrBadResponse, 1, ""},
		{"stall times out", []openaitest.Reply{{Mode: openaitest.Stall}}, chat.ErrTimeout, 1, ""},
		{"stall mid-stream times out", []openaitest.Reply{{Tokens: []string{"a", "b"}, Delay: 2 * time.Second}}, chat.ErrTimeout, 1, ""},
		{"hang after two tokens times out", []openaitest.Reply{{Mode: openaitest.Hang, Tokens: []string{"a", "b", "c"}, HangAfter: 2}}, chat.ErrTimeout, 1, "ab"},
		{"headers then silence times out", []openaitest.Reply{{Mode: openaitest.Hang, Tokens: []string{"a"}}}, chat.ErrTimeout, 1, ""},
		{"reset before a byte", []openaitest.Reply{{Mode: openaitest.Reset}}, chat.ErrUnavailable, 1, ""},
		{"slow but within the timeout", []openaitest.Reply{{Tokens: []string{"a", "b", "c"}, Delay: 150 * time.Millisecond}}, nil, 1, "abc"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := openaitest.New()
			defer fake.Close()
			fake.Push(tc.replies...)
			fake.Default = openaitest.Reply{Mode: openaitest.Status, Status: 500}
			p := newProvider(t, fake, func(c *chat.OpenAIConfig) { c.Timeout = 300 * time.Millisecond })
			var got strings.Builder
			_, err := p.Stream(context.Background(), completion(), func(d string) error { got.WriteString(d); return nil })
			if tc.wantErr == nil && err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			}
			if n := fake.ChatRequests(); n != tc.requests {
				t.Fatalf("%d requests, want %d", n, tc.requests)
			}
			if got.String() != tc.deltas {
				t.Fatalf("deltas %q, want %q", got.String(), tc.deltas)
			}
		})
	}
}

func TestOpenAIProviderCircuitBreaker(t *testing.T) {
	fake := openaitest.New()
	defer fake.Close()
	fake.Default = openaitest.Reply{Mode: openaitest.Status, Status: 500}
	br := chat.NewBreaker(2, time.Hour)
	p := newProvider(t, fake, func(c *chat.OpenAIConfig) { c.MaxRetries = 0; c.Breaker = br })
	for i := 0; i < 2; i++ {
		if _, err := p.Stream(context.Background(), completion(), func(string) error { return nil }); !errors.Is(err, chat.ErrUnavailable) {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if !br.Open() {
		t.Fatal("breaker should be open after 2 failures")
	}
	before := fake.ChatRequests()
	_, err := p.Stream(context.Background(), completion(), func(string) error { return nil })
	if !errors.Is(err, chat.ErrUnavailable) || !strings.Contains(err.Error(), "circuit open") {
		t.Fatalf("want fail-fast, got %v", err)
	}
	if fake.ChatRequests() != before {
		t.Fatal("an open circuit must not call the provider")
	}
}

func TestOpenAIProviderConsumerStopCancelsUpstream(t *testing.T) {
	fake := openaitest.New()
	defer fake.Close()
	fake.Default = openaitest.Reply{Tokens: strings.Split(strings.Repeat("x", 50), ""), Delay: 20 * time.Millisecond}
	p := newProvider(t, fake)
	stop := errors.New("client gone")
	n := 0
	_, err := p.Stream(context.Background(), completion(), func(string) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("want the consumer's error, got %v", err)
	}
	select {
	case <-fake.CancelledCh():
	case <-time.After(3 * time.Second):
		t.Fatal("the fake upstream never saw its request cancelled")
	}
	if fake.Completed() != 0 {
		t.Fatal("upstream stream ran to completion")
	}
}

func TestOpenAIProviderModels(t *testing.T) {
	fake := openaitest.New()
	defer fake.Close()
	p := newProvider(t, fake)
	got, err := p.Models(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "fake-chat-1,fake-chat-2" {
		t.Fatalf("models %v", got)
	}
}

func TestOpenAIEmbedder(t *testing.T) {
	fake := openaitest.New()
	defer fake.Close()
	e := chat.NewOpenAIEmbedder(chat.OpenAIEmbedderConfig{BaseURL: fake.BaseURL(), APIKey: "k", Model: "fake-embed"})
	vecs, tokens, err := e.Embed(context.Background(), []string{"return policy", "lamp shades"})
	if err != nil {
		t.Fatal(err)
	}
	if len(vecs) != 2 || len(vecs[0]) != 8 || tokens != 4 {
		t.Fatalf("got %d vectors of %d, %d tokens", len(vecs), len(vecs[0]), tokens)
	}
	if c := chat.Cosine(vecs[0], vecs[0]); c < 0.999 {
		t.Fatalf("self cosine %v", c)
	}
	fake.PushEmbeddings(openaitest.Reply{Mode: openaitest.Status, Status: 400})
	if _, _, err := e.Embed(context.Background(), []string{"x"}); !errors.Is(err, chat.ErrUnavailable) {
		t.Fatalf("want upstream error, got %v", err)
	}
}

func TestBreakerHalfOpen(t *testing.T) {
	br := chat.NewBreaker(1, 10*time.Millisecond)
	br.Failure()
	if br.Allow() {
		t.Fatal("open breaker let a call through")
	}
	time.Sleep(15 * time.Millisecond)
	if !br.Allow() {
		t.Fatal("half-open breaker must let one trial through")
	}
	if br.Allow() {
		t.Fatal("only one trial at a time")
	}
	br.Release() // the trial's caller went away
	if !br.Allow() {
		t.Fatal("a released trial must let the next call try")
	}
	br.Success()
	first, second := br.Allow(), br.Allow()
	if !first || !second || br.Open() {
		t.Fatal("a successful trial closes the breaker")
	}
}
