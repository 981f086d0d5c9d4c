-- +goose Up
CREATE TABLE products (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 80),
    description TEXT    NOT NULL DEFAULT '' CHECK (length(description) <= 200),
    -- exact money: integer cents (SQLite has no exact decimal type)
    price       INTEGER NOT NULL CHECK (price >= 0),
    stock       INTEGER NOT NULL DEFAULT 0 CHECK (stock >= 0),
    version     INTEGER NOT NULL DEFAULT 1,
    created_at  DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at  DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_name ON products (name);
CREATE INDEX idx_products_price ON products (price);
CREATE INDEX idx_products_stock ON products (stock);
CREATE INDEX idx_products_created_at ON products (created_at);
CREATE INDEX idx_products_updated_at ON products (updated_at);

CREATE TABLE documents (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    title       TEXT    NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    content     TEXT    NOT NULL,
    version     INTEGER NOT NULL DEFAULT 1,
    created_at  DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at  DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_documents_title ON documents (title);
CREATE INDEX idx_documents_updated_at ON documents (updated_at);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL,
    email         TEXT    NOT NULL DEFAULT '',
    password_hash TEXT    NOT NULL,
    is_active     BOOLEAN NOT NULL DEFAULT 1,
    is_staff      BOOLEAN NOT NULL DEFAULT 0,
    is_superuser  BOOLEAN NOT NULL DEFAULT 0,
    last_login    DATETIME,
    version       INTEGER NOT NULL DEFAULT 1,
    created_at    DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at    DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE UNIQUE INDEX idx_users_username_lower ON users (lower(username));

CREATE TABLE refresh_tokens (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    family_id   TEXT    NOT NULL,
    jti_hash    TEXT    NOT NULL,
    expires_at  DATETIME NOT NULL,
    used_at     DATETIME,
    revoked_at  DATETIME,
    version     INTEGER NOT NULL DEFAULT 1,
    created_at  DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at  DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE UNIQUE INDEX idx_refresh_tokens_jti_hash ON refresh_tokens (jti_hash);
CREATE INDEX idx_refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX idx_refresh_tokens_user ON refresh_tokens (user_id);

-- Every create, change and delete, from the admin and the API alike.
CREATE TABLE history (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    object_type TEXT    NOT NULL,
    object_id   INTEGER  NOT NULL,
    object_repr TEXT    NOT NULL DEFAULT '',
    action      TEXT    NOT NULL CHECK (action IN ('create', 'update', 'delete')),
    actor_id    INTEGER,
    actor_name  TEXT    NOT NULL DEFAULT '',
    source      TEXT    NOT NULL DEFAULT '',
    changes     TEXT    NOT NULL DEFAULT '{}',
    version     INTEGER  NOT NULL DEFAULT 1,
    created_at  DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at  DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_history_object ON history (object_type, object_id, id);
CREATE INDEX idx_history_created_at ON history (created_at);

-- +goose Down
DROP TABLE history;
DROP TABLE refresh_tokens;
DROP TABLE users;
DROP TABLE documents;
DROP TABLE products;
