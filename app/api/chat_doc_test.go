package api

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
	"tienda/app/chat"
)

// TestChatDocTypesMatchLimits keeps the documented request bodies (the
// OpenAPI document reflects their validate tags) in step with the limits
// the chat handlers enforce.
func TestChatDocTypesMatchLimits(t *testing.T) {
	cases := []struct {
		typ   any
		field string
		want  string
	}{
		{chatRequestBody{}, "Message", "max=" + strconv.Itoa(chat.MaxMessageChars)},
		{chatRequestBody{}, "Model", "max=" + strconv.Itoa(chat.MaxModelChars)},
		{chatRequestBody{}, "SystemPrompt", "max=" + strconv.Itoa(chat.MaxSystemPromptChars)},
		{chatRequestBody{}, "TopK", "max=" + strconv.Itoa(chat.MaxTopK)},
		{chatRequestBody{}, "History", "max=" + strconv.Itoa(chat.MaxHistory)},
		{chatHistoryItem{}, "Content", "max=" + strconv.Itoa(chat.MaxMessageChars)},
		{searchRequestBody{}, "Query", "max=" + strconv.Itoa(chat.MaxQueryChars)},
		{searchRequestBody{}, "TopK", "max=" + strconv.Itoa(chat.MaxTopK)},
	}
	for _, tc := range cases {
		f, ok := reflect.TypeOf(tc.typ).FieldByName(tc.field)
		if !ok {
			t.Fatalf("%T has no field %s", tc.typ, tc.field)
		}
		if !strings.Contains(f.Tag.Get("validate"), tc.want) {
			t.Errorf("%T.%s: validate %q does not say %s", tc.typ, tc.field, f.Tag.Get("validate"), tc.want)
		}
	}
	f, _ := reflect.TypeOf(embeddingsRequestBody{}).FieldByName("Input")
	for _, n := range []int{chat.MaxEmbeddingInputs, chat.MaxEmbeddingChars} {
		if !strings.Contains(f.Tag.Get("description"), strconv.Itoa(n)) {
			t.Errorf("embeddings input description does not mention the limit %d", n)
		}
	}
}
