-- +goose Up
-- Search folds case and accents the same way on both databases: q's words
-- and the searched columns both go through search_fold (here lower() over
-- contrib's unaccent; on SQLite a Go function with the same table, see
-- models/search.go). unaccent() is only STABLE (its dictionary could
-- change), so an index needs this IMMUTABLE wrapper; the SQL-standard body
-- binds the function and the dictionary when it is created, so neither
-- depends on search_path later (restores, autovacuum's ANALYZE).
CREATE EXTENSION IF NOT EXISTS unaccent;
CREATE FUNCTION search_fold(text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN lower(unaccent('unaccent'::regdictionary, $1));

-- The trigram indexes must be over the expression the search uses, or the
-- planner cannot use them.
DROP INDEX idx_products_name_trgm;
DROP INDEX idx_products_description_trgm;
DROP INDEX idx_documents_title_trgm;
CREATE INDEX idx_products_name_fold_trgm ON products USING gin (search_fold(name) gin_trgm_ops);
CREATE INDEX idx_products_description_fold_trgm ON products USING gin (search_fold(description) gin_trgm_ops);
CREATE INDEX idx_documents_title_fold_trgm ON documents USING gin (search_fold(title) gin_trgm_ops);
-- Statistics of the new expressions, so LIKE estimates use them at once.
ANALYZE products;
ANALYZE documents;

-- +goose Down
DROP INDEX idx_documents_title_fold_trgm;
DROP INDEX idx_products_description_fold_trgm;
DROP INDEX idx_products_name_fold_trgm;
CREATE INDEX idx_products_name_trgm ON products USING gin (name gin_trgm_ops);
CREATE INDEX idx_products_description_trgm ON products USING gin (description gin_trgm_ops);
CREATE INDEX idx_documents_title_trgm ON documents USING gin (title gin_trgm_ops);
DROP FUNCTION search_fold(text);
-- unaccent stays, as pg_trgm does: other schemas may use it.
