package chat_test

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"tienda/app/chat"
)

func TestSplit(t *testing.T) {
	long := strings.Repeat("Lamps may be returned within thirty days. ", 80)
	cases := []struct {
		name      string
		text      string
		max       int
		minChunks int
		check     func(t *testing.T, ps []chat.Piece)
	}{
		{"empty", "", 1200, 0, nil},
		{"headings become chunk headings", "# Returns\nLamps: 30 days.\n\n# Shipping\nFree over 50 euros.", 1200, 2, func(t *testing.T, ps []chat.Piece) {
			if ps[0].Heading != "Returns" || ps[1].Heading != "Shipping" || !strings.Contains(ps[1].Text, "Free") {
				t.Fatalf("pieces %+v", ps)
			}
		}},
		{"long paragraph is bounded with overlap", long, 400, 8, func(t *testing.T, ps []chat.Piece) {
			for i, p := range ps {
				if len(p.Text) > 400 {
					t.Fatalf("chunk %d has %d chars", i, len(p.Text))
				}
				if !utf8.ValidString(p.Text) {
					t.Fatalf("chunk %d is not valid UTF-8", i)
				}
			}
			if !strings.Contains(ps[1].Text, " … ") {
				t.Fatalf("second chunk should carry overlap: %q", ps[1].Text)
			}
		}},
		{"multibyte text without spaces", strings.Repeat("ñ", 3000), 500, 6, func(t *testing.T, ps []chat.Piece) {
			for _, p := range ps {
				if !utf8.ValidString(p.Text) {
					t.Fatal("cut inside a rune")
				}
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ps := chat.Split(tc.text, chat.ChunkOptions{MaxChars: tc.max})
			if len(ps) < tc.minChunks {
				t.Fatalf("%d chunks, want at least %d", len(ps), tc.minChunks)
			}
			if tc.minChunks == 0 && len(ps) != 0 {
				t.Fatalf("want no chunks, got %d", len(ps))
			}
			if tc.check != nil {
				tc.check(t, ps)
			}
		})
	}
}

func TestHashEmbedderIsDeterministicNormalisedAndLexical(t *testing.T) {
	e := chat.HashEmbedder{}
	vecs, _, err := e.Embed(context.Background(), []string{"Return policy for lamps", "return policy for LÁMPS", "shipping to the Canary Islands"})
	if err != nil {
		t.Fatal(err)
	}
	again, _, _ := e.Embed(context.Background(), []string{"Return policy for lamps"})
	if chat.Cosine(vecs[0], again[0]) < 0.9999 {
		t.Fatal("not deterministic")
	}
	var n float32
	for _, x := range vecs[0] {
		n += x * x
	}
	if n < 0.999 || n > 1.001 || len(vecs[0]) != 384 {
		t.Fatalf("norm² %v dim %d", n, len(vecs[0]))
	}
	if chat.Cosine(vecs[0], vecs[1]) <= chat.Cosine(vecs[0], vecs[2]) {
		t.Fatal("texts sharing words should be closer")
	}
	if e.Model() != "tienda-hash-v1-384" {
		t.Fatalf("model %q", e.Model())
	}
}

func TestVectorRoundTrip(t *testing.T) {
	v := []float32{0.5, -1, 3.25}
	got, err := chat.DecodeVector(chat.EncodeVector(v))
	if err != nil || len(got) != 3 || got[1] != -1 || got[2] != 3.25 {
		t.Fatalf("%v %v", got, err)
	}
	if _, err := chat.DecodeVector([]byte{1, 2, 3}); err == nil {
		t.Fatal("want an error for a bad blob")
	}
}

func TestSnippetEscapesAndMarks(t *testing.T) {
	s := chat.Snippet(`<script>alert(1)</script> Lamps can be returned in 30 days & more.`, []string{"lamp", "returned"}, 240)
	if strings.Contains(s, "<script>") || !strings.Contains(s, "&lt;script&gt;") {
		t.Fatalf("not escaped: %s", s)
	}
	if !strings.Contains(s, "<mark>Lamps</mark>") || !strings.Contains(s, "<mark>returned</mark>") || !strings.Contains(s, "&amp;") {
		t.Fatalf("not marked: %s", s)
	}
}

func TestExtractiveAnswerCitesAndSaysNoModel(t *testing.T) {
	e := &chat.Extractive{}
	sources := chat.GroupByDocument([]chat.Source{
		{DocumentID: 1, Title: "Returns", Text: "Lamps can be returned within 30 days of delivery. Keep the receipt."},
		{DocumentID: 2, Title: "Shipping", Text: "We ship to Spain and Portugal. Delivery takes three days."},
	})
	var got strings.Builder
	if _, err := e.Stream(context.Background(), chat.Completion{Question: "How long do I have to return a lamp?", Sources: sources},
		func(d string) error { got.WriteString(d); return nil }); err != nil {
		t.Fatal(err)
	}
	ans := got.String()
	if !strings.HasPrefix(ans, chat.NoModelNotice) {
		t.Fatalf("must say no model is configured: %q", ans)
	}
	if !strings.Contains(ans, "> Lamps can be returned within 30 days of delivery. [1]") {
		t.Fatalf("must quote the best sentence with its citation: %q", ans)
	}
	if none := e.Answer("anything", nil); !strings.HasPrefix(none, chat.NotCovered) || strings.Contains(none, "[1]") {
		t.Fatalf("no sources: must say the documents do not cover it, citing nothing: %q", none)
	}
}
