-- +goose Up
-- Each user's chat tokens of a UTC day: spent (as chat_usage records them)
-- plus reserved by chats still running. A chat reserves its prompt and its
-- max_tokens here before the model is called, with one conditional UPDATE
-- (atomic on both databases: concurrent chats cannot all pass the check),
-- and settles to the real usage, in the transaction that writes its
-- chat_usage row, when it ends.
CREATE TABLE chat_budget (
    user_id    INTEGER NOT NULL,
    day        TEXT    NOT NULL,
    tokens     INTEGER NOT NULL DEFAULT 0,
    reserved   INTEGER NOT NULL DEFAULT 0,
    updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (user_id, day)
);
-- The usage already recorded today and yesterday (UTC) counts.
INSERT INTO chat_budget (user_id, day, tokens, reserved)
SELECT user_id, day, SUM(total_tokens), 0 FROM chat_usage WHERE day >= date('now', '-1 day') GROUP BY user_id, day;

-- +goose Down
DROP TABLE chat_budget;
