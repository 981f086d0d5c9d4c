-- +goose Up
-- Knowledge base: chunks of documents with a full-text index and an
-- embedding each, the index state of every document, a durable job queue
-- for indexing, and chat usage for the per-user daily token budget.

-- A document's chunks. A re-index writes a new generation before it
-- removes the old one, so a document stays searchable if a run fails.
CREATE TABLE document_chunks (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    document_id     INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    generation      INTEGER NOT NULL,
    ordinal         INTEGER NOT NULL,
    heading         TEXT    NOT NULL DEFAULT '',
    content         TEXT    NOT NULL,
    token_count     INTEGER NOT NULL DEFAULT 0,
    -- little-endian float32 vector, L2-normalised
    embedding       BLOB,
    embedding_model TEXT    NOT NULL DEFAULT '',
    embedding_dim   INTEGER NOT NULL DEFAULT 0,
    created_at      DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    -- the text the FTS5 index below holds (PostgreSQL stores its tsvector here)
    search_vector   TEXT GENERATED ALWAYS AS (heading || ' ' || content) VIRTUAL
);
CREATE UNIQUE INDEX idx_document_chunks_doc_gen_ord ON document_chunks (document_id, generation, ordinal);

-- Full-text index (FTS5, external content: the text lives once, in
-- document_chunks; triggers keep the index in step, cascades included).
CREATE VIRTUAL TABLE document_chunks_fts USING fts5(
    heading, content,
    content = 'document_chunks', content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
-- +goose StatementBegin
CREATE TRIGGER document_chunks_ai AFTER INSERT ON document_chunks BEGIN
    INSERT INTO document_chunks_fts (rowid, heading, content) VALUES (new.id, new.heading, new.content);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER document_chunks_ad AFTER DELETE ON document_chunks BEGIN
    INSERT INTO document_chunks_fts (document_chunks_fts, rowid, heading, content) VALUES ('delete', old.id, old.heading, old.content);
END;
-- +goose StatementEnd

-- One row per document: pending | indexed | failed, with the error and the
-- embedding model and dimension of its chunks.
CREATE TABLE document_index (
    document_id     INTEGER PRIMARY KEY REFERENCES documents(id) ON DELETE CASCADE,
    state           TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'indexed', 'failed')),
    error           TEXT    NOT NULL DEFAULT '',
    embedding_model TEXT    NOT NULL DEFAULT '',
    embedding_dim   INTEGER NOT NULL DEFAULT 0,
    chunks          INTEGER NOT NULL DEFAULT 0,
    generation      INTEGER NOT NULL DEFAULT 0,
    doc_version     INTEGER NOT NULL DEFAULT 0,
    indexed_at      DATETIME,
    updated_at      DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_document_index_state ON document_index (state);

-- Durable background jobs. Times are unix milliseconds, identical on both
-- databases. At most one queued job per key (the partial unique index), and
-- a claim skips keys that have a running job with a live lease.
CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    payload      TEXT    NOT NULL DEFAULT '{}',
    state        TEXT    NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 5,
    run_at       INTEGER NOT NULL,
    locked_by    TEXT    NOT NULL DEFAULT '',
    locked_until INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX idx_jobs_queued_key ON jobs (key) WHERE state = 'queued';
CREATE INDEX idx_jobs_claim ON jobs (state, run_at);
CREATE INDEX idx_jobs_key_state ON jobs (key, state);

-- One row per chat message answered: who, which model, tokens, latency.
CREATE TABLE chat_usage (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id           INTEGER NOT NULL,
    day               TEXT    NOT NULL,
    model             TEXT    NOT NULL DEFAULT '',
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    total_tokens      INTEGER NOT NULL DEFAULT 0,
    latency_ms        INTEGER NOT NULL DEFAULT 0,
    outcome           TEXT    NOT NULL DEFAULT 'ok',
    created_at        DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_chat_usage_user_day ON chat_usage (user_id, day);
CREATE INDEX idx_chat_usage_created_at ON chat_usage (created_at);

-- +goose Down
DROP TABLE chat_usage;
DROP TABLE jobs;
DROP TABLE document_index;
DROP TRIGGER document_chunks_ad;
DROP TRIGGER document_chunks_ai;
DROP TABLE document_chunks_fts;
DROP TABLE document_chunks;
