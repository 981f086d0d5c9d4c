package chat_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"tienda/app/chat"
	"tienda/models"
	"tienda/models/testdb"
)

// benchDocs is the corpus size (BENCH_DOCS, default 2000; the figures in
// docs/benchmarks-chat.md use 10000, about 50,000 chunks).
func benchDocs() int {
	if n, err := strconv.Atoi(os.Getenv("BENCH_DOCS")); err == nil && n > 0 {
		return n
	}
	return 2000
}

var benchVocab = strings.Fields(`lamp sofa rug table chair shelf desk mirror cushion curtain return refund exchange
delivery shipping warranty repair assembly instructions order invoice payment card transfer discount coupon
stock store opening hours weekend holiday policy customer service email phone complaint damaged broken missing
parcel courier tracking address island mainland europe spain portugal france germany size colour fabric wood
metal glass leather cotton wool linen oak walnut pine clean dust polish care guide garden outdoor kitchen bath`)

// benchWords is a Zipf-distributed vocabulary of 20,000 words, like real
// text: a few very common words, a long tail of rare ones. The shop's
// domain words are spread over ranks 20 to 2,000.
func benchWords() []string {
	syll := []string{"ka", "lo", "mi", "ne", "ru", "ta", "si", "vo", "pe", "da", "gu", "zo", "fi", "ber", "tan", "mol"}
	words := make([]string, 0, 20000)
	domain := 0
	for i := 0; len(words) < 20000; i++ {
		if i >= 20 && i%20 == 0 && domain < len(benchVocab) {
			words = append(words, benchVocab[domain])
			domain++
			continue
		}
		w := ""
		for n := i + 1; n > 0; n /= len(syll) {
			w += syll[n%len(syll)]
		}
		words = append(words, w)
	}
	return words
}

// seedCorpus writes n documents of five paragraphs each and indexes them
// with the offline embedder, in bulk.
func seedCorpus(b *testing.B, db *gorm.DB, e chat.Embedder, n int) {
	b.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	words := benchWords()
	zipf := rand.NewZipf(rng, 1.07, 2, uint64(len(words)-1))
	para := func() string {
		var s strings.Builder
		for i := 0; i < 40+rng.IntN(40); i++ {
			if i > 0 {
				s.WriteByte(' ')
			}
			s.WriteString(words[zipf.Uint64()])
			if rng.IntN(12) == 0 {
				s.WriteByte('.')
			}
		}
		return s.String() + "."
	}
	ctx := context.Background()
	now := models.Now()
	const batch = 500
	for start := 1; start <= n; start += batch {
		end := min(start+batch-1, n)
		var docs []models.Document
		var chunks []models.DocumentChunk
		var states []models.DocumentIndex
		for id := start; id <= end; id++ {
			paras := make([]string, 5)
			for i := range paras {
				paras[i] = para()
			}
			title := fmt.Sprintf("Guide %d: %s %s", id, benchVocab[id%len(benchVocab)], benchVocab[(id*7)%len(benchVocab)])
			docs = append(docs, models.Document{ID: int64(id), Title: title, Content: strings.Join(paras, "\n\n"), Version: 1, CreatedAt: now, UpdatedAt: now})
			vecs, _, err := e.Embed(ctx, paras)
			if err != nil {
				b.Fatal(err)
			}
			for i, p := range paras {
				chunks = append(chunks, models.DocumentChunk{DocumentID: int64(id), Generation: 1, Ordinal: i, Heading: title, Content: p,
					Embedding: chat.EncodeVector(vecs[i]), EmbeddingModel: e.Model(), EmbeddingDim: len(vecs[i]), CreatedAt: now})
			}
			states = append(states, models.DocumentIndex{DocumentID: int64(id), State: models.IndexIndexed, EmbeddingModel: e.Model(),
				EmbeddingDim: len(vecs[0]), Chunks: 5, Generation: 1, DocVersion: 1, UpdatedAt: now})
		}
		err := db.Transaction(func(tx *gorm.DB) error {
			if err := tx.Session(&gorm.Session{SkipHooks: true}).CreateInBatches(&docs, 200).Error; err != nil {
				return err
			}
			if err := tx.Omit("id").CreateInBatches(&chunks, 500).Error; err != nil {
				return err
			}
			return tx.CreateInBatches(&states, 500).Error
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if models.Dialect(db) == models.Postgres {
		db.Exec("ANALYZE")
	}
}

// instant answers at once with one token.
type instant struct{}

func (instant) Name() string                             { return "instant" }
func (instant) DefaultModel() string                     { return "instant" }
func (instant) Models(context.Context) ([]string, error) { return []string{"instant"}, nil }
func (instant) Stream(_ context.Context, _ chat.Completion, on func(string) error) (chat.Usage, error) {
	return chat.Usage{PromptTokens: 1, CompletionTokens: 1}, on("ok")
}

func reportPercentiles(b *testing.B, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(ds[len(ds)/2]), "p50-ms")
	b.ReportMetric(ms(ds[len(ds)*95/100]), "p95-ms")
}

var benchQueries = []string{
	"what is the return policy for a damaged lamp",
	"delivery to the islands",
	"how do I clean an oak table",
	"warranty repair for a broken sofa",
	"refund by card transfer",
}

func BenchmarkChat(b *testing.B) {
	for _, dialect := range testdb.Dialects() {
		b.Run(dialect, func(b *testing.B) {
			db := testdb.Open(b, dialect)
			emb := chat.HashEmbedder{}
			n := benchDocs()
			seedCorpus(b, db, emb, n)
			var chunks int64
			db.Model(&models.DocumentChunk{}).Count(&chunks)
			b.Logf("%s: %d documents, %d chunks", dialect, n, chunks)
			r := chat.NewRetriever(db, emb)
			ctx := context.Background()
			if _, err := r.Semantic(ctx, "warm the vector cache", 5); err != nil {
				b.Fatal(err)
			}
			for _, mode := range []string{chat.ModeKeyword, chat.ModeSemantic, chat.ModeHybrid} {
				b.Run("search-"+mode, func(b *testing.B) {
					ds := make([]time.Duration, 0, b.N)
					for i := 0; i < b.N; i++ {
						start := time.Now()
						hits, _, err := r.Search(ctx, benchQueries[i%len(benchQueries)], 5, mode)
						if err != nil || len(hits) == 0 {
							b.Fatalf("%v %d", err, len(hits))
						}
						ds = append(ds, time.Since(start))
					}
					reportPercentiles(b, ds)
				})
			}
			svc := &chat.Service{Retriever: r, Provider: instant{}, Log: slog.New(slog.DiscardHandler)}
			b.Run("overhead-before-first-token", func(b *testing.B) {
				ds := make([]time.Duration, 0, b.N)
				for i := 0; i < b.N; i++ {
					start := time.Now()
					var first time.Duration
					_, err := svc.Chat(ctx, chat.Request{Message: benchQueries[i%len(benchQueries)]}, func(ev chat.Event) error {
						if ev.Type == chat.EventToken && first == 0 {
							first = time.Since(start)
						}
						return nil
					})
					if err != nil {
						b.Fatal(err)
					}
					ds = append(ds, first)
				}
				reportPercentiles(b, ds)
			})
			// Run with -benchtime=1000x: heap in use after b.N chats minus before.
			b.Run("memory-chats", func(b *testing.B) {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				for i := 0; i < b.N; i++ {
					if _, err := svc.Chat(ctx, chat.Request{Message: benchQueries[i%len(benchQueries)]}, func(chat.Event) error { return nil }); err != nil {
						b.Fatal(err)
					}
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				b.ReportMetric(float64(int64(after.HeapInuse)-int64(before.HeapInuse))/1024, "heap-growth-KB")
			})
		})
	}
}
