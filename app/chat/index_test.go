package chat_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"tienda/app/chat"
	"tienda/models"
	"tienda/models/testdb"
)

// flakyEmbedder fails its first n calls.
type flakyEmbedder struct {
	chat.HashEmbedder
	mu    sync.Mutex
	fails int
}

func (f *flakyEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, int, error) {
	f.mu.Lock()
	if f.fails > 0 {
		f.fails--
		f.mu.Unlock()
		return nil, 0, errors.New("embedding service down")
	}
	f.mu.Unlock()
	return f.HashEmbedder.Embed(ctx, texts)
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type indexEnv struct {
	db    *gorm.DB
	store *models.Store
	ix    *chat.Indexer
	clk   *clock
	ctx   context.Context
}

func newIndexEnv(t *testing.T, dialect string, e chat.Embedder) *indexEnv {
	t.Helper()
	db := testdb.Open(t, dialect)
	clk := &clock{t: time.Now()}
	ix := chat.NewIndexer(db, e, nil, slog.New(slog.DiscardHandler))
	ix.Queue.Clock = clk.Now
	ix.RetryBase, ix.RetryMax = time.Second, time.Minute
	if err := ix.RegisterHooks(db); err != nil {
		t.Fatal(err)
	}
	return &indexEnv{db: db, store: models.NewStore(db), ix: ix, clk: clk, ctx: context.Background()}
}

func (env *indexEnv) state(t *testing.T, docID int64) models.DocumentIndex {
	t.Helper()
	var ix models.DocumentIndex
	if err := env.db.Where("document_id = ?", docID).Take(&ix).Error; err != nil {
		t.Fatalf("index state of %d: %v", docID, err)
	}
	return ix
}

func (env *indexEnv) runOnce(t *testing.T) bool {
	t.Helper()
	ran, err := env.ix.RunOnce(env.ctx)
	if err != nil {
		t.Fatalf("run once: %v", err)
	}
	return ran
}

func (env *indexEnv) chunkCheck(t *testing.T, docID int64) []models.DocumentChunk {
	t.Helper()
	var chunks []models.DocumentChunk
	if err := env.db.Where("document_id = ?", docID).Order("ordinal").Find(&chunks).Error; err != nil {
		t.Fatal(err)
	}
	st := env.state(t, docID)
	if len(chunks) != st.Chunks {
		t.Fatalf("%d chunks stored, index state says %d (duplicates?)", len(chunks), st.Chunks)
	}
	for i, c := range chunks {
		if c.Generation != st.Generation || c.Ordinal != i {
			t.Fatalf("chunk %d: generation %d ordinal %d, want %d %d", c.ID, c.Generation, c.Ordinal, st.Generation, i)
		}
	}
	return chunks
}

func forDialects(t *testing.T, fn func(t *testing.T, dialect string)) {
	for _, d := range testdb.Dialects() {
		t.Run(d, func(t *testing.T) { fn(t, d) })
	}
}

func TestIndexingRunsOnCreateAndUpdateWithoutDuplicates(t *testing.T) {
	forDialects(t, func(t *testing.T, dialect string) {
		env := newIndexEnv(t, dialect, chat.HashEmbedder{})
		doc := &models.Document{Title: "Returns", Content: "# Lamps\nLamps can be returned within 30 days.\n\n# Sofas\nSofas are final sale."}
		if err := env.store.Create(env.ctx, doc); err != nil {
			t.Fatal(err)
		}
		if doc.Index == nil || doc.Index.State != models.IndexPending {
			t.Fatalf("a new document is pending at once, got %+v", doc.Index)
		}
		if !env.runOnce(t) {
			t.Fatal("no job was queued")
		}
		st := env.state(t, doc.ID)
		if st.State != models.IndexIndexed || st.Chunks != 2 || st.EmbeddingModel != "tienda-hash-v1-384" || st.EmbeddingDim != 384 {
			t.Fatalf("state %+v", st)
		}
		env.chunkCheck(t, doc.ID)
		r := chat.NewRetriever(env.db, chat.HashEmbedder{})
		r.VectorRefresh = 0
		if sem, err := r.Semantic(env.ctx, "returned lamps", 1); err != nil || len(sem) != 1 || !strings.Contains(sem[0].Text, "30 days") {
			t.Fatalf("semantic before update: %+v %v", sem, err)
		}
		hits, err := r.Keyword(env.ctx, "returned lamps", 5)
		if err != nil || len(hits) == 0 || hits[0].DocumentID != doc.ID || !strings.Contains(hits[0].Snippet, "<mark>") {
			t.Fatalf("keyword hits %+v %v", hits, err)
		}
		// Update: new chunks replace the old ones.
		doc.Content = "# Lamps\nLamps can be exchanged within 14 days.\n\n# Rugs\nRugs ship rolled.\n\n# Sofas\nSofas ship assembled."
		if err := env.store.Update(env.ctx, doc, doc.Version); err != nil {
			t.Fatal(err)
		}
		if env.state(t, doc.ID).State != models.IndexPending {
			t.Fatal("an updated document is pending")
		}
		env.runOnce(t)
		chunks := env.chunkCheck(t, doc.ID)
		if len(chunks) != 3 || env.state(t, doc.ID).DocVersion != doc.Version {
			t.Fatalf("%d chunks after update", len(chunks))
		}
		hits, _ = r.Keyword(env.ctx, "30", 5)
		if len(hits) != 0 {
			t.Fatalf("old text still found: %+v", hits)
		}
		for _, mode := range []string{chat.ModeKeyword, chat.ModeSemantic, chat.ModeHybrid} {
			hits, retrieval, err := r.Search(env.ctx, "exchanged lamps", 3, mode)
			if err != nil || len(hits) == 0 || hits[0].DocumentID != doc.ID || !strings.Contains(hits[0].Text, "exchanged") || retrieval != mode {
				t.Fatalf("%s: %+v %q %v", mode, hits, retrieval, err)
			}
		}
		if env.runOnce(t) {
			t.Fatal("no job should remain")
		}
		// Deleting the document removes its chunks.
		if err := env.store.Delete(env.ctx, &models.Document{}, doc.ID, 0); err != nil {
			t.Fatal(err)
		}
		var n int64
		env.db.Model(&models.DocumentChunk{}).Where("document_id = ?", doc.ID).Count(&n)
		if n != 0 {
			t.Fatalf("%d chunks left after delete", n)
		}
	})
}

func TestIndexingRetriesWithBackoffThenFails(t *testing.T) {
	forDialects(t, func(t *testing.T, dialect string) {
		emb := &flakyEmbedder{fails: 1}
		env := newIndexEnv(t, dialect, emb)
		doc := &models.Document{Title: "Care", Content: "Dust lamps weekly."}
		if err := env.store.Create(env.ctx, doc); err != nil {
			t.Fatal(err)
		}
		env.runOnce(t)
		st := env.state(t, doc.ID)
		if st.State != models.IndexPending || !strings.Contains(st.Error, "embedding service down") {
			t.Fatalf("after a failed attempt: %+v", st)
		}
		if env.runOnce(t) {
			t.Fatal("the retry must wait for its backoff")
		}
		env.clk.Add(1500 * time.Millisecond)
		if !env.runOnce(t) {
			t.Fatal("the retry did not run after the backoff")
		}
		if st := env.state(t, doc.ID); st.State != models.IndexIndexed || st.Error != "" {
			t.Fatalf("after retry: %+v", st)
		}
		// A document that keeps failing ends failed, with its error.
		emb.fails = 100
		doc.Content = "Dust lamps monthly."
		if err := env.store.Update(env.ctx, doc, doc.Version); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 8; i++ {
			env.runOnce(t)
			env.clk.Add(2 * time.Minute)
		}
		st = env.state(t, doc.ID)
		if st.State != models.IndexFailed || !strings.Contains(st.Error, "embedding service down") {
			t.Fatalf("after all attempts: %+v", st)
		}
		// The failed re-index left the previous chunks searchable.
		hits, err := chat.NewRetriever(env.db, emb.HashEmbedder).Keyword(env.ctx, "weekly", 5)
		if err != nil || len(hits) != 1 {
			t.Fatalf("old chunks must stay searchable: %+v %v", hits, err)
		}
		// Hybrid search falls back to keywords while the embedder is down.
		hits, err = chat.NewRetriever(env.db, emb).Hybrid(env.ctx, "weekly", 5)
		if err != nil || len(hits) != 1 {
			t.Fatalf("hybrid without embeddings: %+v %v", hits, err)
		}
		if _, err := chat.NewRetriever(env.db, emb).Semantic(env.ctx, "weekly", 5); err == nil {
			t.Fatal("semantic search must report the embedder's failure")
		}
	})
}

func TestIndexingSurvivesRestart(t *testing.T) {
	forDialects(t, func(t *testing.T, dialect string) {
		env := newIndexEnv(t, dialect, chat.HashEmbedder{})
		doc := &models.Document{Title: "Warranty", Content: "Two years on every lamp."}
		if err := env.store.Create(env.ctx, doc); err != nil {
			t.Fatal(err)
		}
		// An instance claims the job and dies before finishing it.
		job, err := env.ix.Queue.Claim(env.ctx, "crashed-instance", time.Minute, chat.JobIndexDocument)
		if err != nil {
			t.Fatal(err)
		}
		// A new instance (a fresh indexer over the same database) starts.
		ix2 := chat.NewIndexer(env.db, chat.HashEmbedder{}, nil, slog.New(slog.DiscardHandler))
		ix2.Queue.Clock = env.clk.Now
		if ran, err := ix2.RunOnce(env.ctx); err != nil || ran {
			t.Fatalf("a job under a live lease must not run twice: ran=%v err=%v", ran, err)
		}
		env.clk.Add(2 * time.Minute)
		if ran, err := ix2.RunOnce(env.ctx); err != nil || !ran {
			t.Fatalf("the expired lease was not taken over: ran=%v err=%v", ran, err)
		}
		if st := env.state(t, doc.ID); st.State != models.IndexIndexed {
			t.Fatalf("state %+v", st)
		}
		// A live worker keeps its lease; a taken-over job's lease cannot be extended.
		if held, err := env.ix.Queue.Extend(env.ctx, job, time.Minute); err != nil || held {
			t.Fatalf("the crashed worker must not keep the job: held=%v err=%v", held, err)
		}
		// The crashed instance's late completion changes nothing.
		if err := env.ix.Queue.Complete(env.ctx, job); err != nil {
			t.Fatal(err)
		}
		var jobs []models.Job
		env.db.Find(&jobs)
		if len(jobs) != 1 || jobs[0].State != models.JobDone || jobs[0].Attempts != 2 {
			t.Fatalf("jobs %+v", jobs)
		}
	})
}

func TestIndexingStaleOnModelChange(t *testing.T) {
	forDialects(t, func(t *testing.T, dialect string) {
		env := newIndexEnv(t, dialect, chat.HashEmbedder{})
		doc := &models.Document{Title: "FAQ", Content: "We open at nine."}
		if err := env.store.Create(env.ctx, doc); err != nil {
			t.Fatal(err)
		}
		env.runOnce(t)
		// The server restarts with another embedding model.
		ix2 := chat.NewIndexer(env.db, chat.HashEmbedder{Dim: 128}, nil, slog.New(slog.DiscardHandler))
		ix2.Queue.Clock = env.clk.Now
		n, err := ix2.ReconcileNow(env.ctx)
		if err != nil || n != 1 {
			t.Fatalf("reconcile queued %d: %v", n, err)
		}
		if st := env.state(t, doc.ID); st.State != models.IndexPending || st.EmbeddingModel != "tienda-hash-v1-384" {
			t.Fatalf("stale document must be pending until re-indexed: %+v", st)
		}
		if ran, err := ix2.RunOnce(env.ctx); !ran || err != nil {
			t.Fatalf("ran=%v err=%v", ran, err)
		}
		st := env.state(t, doc.ID)
		if st.State != models.IndexIndexed || st.EmbeddingModel != "tienda-hash-v1-128" || st.EmbeddingDim != 128 {
			t.Fatalf("after re-index: %+v", st)
		}
		env.chunkCheck(t, doc.ID)
		if n, _ := ix2.ReconcileNow(env.ctx); n != 0 {
			t.Fatalf("nothing left to reconcile, queued %d", n)
		}
	})
}

func TestQueueOneQueuedAndOneRunningPerKey(t *testing.T) {
	forDialects(t, func(t *testing.T, dialect string) {
		db := testdb.Open(t, dialect)
		q := models.NewQueue(db)
		ctx := context.Background()
		for i := 0; i < 3; i++ {
			if err := q.Enqueue(ctx, "k", "doc:1", "{}"); err != nil {
				t.Fatal(err)
			}
		}
		var n int64
		db.Model(&models.Job{}).Count(&n)
		if n != 1 {
			t.Fatalf("%d jobs queued for one key", n)
		}
		a, err := q.Claim(ctx, "a", time.Minute, "k")
		if err != nil {
			t.Fatal(err)
		}
		if held, err := q.Extend(ctx, a, time.Hour); err != nil || !held {
			t.Fatalf("the holder extends its lease: held=%v err=%v", held, err)
		}
		if err := q.Enqueue(ctx, "k", "doc:1", "{}"); err != nil {
			t.Fatal(err)
		}
		if _, err := q.Claim(ctx, "b", time.Minute, "k"); !errors.Is(err, models.ErrNoJob) {
			t.Fatalf("a key with a running job must not be claimed again: %v", err)
		}
		if err := q.Complete(ctx, a); err != nil {
			t.Fatal(err)
		}
		if _, err := q.Claim(ctx, "b", time.Minute, "k"); err != nil {
			t.Fatalf("the follow-up job runs once the first is done: %v", err)
		}
	})
}

// overlapEmbedder records documents being embedded by two workers at once.
type overlapEmbedder struct {
	chat.HashEmbedder
	mu       sync.Mutex
	inFlight map[string]int
	overlaps int
	calls    int
}

func (o *overlapEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, int, error) {
	title, _, _ := strings.Cut(texts[0], "\n")
	title, _, _ = strings.Cut(title, " › ")
	o.mu.Lock()
	o.inFlight[title]++
	if o.inFlight[title] > 1 {
		o.overlaps++
	}
	o.calls++
	o.mu.Unlock()
	time.Sleep(5 * time.Millisecond)
	defer func() {
		o.mu.Lock()
		o.inFlight[title]--
		o.mu.Unlock()
	}()
	return o.HashEmbedder.Embed(ctx, texts)
}

func TestIndexingConcurrentInstancesNeverOverlap(t *testing.T) {
	forDialects(t, func(t *testing.T, dialect string) {
		db := testdb.Open(t, dialect)
		emb := &overlapEmbedder{inFlight: map[string]int{}}
		log := slog.New(slog.DiscardHandler)
		var indexers []*chat.Indexer
		for i := 0; i < 2; i++ { // two instances, two workers each
			ix := chat.NewIndexer(db, emb, nil, log)
			ix.Workers, ix.Poll = 2, 20*time.Millisecond
			indexers = append(indexers, ix)
		}
		if err := indexers[0].RegisterHooks(db); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		for _, ix := range indexers {
			go func() { ix.Run(ctx); done <- struct{}{} }()
		}
		st := models.NewStore(db)
		var docs []*models.Document
		for i := 0; i < 12; i++ {
			d := &models.Document{Title: fmt.Sprintf("Doc %d", i), Content: "First text about lamps."}
			if err := st.Create(context.Background(), d); err != nil {
				t.Fatal(err)
			}
			docs = append(docs, d)
		}
		// Change every document twice while workers run.
		for round := 0; round < 2; round++ {
			for _, d := range docs {
				d.Content = fmt.Sprintf("Text %d about sofas and lamps.", round)
				if err := st.Update(context.Background(), d, d.Version); err != nil {
					t.Fatal(err)
				}
			}
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			var n int64
			db.Raw(`SELECT COUNT(*) FROM document_index di JOIN documents d ON d.id = di.document_id
WHERE di.state = 'indexed' AND di.doc_version = d.version`).Scan(&n)
			if n == int64(len(docs)) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("only %d of %d documents indexed at their latest version", n, len(docs))
			}
			time.Sleep(50 * time.Millisecond)
		}
		cancel()
		for range indexers {
			<-done
		}
		emb.mu.Lock()
		defer emb.mu.Unlock()
		t.Logf("%d embedding calls", emb.calls)
		if emb.overlaps != 0 {
			t.Fatalf("%d times a document was indexed by two workers at once", emb.overlaps)
		}
		for _, d := range docs {
			var chunks []models.DocumentChunk
			db.Where("document_id = ?", d.ID).Find(&chunks)
			if len(chunks) != 1 || !strings.Contains(chunks[0].Content, "Text 1") {
				t.Fatalf("document %d: %d chunks %+v", d.ID, len(chunks), chunks)
			}
		}
	})
}
