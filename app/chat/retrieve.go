package chat

import (
	"context"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"

	"tienda/models"
)

// Search modes.
const (
	ModeKeyword  = "keyword"
	ModeSemantic = "semantic"
	ModeHybrid   = "hybrid"
)

// Source is a retrieved chunk: its document, a highlighted snippet (HTML
// escaped, matches wrapped in <mark>), its score, its position in the
// document, and its full text (given to the model, never sent to clients).
type Source struct {
	DocumentID int64   `json:"document_id"`
	Title      string  `json:"title"`
	Snippet    string  `json:"snippet"`
	ChunkID    int64   `json:"chunk_id"`
	Chunk      int     `json:"chunk" description:"The chunk's position in its document, from 0."`
	Score      float64 `json:"score"`
	Text       string  `json:"-"`
	// Relevant says the chunk clears the relevance bar of the retrieval
	// that found it (see Retriever.MinSimilarity): the chat cites only
	// relevant chunks. Search ranks all of them.
	Relevant bool `json:"-"`
}

// DefaultMinSimilarity is the cosine similarity a semantic hit needs to be
// relevant. Unrelated texts score about 0 to 0.15 with the built-in hashing
// embedder (shared character trigrams) and about 0 to 0.2 with OpenAI's
// text-embedding-3 models; passages on the question's subject score above.
const DefaultMinSimilarity = 0.25

// Retriever finds chunks of the current index generation of documents.
type Retriever struct {
	DB       *gorm.DB
	Embedder Embedder
	// VectorRefresh is how often the in-memory vectors are compared with
	// the index (default 1s; 0 checks on every search).
	VectorRefresh time.Duration
	// QueryEmbedTimeout bounds the embedding of a query in semantic and
	// hybrid search (default 5s): past it, or when the embedder fails, the
	// search answers with keywords alone and says so.
	QueryEmbedTimeout time.Duration
	// Log, when set, is told when a search falls back to keywords.
	Log *slog.Logger
	// MinSimilarity is the cosine similarity with the query from which a
	// semantic hit is Relevant (default DefaultMinSimilarity). Keyword
	// hits are relevant by the words they hold (see Keyword); a hybrid hit
	// is relevant when either half finds it relevant.
	MinSimilarity float64
	vectors       *vectorCache
}

// NewRetriever returns a retriever over db.
func NewRetriever(db *gorm.DB, e Embedder) *Retriever {
	return &Retriever{DB: db, Embedder: e, VectorRefresh: time.Second, QueryEmbedTimeout: 5 * time.Second,
		MinSimilarity: DefaultMinSimilarity, vectors: &vectorCache{docs: map[int64]docVectors{}}}
}

// Search returns up to k chunks for query in mode, and the retrieval it
// used: mode itself, or ModeKeyword when the query could not be embedded
// (the embedder failed or did not answer within QueryEmbedTimeout), so
// search degrades instead of failing or hanging. Errors are the database's,
// or the caller's context ending.
func (r *Retriever) Search(ctx context.Context, query string, k int, mode string) ([]Source, string, error) {
	switch mode {
	case ModeKeyword:
		found, err := r.Keyword(ctx, query, k)
		return found, ModeKeyword, err
	case ModeSemantic:
		found, err := r.Semantic(ctx, query, k)
		var qe *queryEmbedError
		if errors.As(err, &qe) && ctx.Err() == nil {
			r.logFallback(ctx, mode, qe.err)
			found, err = r.Keyword(ctx, query, k)
			return found, ModeKeyword, err
		}
		return found, ModeSemantic, err
	default:
		return r.hybrid(ctx, query, k)
	}
}

func (r *Retriever) logFallback(ctx context.Context, mode string, err error) {
	if r.Log != nil {
		r.Log.WarnContext(ctx, "query embedding failed: keyword search only", "mode", mode, "err", err)
	}
}

// queryEmbedError is a failure to embed the query (as opposed to a failure
// of the database).
type queryEmbedError struct{ err error }

func (e *queryEmbedError) Error() string { return "embed query: " + e.err.Error() }
func (e *queryEmbedError) Unwrap() error { return e.err }

// queryTerms are the query's words without stop words (all words when
// every one is a stop word).
func queryTerms(query string) []string {
	words := Words(query)
	var out []string
	seen := map[string]bool{}
	for _, w := range words {
		if !stopWords[w] && !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	if len(out) == 0 {
		for _, w := range words {
			if !seen[w] {
				seen[w] = true
				out = append(out, w)
			}
		}
	}
	if len(out) > 32 {
		out = out[:32]
	}
	return out
}

type chunkRow struct {
	ID         int64
	DocumentID int64
	Ordinal    int
	Title      string
	Heading    string
	Content    string
	Score      float64
}

// Keyword ranks chunks by full-text relevance: PostgreSQL ts_rank over
// the stored tsvector (GIN index), SQLite FTS5 bm25. Chunks holding every
// query word come first; while they are fewer than k, chunks holding all
// words but one follow, then chunks holding any word. The stricter queries
// are selective and cheap; the any-word query, which ranks many more rows,
// runs only when needed. Words are reduced to letters and digits before
// they reach the query syntax, and always bound.
//
// A keyword hit is Relevant when it holds every query word but at most
// one: one stray shared word ("tell", "world") is not a passage about the
// question. Questions of seven words or more (where every-word-but-one is
// not searched) need every word; semantic search finds passages for them.
// bm25 and ts_rank are not used for the bar: they are relative to the
// corpus and differ between the two databases.
func (r *Retriever) Keyword(ctx context.Context, query string, k int) ([]Source, error) {
	return r.keyword(ctx, query, k, k)
}

// keyword returns up to k chunks, relaxing the query while fewer than
// fill chunks were found.
func (r *Retriever) keyword(ctx context.Context, query string, k, fill int) ([]Source, error) {
	terms := queryTerms(query)
	if len(terms) == 0 {
		return []Source{}, nil
	}
	var rows []chunkRow
	var relevant []bool
	seen := map[int64]bool{}
	strict := relevantRelaxations(len(terms))
	for level, q := range relaxations(terms, models.Dialect(r.DB) == models.Postgres) {
		more, err := r.keywordRows(ctx, q, k)
		if err != nil {
			return nil, err
		}
		for _, row := range more {
			if len(rows) < k && !seen[row.ID] {
				seen[row.ID] = true
				rows = append(rows, row)
				relevant = append(relevant, level < strict)
			}
		}
		if len(rows) >= fill {
			break
		}
	}
	out := make([]Source, len(rows))
	for i, row := range rows {
		out[i] = toSource(row, terms)
		out[i].Relevant = relevant[i]
	}
	return out, nil
}

// relevantRelaxations is how many of the relaxations of n terms find
// relevant chunks (every word but at most one): every word (n = 1, or 7 and
// more), or every word and every word but one (n = 2, where that is "any
// word", and 3 to 6).
func relevantRelaxations(n int) int {
	if n == 1 || n > 6 {
		return 1
	}
	return 2
}

// relaxations are the full-text queries tried in turn: every word, every
// word but one (3 to 6 words), any word. pg selects PostgreSQL's tsquery
// syntax, otherwise FTS5's.
func relaxations(terms []string, pg bool) []string {
	and, or := " AND ", " OR "
	quote := func(t string) string { return `"` + t + `"` }
	if pg {
		and, or = " & ", " | "
		quote = func(t string) string { return t }
	}
	all := func(ts []string) string {
		q := make([]string, len(ts))
		for i, t := range ts {
			q[i] = quote(t)
		}
		return "(" + strings.Join(q, and) + ")"
	}
	out := []string{all(terms)}
	if len(terms) == 1 {
		return out
	}
	if len(terms) >= 3 && len(terms) <= 6 {
		var alts []string
		for skip := range terms {
			rest := make([]string, 0, len(terms)-1)
			for i, t := range terms {
				if i != skip {
					rest = append(rest, t)
				}
			}
			alts = append(alts, all(rest))
		}
		out = append(out, strings.Join(alts, or))
	}
	anyTerm := make([]string, len(terms))
	for i, t := range terms {
		anyTerm[i] = quote(t)
	}
	return append(out, strings.Join(anyTerm, or))
}

func (r *Retriever) keywordRows(ctx context.Context, query string, k int) ([]chunkRow, error) {
	var rows []chunkRow
	var err error
	if models.Dialect(r.DB) == models.Postgres {
		// Rank narrow rows first, then fetch the text of the top k only.
		err = r.DB.WithContext(ctx).Raw(`WITH q AS (SELECT to_tsquery('english', ?) AS q),
top AS (
  SELECT c.id, ts_rank(c.search_vector, q.q) AS score
  FROM q, document_chunks c
  JOIN document_index di ON di.document_id = c.document_id AND di.generation = c.generation
  WHERE c.search_vector @@ q.q
  ORDER BY score DESC, c.id
  LIMIT ?
)
SELECT c.id, c.document_id, c.ordinal, d.title, c.heading, c.content, top.score
FROM top JOIN document_chunks c ON c.id = top.id JOIN documents d ON d.id = c.document_id
ORDER BY top.score DESC, c.id`, query, k).Scan(&rows).Error
	} else {
		err = r.DB.WithContext(ctx).Raw(`WITH top AS (
  SELECT rowid AS id, bm25(document_chunks_fts) AS rank FROM document_chunks_fts
  WHERE document_chunks_fts MATCH ? ORDER BY rank LIMIT ?
)
SELECT c.id, c.document_id, c.ordinal, d.title, c.heading, c.content, -top.rank AS score
FROM top
JOIN document_chunks c ON c.id = top.id
JOIN document_index di ON di.document_id = c.document_id AND di.generation = c.generation
JOIN documents d ON d.id = c.document_id
ORDER BY top.rank, c.id`, query, 2*k+10).Scan(&rows).Error
		if len(rows) > k {
			rows = rows[:k]
		}
	}
	if err != nil {
		return nil, fmt.Errorf("keyword search: %w", err)
	}
	return rows, nil
}

func toSource(row chunkRow, terms []string) Source {
	return Source{
		DocumentID: row.DocumentID, Title: row.Title, ChunkID: row.ID, Chunk: row.Ordinal, Score: row.Score,
		Snippet: Snippet(row.Content, terms, 240), Text: row.Content,
	}
}

// Semantic ranks chunks by cosine similarity between the query's embedding
// and the chunks' (computed in Go over an in-memory copy of the vectors,
// kept in step with the database by index generation, checked at most
// once a second: a document indexed by another instance is found by
// semantic search within a second). A hit is Relevant from a similarity of
// MinSimilarity.
func (r *Retriever) Semantic(ctx context.Context, query string, k int) ([]Source, error) {
	hits, err := r.semanticIDs(ctx, query, k)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, len(hits))
	for i, h := range hits {
		ids[i] = h.id
	}
	rows, err := r.load(ctx, ids)
	if err != nil {
		return nil, err
	}
	terms := queryTerms(query)
	out := make([]Source, 0, len(hits))
	for _, h := range hits {
		if row, ok := rows[h.id]; ok {
			row.Score = float64(h.score)
			s := toSource(row, terms)
			s.Relevant = row.Score >= r.MinSimilarity
			out = append(out, s)
		}
	}
	return out, nil
}

type scored struct {
	id    int64
	score float32
}

func (r *Retriever) semanticIDs(ctx context.Context, query string, k int) ([]scored, error) {
	if strings.TrimSpace(query) == "" {
		return nil, nil
	}
	q, err := r.embedQuery(ctx, query)
	if err != nil {
		return nil, err
	}
	return r.vectors.search(ctx, r.DB, r.Embedder.Model(), q, k, r.VectorRefresh)
}

// embedQuery embeds the query within QueryEmbedTimeout. Its errors are
// *queryEmbedError.
func (r *Retriever) embedQuery(ctx context.Context, query string) ([]float32, error) {
	if r.QueryEmbedTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.QueryEmbedTimeout)
		defer cancel()
	}
	vecs, _, err := r.Embedder.Embed(ctx, []string{query})
	if err == nil && len(vecs) != 1 {
		err = ErrBadResponse
	}
	if err == nil && ctx.Err() != nil {
		// an embedder that ignores its context must not be trusted late
		err = ctx.Err()
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, ErrTimeout) {
			err = fmt.Errorf("%w: no query embedding within %s", ErrTimeout, r.QueryEmbedTimeout)
		}
		return nil, &queryEmbedError{err: err}
	}
	return vecs[0], nil
}

// Hybrid fuses the keyword and semantic rankings with reciprocal rank
// fusion (score = Σ 1/(60+rank)). When the query cannot be embedded (a
// remote embedder is down, or too slow) it falls back to the keyword
// ranking. The fused score depends on ranks alone, so it says nothing of
// relevance: a hit is Relevant when its keyword or its semantic half is.
func (r *Retriever) Hybrid(ctx context.Context, query string, k int) ([]Source, error) {
	found, _, err := r.hybrid(ctx, query, k)
	return found, err
}

// hybrid is Hybrid, also returning the retrieval used (ModeHybrid, or
// ModeKeyword after a fallback).
func (r *Retriever) hybrid(ctx context.Context, query string, k int) ([]Source, string, error) {
	n := max(4*k, 20)
	kw, err := r.keyword(ctx, query, n, k)
	if err != nil {
		return nil, "", err
	}
	retrieval := ModeHybrid
	sem, err := r.semanticIDs(ctx, query, n)
	var qe *queryEmbedError
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return nil, "", ctx.Err()
	case errors.As(err, &qe):
		// The embedding server is down or hung: keyword results still answer.
		r.logFallback(ctx, ModeHybrid, qe.err)
		sem, retrieval = nil, ModeKeyword
	default:
		return nil, "", err
	}
	const rrfK = 60
	fused := map[int64]float64{}
	relevant := map[int64]bool{}
	for i, s := range kw {
		fused[s.ChunkID] += 1 / float64(rrfK+i+1)
		relevant[s.ChunkID] = s.Relevant
	}
	for i, s := range sem {
		fused[s.id] += 1 / float64(rrfK+i+1)
		if float64(s.score) >= r.MinSimilarity {
			relevant[s.id] = true
		}
	}
	ids := make([]int64, 0, len(fused))
	for id := range fused {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(a, b int) bool {
		if fused[ids[a]] != fused[ids[b]] {
			return fused[ids[a]] > fused[ids[b]]
		}
		return ids[a] < ids[b]
	})
	if len(ids) > k {
		ids = ids[:k]
	}
	known := map[int64]Source{}
	for _, s := range kw {
		known[s.ChunkID] = s
	}
	var missing []int64
	for _, id := range ids {
		if _, ok := known[id]; !ok {
			missing = append(missing, id)
		}
	}
	rows, err := r.load(ctx, missing)
	if err != nil {
		return nil, "", err
	}
	terms := queryTerms(query)
	out := make([]Source, 0, len(ids))
	for _, id := range ids {
		s, ok := known[id]
		if !ok {
			row, found := rows[id]
			if !found {
				continue
			}
			s = toSource(row, terms)
		}
		s.Score = fused[id]
		s.Relevant = relevant[id]
		out = append(out, s)
	}
	return out, retrieval, nil
}

func (r *Retriever) load(ctx context.Context, ids []int64) (map[int64]chunkRow, error) {
	out := map[int64]chunkRow{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []chunkRow
	err := r.DB.WithContext(ctx).Raw(`SELECT c.id, c.document_id, c.ordinal, d.title, c.heading, c.content, 0 AS score
FROM document_chunks c JOIN documents d ON d.id = c.document_id WHERE c.id IN ?`, ids).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("load chunks: %w", err)
	}
	for _, row := range rows {
		out[row.ID] = row
	}
	return out, nil
}

// Snippet returns the passage of text (about size bytes) with the most
// query terms, HTML-escaped, with matching words wrapped in <mark>.
func Snippet(text string, terms []string, size int) string {
	want := map[string]bool{}
	for _, t := range terms {
		want[stem(t)] = true
	}
	// word spans of the text
	type span struct{ start, end int }
	var spans []span
	inWord := false
	start := 0
	for i, r := range text {
		letter := isWordRune(r)
		if letter && !inWord {
			start, inWord = i, true
		} else if !letter && inWord {
			spans = append(spans, span{start, i})
			inWord = false
		}
	}
	if inWord {
		spans = append(spans, span{start, len(text)})
	}
	match := make([]bool, len(spans))
	for i, sp := range spans {
		ws := Words(text[sp.start:sp.end])
		match[i] = len(ws) == 1 && want[stem(ws[0])]
	}
	// best window start: the span that begins the densest window
	bestFrom, bestHits := 0, -1
	for i := range spans {
		hits := 0
		for j := i; j < len(spans) && spans[j].end-spans[i].start <= size; j++ {
			if match[j] {
				hits++
			}
		}
		if hits > bestHits {
			bestFrom, bestHits = i, hits
		}
		if len(text)-spans[i].start < size {
			break
		}
	}
	from := 0
	if bestFrom > 2 {
		// back up a little for context
		from = spans[bestFrom-2].start
	}
	to := min(len(text), from+size)
	for to < len(text) && to > from && !isBoundary(text, to) {
		to--
	}
	var b strings.Builder
	if from > 0 {
		b.WriteString("… ")
	}
	pos := from
	for i, sp := range spans {
		if sp.start < from || sp.end > to {
			continue
		}
		if !match[i] {
			continue
		}
		b.WriteString(html.EscapeString(text[pos:sp.start]))
		b.WriteString("<mark>")
		b.WriteString(html.EscapeString(text[sp.start:sp.end]))
		b.WriteString("</mark>")
		pos = sp.end
	}
	b.WriteString(html.EscapeString(text[pos:to]))
	if to < len(text) {
		b.WriteString(" …")
	}
	return b.String()
}

func isWordRune(r rune) bool {
	return r == '_' || ('0' <= r && r <= '9') || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || r > 127 && !isSpaceRune(r)
}

func isSpaceRune(r rune) bool {
	return strings.ContainsRune("\u00a0\u2000\u2001\u2002\u2003\u2009\u200b\u2026\u2014\u2013\u201c\u201d\u2018\u2019\u00ab\u00bb\u00bf\u00a1", r)
}

func isBoundary(s string, i int) bool {
	return i >= len(s) || s[i] == ' ' || s[i] == '\n'
}

// vectorCache holds the current chunks' vectors of one embedding model,
// per document, refreshed from document_index generations on each search.
type vectorCache struct {
	mu    sync.Mutex
	model string
	docs  map[int64]docVectors
	// checked is when the generations were last compared with the database.
	checked time.Time
	// flat is every vector of docs end to end (dim floats each), with the
	// chunk ids in flatIDs: one contiguous scan per query.
	flat    []float32
	flatIDs []int64
	dim     int
	dirty   bool
}

type docVectors struct {
	gen  int64
	ids  []int64
	vecs [][]float32
}

func (c *vectorCache) refresh(ctx context.Context, db *gorm.DB, model string) error {
	var gens []struct {
		DocumentID int64
		Generation int64
	}
	if err := db.WithContext(ctx).Raw(`SELECT document_id, generation FROM document_index WHERE embedding_model = ? AND chunks > 0`, model).
		Scan(&gens).Error; err != nil {
		return fmt.Errorf("vector index state: %w", err)
	}
	if c.model != model {
		c.model, c.docs, c.dirty = model, map[int64]docVectors{}, true
	}
	current := make(map[int64]int64, len(gens))
	var stale []int64
	for _, g := range gens {
		current[g.DocumentID] = g.Generation
		if d, ok := c.docs[g.DocumentID]; !ok || d.gen != g.Generation {
			stale = append(stale, g.DocumentID)
		}
	}
	for id := range c.docs {
		if _, ok := current[id]; !ok {
			delete(c.docs, id)
			c.dirty = true
		}
	}
	if len(stale) > 0 {
		c.dirty = true
	}
	for len(stale) > 0 {
		batch := stale[:min(500, len(stale))]
		stale = stale[len(batch):]
		var rows []struct {
			ID         int64
			DocumentID int64
			Generation int64
			Embedding  []byte
		}
		if err := db.WithContext(ctx).Raw(`SELECT c.id, c.document_id, c.generation, c.embedding FROM document_chunks c
JOIN document_index di ON di.document_id = c.document_id AND di.generation = c.generation
WHERE c.document_id IN ? AND c.embedding_model = ? ORDER BY c.document_id, c.ordinal`, batch, model).Scan(&rows).Error; err != nil {
			return fmt.Errorf("load vectors: %w", err)
		}
		fresh := map[int64]docVectors{}
		for _, row := range rows {
			v, err := DecodeVector(row.Embedding)
			if err != nil {
				continue
			}
			d := fresh[row.DocumentID]
			d.gen = row.Generation
			d.ids = append(d.ids, row.ID)
			d.vecs = append(d.vecs, v)
			fresh[row.DocumentID] = d
		}
		for _, id := range batch {
			if d, ok := fresh[id]; ok {
				c.docs[id] = d
			} else {
				delete(c.docs, id)
			}
		}
	}
	return nil
}

func (c *vectorCache) search(ctx context.Context, db *gorm.DB, model string, q []float32, k int, every time.Duration) ([]scored, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.model != model || time.Since(c.checked) >= every {
		if err := c.refresh(ctx, db, model); err != nil {
			return nil, err
		}
		c.checked = time.Now()
	}
	if k <= 0 {
		return nil, nil
	}
	if c.dirty || c.dim != len(q) {
		c.rebuild(len(q))
	}
	if c.dim != len(q) || len(c.flatIDs) == 0 {
		return nil, nil
	}
	// Scan in parallel slices, then merge the partial top lists.
	parts := min(runtime.GOMAXPROCS(0), max(1, len(c.flatIDs)/4096))
	tops := make([][]scored, parts)
	var wg sync.WaitGroup
	per := (len(c.flatIDs) + parts - 1) / parts
	for p := 0; p < parts; p++ {
		lo, hi := p*per, min((p+1)*per, len(c.flatIDs))
		wg.Add(1)
		go func() {
			defer wg.Done()
			tops[p] = topK(c.flat, c.flatIDs, c.dim, q, lo, hi, k)
		}()
	}
	wg.Wait()
	var all []scored
	for _, t := range tops {
		all = append(all, t...)
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].score != all[j].score {
			return all[i].score > all[j].score
		}
		return all[i].id < all[j].id
	})
	if len(all) > k {
		all = all[:k]
	}
	return all, nil
}

// rebuild lays the vectors of dimension dim end to end.
func (c *vectorCache) rebuild(dim int) {
	n := 0
	for _, d := range c.docs {
		n += len(d.ids)
	}
	c.flat, c.flatIDs, c.dim = make([]float32, 0, n*dim), make([]int64, 0, n), dim
	for _, d := range c.docs {
		for i, v := range d.vecs {
			if len(v) == dim {
				c.flat = append(c.flat, v...)
				c.flatIDs = append(c.flatIDs, d.ids[i])
			}
		}
	}
	c.dirty = false
}

// topK scans vectors lo..hi of flat for the k most similar to q.
func topK(flat []float32, ids []int64, dim int, q []float32, lo, hi, k int) []scored {
	top := make([]scored, 0, k+1)
	for i := lo; i < hi; i++ {
		sim := dot(flat[i*dim:(i+1)*dim], q)
		if len(top) == k && sim <= top[k-1].score {
			continue
		}
		pos := sort.Search(len(top), func(x int) bool { return top[x].score < sim })
		top = append(top, scored{})
		copy(top[pos+1:], top[pos:])
		top[pos] = scored{id: ids[i], score: sim}
		if len(top) > k {
			top = top[:k]
		}
	}
	return top
}

// dot is the dot product of two vectors of equal length, unrolled by four.
func dot(a, b []float32) float32 {
	var s0, s1, s2, s3 float32
	n := len(a) &^ 3
	b = b[:len(a)]
	for i := 0; i < n; i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for i := n; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return s0 + s1 + s2 + s3
}
