package chat

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"tienda/models"
)

// Embedder turns texts into vectors. Two implementations: HashEmbedder
// (offline, lexical) and OpenAIEmbedder (any OpenAI-compatible /v1/embeddings).
type Embedder interface {
	// Model names the embedding model; chunks embedded with another model
	// are stale.
	Model() string
	// Embed returns one L2-normalised vector per text, and the tokens used.
	Embed(ctx context.Context, texts []string) ([][]float32, int, error)
}

// HashModelName is the name the offline embedder's vectors are stored under.
const HashModelName = "tienda-hash-v1"

// HashEmbedder is the built-in offline embedder: a hashing vectorizer over
// normalised words (lowercased, accents and common English suffixes and
// stop words removed), word bigrams and character trigrams, L2-normalised. It
// is deterministic and needs no download, but it is lexical, not semantic:
// texts are close when they share words and word fragments, not meaning.
type HashEmbedder struct {
	Dim    int // default 384
	Tokens TokenCounter
}

// Model implements Embedder.
func (h HashEmbedder) Model() string { return fmt.Sprintf("%s-%d", HashModelName, h.dim()) }

func (h HashEmbedder) dim() int {
	if h.Dim <= 0 {
		return 384
	}
	return h.Dim
}

// Embed implements Embedder.
func (h HashEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, int, error) {
	out := make([][]float32, len(texts))
	tokens := 0
	for i, t := range texts {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		out[i] = h.vector(t)
		if h.Tokens != nil {
			tokens += h.Tokens.Count(t)
		}
	}
	return out, tokens, nil
}

func (h HashEmbedder) vector(text string) []float32 {
	dim := h.dim()
	v := make([]float32, dim)
	add := func(feature string, weight float32) {
		f := fnv.New64a()
		_, _ = f.Write([]byte(feature))
		x := f.Sum64()
		sign := float32(1)
		if x>>63 == 1 {
			sign = -1
		}
		v[x%uint64(dim)] += sign * weight
	}
	var words []string
	for _, w := range Words(text) {
		if !stopWords[w] {
			words = append(words, stem(w))
		}
	}
	for i, w := range words {
		add("w:"+w, 1)
		if i > 0 {
			add("b:"+words[i-1]+" "+w, 0.5)
		}
		padded := []rune(" " + w + " ")
		for j := 0; j+3 <= len(padded); j++ {
			add("c:"+string(padded[j:j+3]), 0.25)
		}
	}
	Normalize(v)
	return v
}

// Words lowercases text, strips accents and splits it into words of
// letters and digits.
func Words(text string) []string {
	d := norm.NFD.String(strings.ToLower(text))
	var b strings.Builder
	for _, r := range d {
		switch {
		case unicode.Is(unicode.Mn, r):
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		default:
			b.WriteByte(' ')
		}
	}
	return strings.Fields(b.String())
}

// Normalize scales v to unit length (a zero vector stays zero).
func Normalize(v []float32) {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 {
		return
	}
	n := float32(1 / math.Sqrt(s))
	for i := range v {
		v[i] *= n
	}
}

// Cosine is the cosine similarity of two vectors of equal length (the dot
// product when both are normalised, as stored vectors are).
func Cosine(a, b []float32) float32 {
	if len(a) != len(b) || len(a) == 0 {
		return 0
	}
	var dot, na, nb float32
	for i := range a {
		dot += a[i] * b[i]
		na += a[i] * a[i]
		nb += b[i] * b[i]
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / float32(math.Sqrt(float64(na))*math.Sqrt(float64(nb)))
}

// EncodeVector stores v as little-endian float32s.
func EncodeVector(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// DecodeVector reads a vector written by EncodeVector.
func DecodeVector(b []byte) ([]float32, error) {
	if len(b)%4 != 0 {
		return nil, errors.New("vector blob length is not a multiple of 4")
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v, nil
}

// OpenAIEmbedderConfig configures the OpenAI-compatible embedder.
type OpenAIEmbedderConfig struct {
	BaseURL string // for example http://localhost:11434/v1 for Ollama
	APIKey  string
	Model   string
	// Timeout bounds every call, its retries included (default 60s): a
	// server that stalls, hangs halfway through its answer or trickles it
	// gives ErrTimeout, never a hang. Callers may bound a call tighter with
	// their context.
	Timeout time.Duration
	// MaxRetries on connection errors, 429 and 5xx (default 2; negative:
	// none). A retry is made only when its backoff fits before the
	// deadline, so retries never turn an outage into a timeout.
	MaxRetries int
	// RetryBase is the first backoff (default 250ms), doubled per retry.
	RetryBase time.Duration
	// Breaker fails calls fast after repeated failures (default: open
	// after 5 consecutive failures, for 30s).
	Breaker *Breaker
	// HTTPClient is optional (tests).
	HTTPClient *http.Client
}

// OpenAIEmbedder calls an OpenAI-compatible /v1/embeddings endpoint.
type OpenAIEmbedder struct {
	cfg    OpenAIEmbedderConfig
	client *openaiClient
}

// NewOpenAIEmbedder returns an embedder for cfg.Model at cfg.BaseURL.
// Retries are ours (bounded by the deadline), so the client's own are off.
func NewOpenAIEmbedder(cfg OpenAIEmbedderConfig) *OpenAIEmbedder {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 2
	}
	if cfg.MaxRetries < 0 {
		cfg.MaxRetries = 0
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = 250 * time.Millisecond
	}
	if cfg.Breaker == nil {
		cfg.Breaker = NewBreaker(5, 30*time.Second)
	}
	return &OpenAIEmbedder{cfg: cfg, client: newOpenAIClient(cfg.BaseURL, cfg.APIKey, cfg.HTTPClient)}
}

// Model implements Embedder.
func (e *OpenAIEmbedder) Model() string { return e.cfg.Model }

// Embed implements Embedder. The call, retries included, ends by
// cfg.Timeout (or ctx's deadline, when sooner).
func (e *OpenAIEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, int, error) {
	if len(texts) == 0 {
		return nil, 0, nil
	}
	if !e.cfg.Breaker.Allow() {
		return nil, 0, fmt.Errorf("embeddings: %w: circuit open after repeated failures", ErrUnavailable)
	}
	tctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()
	var lastErr error
	for attempt := 0; attempt <= e.cfg.MaxRetries; attempt++ {
		if attempt > 0 {
			wait := models.Backoff(attempt, e.cfg.RetryBase, 8*time.Second)
			var ue *UpstreamError
			if errors.As(lastErr, &ue) && ue.RetryAfter > wait {
				wait = min(ue.RetryAfter, 8*time.Second)
			}
			if dl, ok := tctx.Deadline(); ok && time.Until(dl) < wait {
				break // no time left for another try: report what failed
			}
			t := time.NewTimer(wait)
			select {
			case <-tctx.Done():
				t.Stop()
			case <-t.C:
			}
		}
		if tctx.Err() != nil {
			break
		}
		vecs, tokens, err := e.embedOnce(tctx, texts)
		if err == nil {
			e.cfg.Breaker.Success()
			return vecs, tokens, nil
		}
		lastErr = err
		var ue *UpstreamError
		if errors.As(err, &ue) && !ue.retryable() {
			// refused (bad model, bad input): the server itself is fine
			e.cfg.Breaker.Success()
			return nil, 0, err
		}
		if errors.Is(err, ErrBadResponse) || tctx.Err() != nil {
			break
		}
	}
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		// the caller went away: not the server's fault
		e.cfg.Breaker.Release()
		return nil, 0, ctx.Err()
	case ctx.Err() != nil:
		// the caller's own, shorter deadline (a search's query) passed
		e.cfg.Breaker.Failure()
		return nil, 0, fmt.Errorf("embeddings request: %w: %w", ErrTimeout, ctx.Err())
	case tctx.Err() != nil:
		e.cfg.Breaker.Failure()
		return nil, 0, fmt.Errorf("embeddings request: %w after %s", ErrTimeout, e.cfg.Timeout)
	}
	e.cfg.Breaker.Failure()
	return nil, 0, lastErr
}

// embedOnce is one request.
func (e *OpenAIEmbedder) embedOnce(ctx context.Context, texts []string) ([][]float32, int, error) {
	answer, err := e.client.send(ctx, http.MethodPost, "/embeddings", embeddingsRequest{Input: texts, Model: e.cfg.Model, EncodingFormat: "float"})
	if err != nil {
		return nil, 0, fmt.Errorf("embeddings request: %w", err)
	}
	var resp embeddingsAnswer
	if err := decode(answer, &resp); err != nil {
		return nil, 0, fmt.Errorf("embeddings request: %w", err)
	}
	if len(resp.Data) != len(texts) {
		return nil, 0, fmt.Errorf("embeddings: %w: got %d vectors for %d inputs", ErrBadResponse, len(resp.Data), len(texts))
	}
	out := make([][]float32, len(texts))
	dim := -1
	for _, d := range resp.Data {
		if d.Index < 0 || d.Index >= len(texts) || out[d.Index] != nil {
			return nil, 0, fmt.Errorf("embeddings: %w: bad index %d", ErrBadResponse, d.Index)
		}
		if len(d.Embedding) == 0 || (dim >= 0 && len(d.Embedding) != dim) {
			return nil, 0, fmt.Errorf("embeddings: %w: inconsistent dimensions", ErrBadResponse)
		}
		dim = len(d.Embedding)
		v := make([]float32, dim)
		for i, x := range d.Embedding {
			v[i] = float32(x)
		}
		Normalize(v)
		out[d.Index] = v
	}
	return out, resp.Usage.TotalTokens, nil
}
