-- +goose Up
-- Permissions as data (Django's auth): per-model codenames such as
-- change_product, held by groups and by users directly; superusers hold
-- every permission without rows here. The codenames are the code's
-- (models.Permissions); these tables hold who has which.
CREATE TABLE auth_groups (
    id          INTEGER  PRIMARY KEY AUTOINCREMENT,
    name        TEXT     NOT NULL CHECK (length(name) BETWEEN 1 AND 150),
    version     INTEGER  NOT NULL DEFAULT 1,
    created_at  DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at  DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE UNIQUE INDEX idx_auth_groups_name_lower ON auth_groups (lower(name));

CREATE TABLE auth_group_permissions (
    group_id INTEGER NOT NULL REFERENCES auth_groups(id) ON DELETE CASCADE,
    codename TEXT    NOT NULL CHECK (length(codename) BETWEEN 1 AND 100),
    PRIMARY KEY (group_id, codename)
);

CREATE TABLE auth_user_groups (
    user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    group_id INTEGER NOT NULL REFERENCES auth_groups(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_id)
);
CREATE INDEX idx_auth_user_groups_group ON auth_user_groups (group_id);

CREATE TABLE auth_user_permissions (
    user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    codename TEXT    NOT NULL CHECK (length(codename) BETWEEN 1 AND 100),
    PRIMARY KEY (user_id, codename)
);

-- A history entry may say why it was made (a revert names the entry it reverts).
ALTER TABLE history ADD COLUMN note TEXT NOT NULL DEFAULT '';

-- Today's rights, kept: staff may view, add, change and delete products
-- and documents and use the chat; other active accounts may read them
-- through the API. Every existing account joins the group of its rights.
INSERT INTO auth_groups (name) VALUES ('Staff'), ('API readers');
INSERT INTO auth_group_permissions (group_id, codename)
SELECT g.id, c.codename FROM auth_groups g,
  (SELECT 'view_product' AS codename UNION ALL SELECT 'add_product' UNION ALL SELECT 'change_product'
   UNION ALL SELECT 'delete_product' UNION ALL SELECT 'view_document' UNION ALL SELECT 'add_document'
   UNION ALL SELECT 'change_document' UNION ALL SELECT 'delete_document' UNION ALL SELECT 'view_chat') c
WHERE g.name = 'Staff';
INSERT INTO auth_group_permissions (group_id, codename)
SELECT g.id, c.codename FROM auth_groups g,
  (SELECT 'view_product' AS codename UNION ALL SELECT 'view_document' UNION ALL SELECT 'view_chat') c
WHERE g.name = 'API readers';
INSERT INTO auth_user_groups (user_id, group_id)
SELECT u.id, g.id FROM users u, auth_groups g
WHERE g.name = 'Staff' AND u.is_staff AND NOT u.is_superuser;
INSERT INTO auth_user_groups (user_id, group_id)
SELECT u.id, g.id FROM users u, auth_groups g
WHERE g.name = 'API readers' AND NOT u.is_staff AND NOT u.is_superuser;

-- +goose Down
ALTER TABLE history DROP COLUMN note;
DROP TABLE auth_user_permissions;
DROP TABLE auth_user_groups;
DROP TABLE auth_group_permissions;
DROP TABLE auth_groups;
