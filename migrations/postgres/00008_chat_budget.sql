-- +goose Up
-- Each user's chat tokens of a UTC day: spent (as chat_usage records them)
-- plus reserved by chats still running. A chat reserves its prompt and its
-- max_tokens here before the model is called, with one conditional UPDATE
-- (atomic on both databases: concurrent chats cannot all pass the check),
-- and settles to the real usage, in the transaction that writes its
-- chat_usage row, when it ends.
CREATE TABLE chat_budget (
    user_id    BIGINT NOT NULL,
    day        TEXT   NOT NULL,
    tokens     BIGINT NOT NULL DEFAULT 0,
    reserved   BIGINT NOT NULL DEFAULT 0,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, day)
);
-- The usage already recorded today and yesterday (UTC) counts.
INSERT INTO chat_budget (user_id, day, tokens, reserved)
SELECT user_id, day, SUM(total_tokens), 0 FROM chat_usage
WHERE day >= to_char((now() AT TIME ZONE 'UTC') - interval '1 day', 'YYYY-MM-DD') GROUP BY user_id, day;

-- +goose Down
DROP TABLE chat_budget;
