package chat

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
)

// openaiClient speaks the OpenAI REST wire format (chat completions,
// embeddings, the model list) over net/http: the three calls Tienda
// makes, against OpenAI or any compatible server (Azure, Ollama, vLLM,
// llama.cpp). The official SDK brought about 12 MB of generated code for
// the whole API into the binary. Retries, timeouts and the breaker are the
// callers'; the wire format is tested against openaitest's fake server.
type openaiClient struct {
	base string // ends with the API's version path, e.g. https://api.openai.com/v1
	key  string
	http *http.Client
}

func newOpenAIClient(baseURL, key string, hc *http.Client) *openaiClient {
	if hc == nil {
		hc = &http.Client{} // deadlines come from the callers' contexts
	}
	return &openaiClient{base: strings.TrimRight(baseURL, "/"), key: key, http: hc}
}

// maxErrorBody bounds what is read of an error answer.
const maxErrorBody = 64 << 10

// post sends body as JSON (GET when body is nil) and returns the answer,
// or the error an HTTP status or the network gave: an *UpstreamError for a
// status of 400 or more, ours for the rest (classify).
func (c *openaiClient) send(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, classify(err)
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return nil, &UpstreamError{Status: resp.StatusCode, RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After")),
			Message: errorMessage(b, resp.Status)}
	}
	return resp, nil
}

// errorMessage is the message of OpenAI's error body {"error":{"message"}}
// (or the status line when the body is something else).
func errorMessage(body []byte, status string) string {
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
		return e.Error.Message
	}
	return status
}

// decode reads a JSON answer into v.
func decode(resp *http.Response, v any) error {
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return classifyRead(err)
	}
	return nil
}

// classifyRead turns a failure to read an answer into ours: the network
// or a deadline, else an answer that is not the protocol.
func classifyRead(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	if errors.As(err, &se) || errors.As(err, &te) {
		return fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	return classify(err)
}

// classify turns a transport error into ours.
func classify(err error) error {
	var ue *UpstreamError
	var ne net.Error
	switch {
	case errors.As(err, &ue):
		return err
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	case errors.Is(err, context.Canceled):
		return err
	case errors.As(err, &ne), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return fmt.Errorf("%w: %w", ErrBadResponse, err)
}

// The request and answer shapes of the three calls.
type (
	chatMessage struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	chatRequest struct {
		Model         string        `json:"model"`
		Messages      []chatMessage `json:"messages"`
		Stream        bool          `json:"stream"`
		StreamOptions struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
		Temperature *float64 `json:"temperature,omitempty"`
		// max_tokens, not max_completion_tokens: the one every
		// OpenAI-compatible server (Ollama, vLLM, llama.cpp) honours.
		MaxTokens int `json:"max_tokens,omitempty"`
	}
	chatChunk struct {
		Choices []struct {
			Index int `json:"index"`
			Delta struct {
				Content string `json:"content"`
			} `json:"delta"`
		} `json:"choices"`
		Usage *struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
			TotalTokens      int `json:"total_tokens"`
		} `json:"usage"`
		Error *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	embeddingsRequest struct {
		Input          []string `json:"input"`
		Model          string   `json:"model"`
		EncodingFormat string   `json:"encoding_format"`
	}
	embeddingsAnswer struct {
		Data []struct {
			Index     int       `json:"index"`
			Embedding []float64 `json:"embedding"`
		} `json:"data"`
		Usage struct {
			TotalTokens int `json:"total_tokens"`
		} `json:"usage"`
	}
	modelsAnswer struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
)

// sseStream reads the chunks of a streamed chat completion: Server-Sent
// Events whose data lines hold one JSON chunk each, ended by [DONE].
type sseStream struct {
	body io.ReadCloser
	rd   *bufio.Reader
	cur  chatChunk
	err  error
	done bool
}

func newSSEStream(body io.ReadCloser) *sseStream {
	return &sseStream{body: body, rd: bufio.NewReaderSize(body, 32<<10)}
}

// Next reads the next chunk; false at the end of the stream or on error.
func (s *sseStream) Next() bool {
	if s.done || s.err != nil {
		return false
	}
	for {
		line, err := s.rd.ReadString('\n')
		if err != nil && (line == "" || !errors.Is(err, io.EOF)) {
			if errors.Is(err, io.EOF) {
				// the body ended without [DONE]: a broken stream
				s.err = fmt.Errorf("%w: the stream ended without [DONE]", ErrUnavailable)
			} else {
				s.err = classifyRead(err)
			}
			return false
		}
		line = strings.TrimRight(line, "\r\n")
		data, ok := strings.CutPrefix(line, "data:")
		if !ok {
			if err != nil {
				s.err = fmt.Errorf("%w: the stream ended without [DONE]", ErrUnavailable)
				return false
			}
			continue // a comment, an event name, an id, the blank separator
		}
		data = strings.TrimSpace(data)
		if data == "[DONE]" {
			s.done = true
			return false
		}
		s.cur = chatChunk{}
		if jerr := json.Unmarshal([]byte(data), &s.cur); jerr != nil {
			s.err = fmt.Errorf("%w: a chunk is not JSON: %w", ErrBadResponse, jerr)
			return false
		}
		if s.cur.Error != nil {
			s.err = &UpstreamError{Status: http.StatusBadGateway, Message: s.cur.Error.Message}
			return false
		}
		return true
	}
}

// Current is the chunk Next read.
func (s *sseStream) Current() chatChunk { return s.cur }

// Err is what ended the stream (nil after [DONE]).
func (s *sseStream) Err() error { return s.err }

// Close releases the connection.
func (s *sseStream) Close() error { return s.body.Close() }
