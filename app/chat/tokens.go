package chat

import (
	"unicode/utf8"

	"github.com/tiktoken-go/tokenizer"
	"github.com/tiktoken-go/tokenizer/codec"
)

// TokenCounter counts the tokens of a text.
type TokenCounter interface {
	Count(text string) int
}

// Tiktoken counts with OpenAI's cl100k_base encoding, offline. For other
// models the provider's reported usage wins when it sends one.
type Tiktoken struct {
	codec tokenizer.Codec
}

// NewTiktoken loads the encoding (embedded in the module, no download).
// It names cl100k_base's codec directly: tokenizer.Get would link every
// encoding the module ships (about 8 MiB of vocabularies never used).
func NewTiktoken() (*Tiktoken, error) {
	return &Tiktoken{codec: codec.NewCl100kBase()}, nil
}

// Count implements TokenCounter; on an encoding error it estimates four
// bytes per token.
func (t *Tiktoken) Count(text string) int {
	if text == "" {
		return 0
	}
	n, err := t.codec.Count(text)
	if err != nil {
		return utf8.RuneCountInString(text)/4 + 1
	}
	return n
}
