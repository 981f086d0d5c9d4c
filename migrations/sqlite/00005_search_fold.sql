-- +goose Up
-- Search folds case and accents with search_fold, a Go function every
-- connection registers (models/search.go); PostgreSQL's migration 00005
-- defines the same function over unaccent and indexes it with trigrams.
-- SQLite gets no index: a b-tree cannot serve LIKE '%word%', so the search
-- scans either way, and an index on search_fold(...) (it only spares the
-- COUNT the function calls) would make the schema depend on a function the
-- sqlite3 shell does not have, so every write, VACUUM or REINDEX of these
-- tables from the shell would fail. Measurements: models/SEARCH_NOTES.md.
SELECT 1;

-- +goose Down
SELECT 1;
