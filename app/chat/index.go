package chat

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strconv"
	"time"

	"gorm.io/gorm"

	"tienda/models"
)

// JobIndexDocument is the job kind that (re)indexes one document.
const JobIndexDocument = "index_document"

// EventDocumentIndexed is logged (and published) after a document is indexed.
const EventDocumentIndexed = "document.indexed"

// Publisher sends domain events out of the process. The default only logs.
type Publisher interface {
	Publish(ctx context.Context, subject string, payload any) error
}

// Indexer keeps the knowledge base in step with the documents: a change
// to a document enqueues a durable job (in the same transaction), and
// workers claim jobs, split the document into chunks, embed them, and swap
// the new chunks in.
type Indexer struct {
	DB       *gorm.DB
	Queue    *models.Queue
	Embedder Embedder
	Tokens   TokenCounter
	Log      *slog.Logger
	Events   Publisher // optional
	// OnIndexChange, when set, is told after a document's index state
	// changed outside a document write (indexed, or failed): the server
	// invalidates cached document responses and counts it.
	OnIndexChange func(ctx context.Context, documentID int64, indexed bool)
	Chunking      ChunkOptions
	// Workers is the number of concurrent workers (default 1).
	Workers int
	// Lease is how long a claimed job is held before another worker may
	// take it over (a crashed instance's jobs come back; default 2 min).
	Lease time.Duration
	// RetryBase and RetryMax bound the backoff between attempts (1s, 5min).
	RetryBase, RetryMax time.Duration
	// JobTimeout bounds one job: loading, embedding and storing one
	// document (default 10 min). A stalled embedder or database fails the
	// attempt, which is retried with backoff, and the worker goes on with
	// the next job.
	JobTimeout time.Duration
	// Poll is how often idle workers look for jobs (default 2s).
	Poll time.Duration
	// Reconcile is how often documents without a current index are queued
	// again (default 10 min; also at start).
	Reconcile time.Duration
	id        string
	wake      chan struct{}
}

// NewIndexer returns an indexer with defaults.
func NewIndexer(db *gorm.DB, e Embedder, tokens TokenCounter, log *slog.Logger) *Indexer {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return &Indexer{
		DB: db, Queue: models.NewQueue(db), Embedder: e, Tokens: tokens, Log: log,
		Workers: 1, Lease: 2 * time.Minute, RetryBase: time.Second, RetryMax: 5 * time.Minute, JobTimeout: 10 * time.Minute,
		Poll: 2 * time.Second, Reconcile: 10 * time.Minute,
		id: "indexer-" + hex.EncodeToString(b), wake: make(chan struct{}, 1),
	}
}

type indexPayload struct {
	DocumentID int64 `json:"document_id"`
}

// RegisterHooks makes every write of a document through GORM (API, admin,
// seed) mark it pending and enqueue its indexing job in the same
// transaction, so no change is ever left unindexed.
func (ix *Indexer) RegisterHooks(db *gorm.DB) error {
	cb := func(tx *gorm.DB) {
		if tx.Error != nil || tx.Statement.Schema == nil || tx.Statement.Schema.Table != "documents" || tx.RowsAffected == 0 {
			return
		}
		for _, d := range documentsOf(tx.Statement.ReflectValue) {
			if d.ID == 0 {
				continue
			}
			if err := ix.enqueueTx(tx.Session(&gorm.Session{NewDB: true, SkipHooks: true}), d.ID); err != nil {
				_ = tx.AddError(err)
				return
			}
			idx := &models.DocumentIndex{State: models.IndexPending, DocVersion: d.Version, UpdatedAt: models.Now()}
			if d.Index != nil {
				prev := *d.Index
				prev.State, prev.DocVersion, prev.UpdatedAt = idx.State, idx.DocVersion, idx.UpdatedAt
				idx = &prev
			}
			d.Index = idx
		}
	}
	// Every document loaded carries its index state: one query per
	// statement, whatever the number of documents (lists included).
	load := func(tx *gorm.DB) {
		if tx.Error != nil || tx.Statement.Schema == nil || tx.Statement.Schema.Table != "documents" {
			return
		}
		docs := documentsOf(tx.Statement.ReflectValue)
		if len(docs) == 0 {
			return
		}
		ids := make([]int64, 0, len(docs))
		for _, d := range docs {
			ids = append(ids, d.ID)
		}
		var states []models.DocumentIndex
		if err := tx.Session(&gorm.Session{NewDB: true, SkipHooks: true}).Where("document_id IN ?", ids).Find(&states).Error; err != nil {
			_ = tx.AddError(fmt.Errorf("load index states: %w", err))
			return
		}
		byID := make(map[int64]*models.DocumentIndex, len(states))
		for i := range states {
			byID[states[i].DocumentID] = &states[i]
		}
		for _, d := range docs {
			d.Index = byID[d.ID]
		}
	}
	if err := db.Callback().Query().After("gorm:after_query").Register("chat:document_index", load); err != nil {
		return fmt.Errorf("register query hook: %w", err)
	}
	if err := db.Callback().Create().After("gorm:create").Register("chat:index_document", cb); err != nil {
		return fmt.Errorf("register create hook: %w", err)
	}
	if err := db.Callback().Update().After("gorm:update").Register("chat:index_document", cb); err != nil {
		return fmt.Errorf("register update hook: %w", err)
	}
	return nil
}

// documentsOf finds the documents a statement wrote.
func documentsOf(v reflect.Value) []*models.Document {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Struct:
		if v.CanAddr() {
			if d, ok := v.Addr().Interface().(*models.Document); ok {
				return []*models.Document{d}
			}
		}
	case reflect.Slice, reflect.Array:
		var out []*models.Document
		for i := 0; i < v.Len(); i++ {
			out = append(out, documentsOf(v.Index(i))...)
		}
		return out
	}
	return nil
}

func (ix *Indexer) enqueueTx(tx *gorm.DB, docID int64) error {
	now := models.Now()
	if err := tx.Exec(`INSERT INTO document_index (document_id, state, updated_at) VALUES (?, 'pending', ?)
ON CONFLICT (document_id) DO UPDATE SET state = 'pending', updated_at = excluded.updated_at`, docID, now).Error; err != nil {
		return fmt.Errorf("mark document %d pending: %w", docID, err)
	}
	payload, _ := json.Marshal(indexPayload{DocumentID: docID})
	if err := models.Enqueue(tx, ix.Queue.Clock(), JobIndexDocument, jobKey(docID), string(payload), 8); err != nil {
		return err
	}
	// The job is visible once the caller's transaction commits: nudge the
	// workers now and again shortly after.
	ix.Wake()
	time.AfterFunc(100*time.Millisecond, ix.Wake)
	return nil
}

func jobKey(docID int64) string { return JobIndexDocument + ":" + strconv.FormatInt(docID, 10) }

// Enqueue queues the document for indexing.
func (ix *Indexer) Enqueue(ctx context.Context, docID int64) error {
	return ix.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error { return ix.enqueueTx(tx, docID) })
}

// Wake nudges idle workers (jobs enqueued in this process start at once).
func (ix *Indexer) Wake() {
	select {
	case ix.wake <- struct{}{}:
	default:
	}
}

// ReconcileNow queues every document that has no index yet, failed, or was
// embedded with another model than the current one (marking it stale:
// pending again). It returns how many it queued.
func (ix *Indexer) ReconcileNow(ctx context.Context) (int, error) {
	var ids []int64
	err := ix.DB.WithContext(ctx).Raw(`SELECT d.id FROM documents d LEFT JOIN document_index di ON di.document_id = d.id
WHERE di.document_id IS NULL OR di.state = 'failed' OR (di.state = 'indexed' AND di.embedding_model <> ?)
ORDER BY d.id`, ix.Embedder.Model()).Scan(&ids).Error
	if err != nil {
		return 0, fmt.Errorf("find documents to index: %w", err)
	}
	total := len(ids)
	for len(ids) > 0 {
		batch := ids[:min(500, len(ids))]
		ids = ids[len(batch):]
		err := ix.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			for _, id := range batch {
				if err := ix.enqueueTx(tx, id); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	return total, nil
}

// Run starts the workers and the periodic reconcile; it returns when ctx ends.
func (ix *Indexer) Run(ctx context.Context) {
	if _, err := ix.ReconcileNow(ctx); err != nil && ctx.Err() == nil {
		ix.Log.Error("index reconcile", "err", err)
	}
	done := make(chan struct{})
	for i := 0; i < max(1, ix.Workers); i++ {
		go func() {
			defer func() { done <- struct{}{} }()
			ix.work(ctx)
		}()
	}
	t := time.NewTicker(ix.Reconcile)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			for i := 0; i < max(1, ix.Workers); i++ {
				<-done
			}
			return
		case <-t.C:
			if _, err := ix.ReconcileNow(ctx); err != nil && ctx.Err() == nil {
				ix.Log.Error("index reconcile", "err", err)
			}
			if err := ix.Queue.Prune(ctx, 24*time.Hour); err != nil && ctx.Err() == nil {
				ix.Log.Warn("prune jobs", "err", err)
			}
		}
	}
}

func (ix *Indexer) work(ctx context.Context) {
	for ctx.Err() == nil {
		ran, err := ix.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			ix.Log.Error("index worker", "err", err)
		}
		if ran {
			continue
		}
		t := time.NewTimer(ix.Poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-ix.wake:
			t.Stop()
		case <-t.C:
		}
	}
}

// RunOnce claims and runs one job; it reports whether there was one.
func (ix *Indexer) RunOnce(ctx context.Context) (bool, error) {
	job, err := ix.Queue.Claim(ctx, ix.id, ix.Lease, JobIndexDocument)
	if errors.Is(err, models.ErrNoJob) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var p indexPayload
	if err := json.Unmarshal([]byte(job.Payload), &p); err != nil || p.DocumentID <= 0 {
		_, ferr := ix.Queue.Fail(ctx, &models.Job{ID: job.ID, Attempts: job.MaxAttempts, MaxAttempts: job.MaxAttempts, LockedBy: job.LockedBy},
			fmt.Errorf("bad payload %q", job.Payload), ix.RetryBase, ix.RetryMax)
		return true, ferr
	}
	// Keep the lease while the work runs (a slow remote embedder on a large
	// document): another instance only takes over a job whose worker died.
	hbCtx, stopHB := context.WithCancel(ctx)
	go ix.heartbeat(hbCtx, job)
	jobCtx, cancelJob := ctx, context.CancelFunc(func() {})
	if ix.JobTimeout > 0 {
		jobCtx, cancelJob = context.WithTimeout(ctx, ix.JobTimeout)
	}
	n, err := ix.IndexDocument(jobCtx, p.DocumentID)
	timedOut := jobCtx.Err() != nil && ctx.Err() == nil
	cancelJob()
	stopHB()
	if err != nil {
		if ctx.Err() != nil {
			return true, nil // shutting down: the lease expires and another worker retries
		}
		if timedOut {
			err = fmt.Errorf("indexing took longer than %s: %w", ix.JobTimeout, err)
		}
		final, ferr := ix.Queue.Fail(ctx, job, err, ix.RetryBase, ix.RetryMax)
		state := models.IndexPending
		if final {
			state = models.IndexFailed
		}
		msg := err.Error()
		if len(msg) > 500 {
			msg = msg[:500]
		}
		if uerr := ix.DB.WithContext(ctx).Exec(`UPDATE document_index SET state = ?, error = ?, updated_at = ? WHERE document_id = ?`,
			state, msg, models.Now(), p.DocumentID).Error; uerr != nil {
			ix.Log.Error("record index failure", "document_id", p.DocumentID, "err", uerr)
		}
		ix.Log.Warn("index document failed", "document_id", p.DocumentID, "attempt", job.Attempts, "final", final, "err", err)
		if ix.OnIndexChange != nil {
			ix.OnIndexChange(ctx, p.DocumentID, false)
		}
		return true, ferr
	}
	if err := ix.Queue.Complete(ctx, job); err != nil {
		return true, err
	}
	if ix.OnIndexChange != nil {
		ix.OnIndexChange(ctx, p.DocumentID, n >= 0)
	}
	if n >= 0 {
		ix.Log.Info(EventDocumentIndexed, "event", EventDocumentIndexed, "document_id", p.DocumentID, "chunks", n)
		if ix.Events != nil {
			if err := ix.Events.Publish(ctx, EventDocumentIndexed, map[string]any{"document_id": p.DocumentID, "chunks": n}); err != nil {
				ix.Log.Warn("publish event", "event", EventDocumentIndexed, "err", err)
			}
		}
	}
	return true, nil
}

func (ix *Indexer) heartbeat(ctx context.Context, job *models.Job) {
	t := time.NewTicker(ix.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			held, err := ix.Queue.Extend(ctx, job, ix.Lease)
			if err != nil && ctx.Err() == nil {
				ix.Log.Warn("extend job lease", "job_id", job.ID, "err", err)
			}
			if err == nil && !held {
				ix.Log.Warn("job lease lost", "job_id", job.ID)
				return
			}
		}
	}
}

// IndexDocument chunks and embeds the document, then, in one transaction,
// inserts the new chunks (a new generation), switches the index state to
// them and removes the old ones: readers see either the old or the new
// chunks, never none. It returns the number of chunks, or -1 when the
// document no longer exists.
func (ix *Indexer) IndexDocument(ctx context.Context, docID int64) (int, error) {
	var doc models.Document
	err := ix.DB.WithContext(ctx).Session(&gorm.Session{SkipHooks: true}).Take(&doc, docID).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return -1, nil
	}
	if err != nil {
		return 0, fmt.Errorf("load document %d: %w", docID, err)
	}
	pieces := Split(doc.Content, ix.Chunking)
	texts := make([]string, len(pieces))
	headings := make([]string, len(pieces))
	for i, p := range pieces {
		headings[i] = doc.Title
		if p.Heading != "" && p.Heading != doc.Title {
			headings[i] = doc.Title + " › " + p.Heading
		}
		texts[i] = headings[i] + "\n" + p.Text
	}
	var vecs [][]float32
	for start := 0; start < len(texts); start += 64 {
		end := min(start+64, len(texts))
		v, _, err := ix.Embedder.Embed(ctx, texts[start:end])
		if err != nil {
			return 0, fmt.Errorf("embed document %d: %w", docID, err)
		}
		if len(v) != end-start {
			return 0, fmt.Errorf("embed document %d: %w", docID, ErrBadResponse)
		}
		vecs = append(vecs, v...)
	}
	dim := 0
	if len(vecs) > 0 {
		dim = len(vecs[0])
	}
	model := ix.Embedder.Model()
	now := models.Now()
	err = ix.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var cur models.DocumentIndex
		if err := tx.Where("document_id = ?", docID).Limit(1).Find(&cur).Error; err != nil {
			return fmt.Errorf("load index state: %w", err)
		}
		var maxGen *int64
		if err := tx.Raw(`SELECT MAX(generation) FROM document_chunks WHERE document_id = ?`, docID).Scan(&maxGen).Error; err != nil {
			return fmt.Errorf("chunk generation: %w", err)
		}
		gen := cur.Generation + 1
		if maxGen != nil && *maxGen >= gen {
			gen = *maxGen + 1
		}
		rows := make([]models.DocumentChunk, len(pieces))
		for i, p := range pieces {
			tokens := 0
			if ix.Tokens != nil {
				tokens = ix.Tokens.Count(p.Text)
			}
			rows[i] = models.DocumentChunk{
				DocumentID: docID, Generation: gen, Ordinal: i, Heading: headings[i], Content: p.Text,
				TokenCount: tokens, Embedding: EncodeVector(vecs[i]), EmbeddingModel: model, EmbeddingDim: len(vecs[i]), CreatedAt: now,
			}
		}
		if len(rows) > 0 {
			if err := tx.Omit("id").CreateInBatches(&rows, 200).Error; err != nil {
				return fmt.Errorf("insert chunks: %w", err)
			}
		}
		if err := tx.Exec(`DELETE FROM document_chunks WHERE document_id = ? AND generation <> ?`, docID, gen).Error; err != nil {
			return fmt.Errorf("remove old chunks: %w", err)
		}
		return tx.Exec(`INSERT INTO document_index (document_id, state, error, embedding_model, embedding_dim, chunks, generation, doc_version, indexed_at, updated_at)
VALUES (?, 'indexed', '', ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (document_id) DO UPDATE SET
  state = CASE WHEN (SELECT version FROM documents WHERE id = excluded.document_id) = excluded.doc_version THEN 'indexed' ELSE 'pending' END,
  error = '', embedding_model = excluded.embedding_model,
  embedding_dim = excluded.embedding_dim, chunks = excluded.chunks, generation = excluded.generation,
  doc_version = excluded.doc_version, indexed_at = excluded.indexed_at, updated_at = excluded.updated_at`,
			docID, model, dim, len(rows), gen, doc.Version, now, now).Error
	})
	if err != nil {
		return 0, fmt.Errorf("store chunks of document %d: %w", docID, err)
	}
	return len(pieces), nil
}
