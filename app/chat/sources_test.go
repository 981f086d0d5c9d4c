package chat_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"tienda/app/chat"
	"tienda/app/chat/openaitest"
	"tienda/models"
)

func TestGroupByDocument(t *testing.T) {
	src := func(doc, chunk int64, score float64) chat.Source {
		return chat.Source{DocumentID: doc, ChunkID: chunk, Title: fmt.Sprintf("doc %d", doc), Score: score}
	}
	type group struct {
		doc   int64
		best  int64
		folds []int64
	}
	cases := []struct {
		name   string
		ranked []chat.Source
		want   []group
	}{
		{"nothing", nil, nil},
		{"one chunk", []chat.Source{src(1, 10, 0.9)}, []group{{1, 10, nil}}},
		{"interleaved documents fold under their best chunk, in rank order",
			[]chat.Source{src(1, 10, 0.9), src(2, 20, 0.8), src(1, 11, 0.7), src(3, 30, 0.6), src(2, 21, 0.5), src(1, 12, 0.4)},
			[]group{{1, 10, []int64{11, 12}}, {2, 20, []int64{21}}, {3, 30, nil}}},
		{"five chunks of one document are one source",
			[]chat.Source{src(7, 1, 0.5), src(7, 2, 0.4), src(7, 3, 0.3), src(7, 4, 0.2), src(7, 5, 0.1)},
			[]group{{7, 1, []int64{2, 3, 4, 5}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := chat.GroupByDocument(tc.ranked)
			if got == nil {
				t.Fatal("no sources must be an empty list (JSON []), not nil")
			}
			if len(got) != len(tc.want) {
				t.Fatalf("%d sources, want %d: %+v", len(got), len(tc.want), got)
			}
			for i, g := range tc.want {
				c := got[i]
				var folds []int64
				for _, m := range c.More {
					folds = append(folds, m.ChunkID)
					if m.DocumentID != g.doc {
						t.Fatalf("source %d folds chunk %d of document %d", i, m.ChunkID, m.DocumentID)
					}
				}
				if c.DocumentID != g.doc || c.ChunkID != g.best || fmt.Sprint(folds) != fmt.Sprint(g.folds) {
					t.Fatalf("source %d: document %d best %d more %v, want %+v", i, c.DocumentID, c.ChunkID, folds, g)
				}
				if n := len(c.Passages()); n != 1+len(g.folds) || c.Passages()[0].ChunkID != g.best {
					t.Fatalf("source %d passages: %+v", i, c.Passages())
				}
			}
		})
	}
}

// lampsGuide has three sections about lamps: three chunks of one document.
const lampsGuide = "# Lamp returns\nLamps can be returned within 30 days of delivery, in their original box.\n\n" +
	"# Lamp bulbs\nLamp bulbs are not returned once fitted; a broken lamp bulb is replaced.\n\n" +
	"# Lamp shades\nLamp shades are returned like lamps, within 30 days."

// knowledgeEnv indexes a lamps guide, a sofa policy and a shipping page.
func knowledgeEnv(t *testing.T, dialect string) (*indexEnv, map[string]int64) {
	t.Helper()
	env := newIndexEnv(t, dialect, chat.HashEmbedder{})
	ids := map[string]int64{}
	for _, d := range []models.Document{
		{Title: "Lamps guide", Content: lampsGuide},
		{Title: "Sofas", Content: "Sofas can be returned within 14 days when unused. Sofa covers are final sale."},
		{Title: "Shipping", Content: "Orders ship within two business days. Delivery takes three to five days across Spain and Portugal."},
	} {
		if err := env.store.Create(env.ctx, &d); err != nil {
			t.Fatal(err)
		}
		ids[d.Title] = d.ID
	}
	for env.runOnce(t) {
	}
	if n := len(env.chunkCheck(t, ids["Lamps guide"])); n != 3 {
		t.Fatalf("the lamps guide is %d chunks, want 3", n)
	}
	return env, ids
}

func TestServiceCitesEachDocumentOnceNumberedAsShown(t *testing.T) {
	forDialects(t, func(t *testing.T, dialect string) {
		env, ids := knowledgeEnv(t, dialect)
		fake := openaitest.New()
		defer fake.Close()
		svc := &chat.Service{Retriever: chat.NewRetriever(env.db, chat.HashEmbedder{}), Provider: newProvider(t, fake)}
		var sent []chat.Cited
		res, err := svc.Chat(env.ctx, chat.Request{Message: "Can lamps and sofas be returned?", TopK: 6}, func(ev chat.Event) error {
			if ev.Type == chat.EventSources {
				sent = ev.Sources
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[int64]bool{}
		var lamps *chat.Cited
		for i, c := range res.Sources {
			if seen[c.DocumentID] {
				t.Fatalf("document %d cited twice: %+v", c.DocumentID, res.Sources)
			}
			seen[c.DocumentID] = true
			if c.DocumentID == ids["Lamps guide"] {
				lamps = &res.Sources[i]
			}
		}
		if lamps == nil || len(lamps.More) != 2 || !seen[ids["Sofas"]] {
			t.Fatalf("want the lamps guide once with its two other chunks folded, and the sofas: %+v", res.Sources)
		}
		if lamps.Score < lamps.More[0].Score || lamps.More[0].Score < lamps.More[1].Score {
			t.Fatalf("best chunk first, the others best first: %v, %v %v", lamps.Score, lamps.More[0].Score, lamps.More[1].Score)
		}
		if lamps.Chunk == lamps.More[0].Chunk || lamps.More[0].Chunk == lamps.More[1].Chunk {
			t.Fatalf("the folded chunks are other positions of the document: %d %d %d", lamps.Chunk, lamps.More[0].Chunk, lamps.More[1].Chunk)
		}
		if len(sent) != len(res.Sources) {
			t.Fatalf("the sources event holds %d sources, the result %d", len(sent), len(res.Sources))
		}
		// The prompt numbers documents as the sources are listed, each
		// document's passages under its one number.
		system := fmt.Sprint(fake.Requests()[0].Body["messages"].([]any)[0])
		for i, c := range res.Sources {
			head := fmt.Sprintf("[%d] %s\n", i+1, c.Title)
			if strings.Count(system, head) != 1 {
				t.Fatalf("prompt must hold %q once: %s", head, system)
			}
			block := system[strings.Index(system, head):]
			if next := strings.Index(block[1:], fmt.Sprintf("\n[%d] ", i+2)); next >= 0 {
				block = block[:next+1]
			}
			for _, p := range c.Passages() {
				if !strings.Contains(block, p.Text) {
					t.Fatalf("passage %d of source [%d] is not under its number: %s", p.ChunkID, i+1, block)
				}
			}
		}
		if strings.Contains(system, fmt.Sprintf("[%d] ", len(res.Sources)+1)) {
			t.Fatalf("the prompt numbers more passages than there are sources: %s", system)
		}
	})
}

// TestRelevanceBarPerMode: keyword hits are relevant when they hold every
// query word but one, semantic hits from MinSimilarity, hybrid hits when
// either half is.
func TestRelevanceBarPerMode(t *testing.T) {
	forDialects(t, func(t *testing.T, dialect string) {
		env, ids := knowledgeEnv(t, dialect)
		const offTopic = "What is the weather forecast for Mars tomorrow?"
		cases := []struct {
			mode, query string
			minSim      float64
			// relevant: the documents of the relevant hits; anyHit: hits
			// are expected (relevant or not).
			relevant []string
			anyHit   bool
		}{
			{chat.ModeKeyword, "How long do I have to return a lamp?", chat.DefaultMinSimilarity, []string{"Lamps guide"}, true},
			{chat.ModeKeyword, "lamps", chat.DefaultMinSimilarity, []string{"Lamps guide"}, true},
			// one stray word of four in common: found, not relevant
			{chat.ModeKeyword, "Tell me a joke about lamps and cats", chat.DefaultMinSimilarity, nil, true},
			{chat.ModeKeyword, offTopic, chat.DefaultMinSimilarity, nil, false},
			{chat.ModeSemantic, "return a lamp", chat.DefaultMinSimilarity, []string{"Lamps guide"}, true},
			{chat.ModeSemantic, offTopic, chat.DefaultMinSimilarity, nil, true},
			{chat.ModeSemantic, "return a lamp", 0.99, nil, true},
			{chat.ModeHybrid, "How long do I have to return a lamp?", chat.DefaultMinSimilarity, []string{"Lamps guide"}, true},
			{chat.ModeHybrid, "How long does delivery take?", chat.DefaultMinSimilarity, []string{"Shipping"}, true},
			{chat.ModeHybrid, offTopic, chat.DefaultMinSimilarity, nil, true},
			// keyword relevance alone carries hybrid when the bar is out of reach
			// (two of three words: the sofas' "returned" alone is not enough)
			{chat.ModeHybrid, "return policy for lamps", 0.99, []string{"Lamps guide"}, true},
		}
		for _, tc := range cases {
			r := chat.NewRetriever(env.db, chat.HashEmbedder{})
			r.MinSimilarity = tc.minSim
			hits, _, err := r.Search(env.ctx, tc.query, 5, tc.mode)
			if err != nil {
				t.Fatal(err)
			}
			if tc.anyHit != (len(hits) > 0) {
				t.Fatalf("%s %q: %d hits", tc.mode, tc.query, len(hits))
			}
			got := map[int64]bool{}
			for _, h := range hits {
				if h.Relevant {
					got[h.DocumentID] = true
				}
			}
			want := map[int64]bool{}
			for _, title := range tc.relevant {
				want[ids[title]] = true
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("%s %q (min %.2f): relevant documents %v, want %v; hits %+v", tc.mode, tc.query, tc.minSim, got, want, hits)
			}
		}
	})
}

func TestServiceWithNoRelevantPassageCitesNothing(t *testing.T) {
	forDialects(t, func(t *testing.T, dialect string) {
		env, _ := knowledgeEnv(t, dialect)
		retriever := chat.NewRetriever(env.db, chat.HashEmbedder{})
		const question = "What is the weather forecast for Mars tomorrow?"
		if hits, _, _ := retriever.Search(env.ctx, question, 5, chat.ModeHybrid); len(hits) == 0 {
			t.Fatal("hybrid search must still rank something, or the test proves nothing")
		}

		// With a model: it is called, told that nothing is relevant, and
		// given no passage; the stream keeps its shape.
		fake := openaitest.New()
		defer fake.Close()
		fake.Default = openaitest.Reply{Tokens: []string{"The documents ", "do not cover that."}}
		svc := &chat.Service{Retriever: retriever, Provider: newProvider(t, fake)}
		var kinds []string
		var sent []chat.Cited
		res, err := svc.Chat(env.ctx, chat.Request{Message: question}, func(ev chat.Event) error {
			kinds = append(kinds, ev.Type)
			if ev.Type == chat.EventSources {
				sent = ev.Sources
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(kinds, ",") != "sources,token,token,done" || sent == nil || len(sent) != 0 || len(res.Sources) != 0 {
			t.Fatalf("events %v, sources %+v / %+v", kinds, sent, res.Sources)
		}
		system := fmt.Sprint(fake.Requests()[0].Body["messages"].([]any)[0])
		if !strings.Contains(system, chat.NoPassagePrompt) || strings.Contains(system, "Passages:") || strings.Contains(system, "\n[1] ") {
			t.Fatalf("system prompt: %s", system)
		}

		// Without a model: the extractive answer says so and quotes nothing.
		off := &chat.Service{Retriever: retriever, Provider: &chat.Extractive{}}
		res, err = off.Chat(context.Background(), chat.Request{Message: question}, func(chat.Event) error { return nil })
		if err != nil || !strings.HasPrefix(res.Answer, chat.NotCovered) || strings.Contains(res.Answer, "[1]") || len(res.Sources) != 0 {
			t.Fatalf("extractive: %q %+v %v", res.Answer, res.Sources, err)
		}
	})
}
