package models

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Index states of a document.
const (
	IndexPending = "pending"
	IndexIndexed = "indexed"
	IndexFailed  = "failed"
)

// DocumentIndex is a document's knowledge-base index state: pending,
// indexed or failed (with the error), and the embedding model and dimension
// of its chunks. Stale is true when the chunks were embedded with another
// model than the one configured now (they are re-indexed in the background).
type DocumentIndex struct {
	DocumentID     int64      `json:"-" gorm:"primaryKey"`
	State          string     `json:"state"`
	Error          string     `json:"error,omitempty"`
	EmbeddingModel string     `json:"embedding_model,omitempty"`
	EmbeddingDim   int        `json:"embedding_dim,omitempty"`
	Chunks         int        `json:"chunks"`
	Generation     int64      `json:"-"`
	DocVersion     int64      `json:"document_version"`
	IndexedAt      *time.Time `json:"indexed_at,omitempty"`
	UpdatedAt      time.Time  `json:"updated_at"`
}

// TableName is the index state table.
func (DocumentIndex) TableName() string { return "document_index" }

// DocumentChunk is one passage of a document with its full-text index
// entry (maintained by the database) and its embedding.
type DocumentChunk struct {
	ID             int64 `gorm:"primaryKey"`
	DocumentID     int64
	Generation     int64
	Ordinal        int
	Heading        string
	Content        string
	TokenCount     int
	Embedding      []byte
	EmbeddingModel string
	EmbeddingDim   int
	CreatedAt      time.Time
}

// TableName is the chunk table.
func (DocumentChunk) TableName() string { return "document_chunks" }

// ChatUsage records one answered chat message.
type ChatUsage struct {
	ID               int64 `gorm:"primaryKey"`
	UserID           int64
	Day              string // UTC date, YYYY-MM-DD
	Model            string
	PromptTokens     int
	CompletionTokens int
	TotalTokens      int
	LatencyMS        int64 `gorm:"column:latency_ms"`
	Outcome          string
	CreatedAt        time.Time
}

// TableName is the usage table.
func (ChatUsage) TableName() string { return "chat_usage" }

// UsageDay is the budget day of t (UTC).
func UsageDay(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// RecordUsage stores one usage row (and counts it in the day's budget).
func RecordUsage(ctx context.Context, db *gorm.DB, u *ChatUsage) error {
	return SettleUsage(ctx, db, u, 0)
}

// ChatBudget is a user's chat tokens of one UTC day: spent plus reserved by
// chats still running (the chat_budget table).
type ChatBudget struct {
	UserID    int64  `gorm:"primaryKey"`
	Day       string `gorm:"primaryKey"`
	Tokens    int64  // spent + reserved
	Reserved  int64  // of Tokens, reserved by chats still running
	UpdatedAt time.Time
}

// TableName is the budget table.
func (ChatBudget) TableName() string { return "chat_budget" }

// ReserveTokens reserves need tokens of the user's day when the day's
// tokens (spent and reserved) plus fit stay within budget; budget 0 always
// reserves. One conditional UPDATE decides, so concurrent reservations on
// any number of instances never all pass: PostgreSQL re-checks the
// condition on the row it waited for, SQLite runs writes one at a time.
// When refused it reports false and the day's tokens.
func ReserveTokens(ctx context.Context, db *gorm.DB, userID int64, day string, need, fit, budget int64) (bool, int64, error) {
	db = db.WithContext(ctx)
	for seeded := false; ; seeded = true {
		now := Now()
		var res *gorm.DB
		if budget <= 0 {
			res = db.Exec(`UPDATE chat_budget SET tokens = tokens + ?, reserved = reserved + ?, updated_at = ? WHERE user_id = ? AND day = ?`,
				need, need, now, userID, day)
		} else {
			res = db.Exec(`UPDATE chat_budget SET tokens = tokens + ?, reserved = reserved + ?, updated_at = ?
WHERE user_id = ? AND day = ? AND tokens + ? <= ?`, need, need, now, userID, day, fit, budget)
		}
		if res.Error != nil {
			return false, 0, fmt.Errorf("reserve chat tokens: %w", res.Error)
		}
		if res.RowsAffected == 1 {
			return true, 0, nil
		}
		var rows []ChatBudget
		if err := db.Where("user_id = ? AND day = ?", userID, day).Limit(1).Find(&rows).Error; err != nil {
			return false, 0, fmt.Errorf("read chat budget: %w", err)
		}
		if len(rows) == 1 {
			if !seeded {
				// Another chat of the user's first of the day made the row
				// between our UPDATE and this read: try it again.
				continue
			}
			return false, rows[0].Tokens, nil
		}
		if seeded {
			return false, 0, fmt.Errorf("reserve chat tokens: the budget row of user %d on %s vanished", userID, day)
		}
		// The day's first chat: its row starts from the usage recorded.
		if err := db.Exec(`INSERT INTO chat_budget (user_id, day, tokens, reserved, updated_at)
SELECT ?, ?, COALESCE(SUM(total_tokens), 0), 0, ? FROM chat_usage WHERE user_id = ? AND day = ?
ON CONFLICT (user_id, day) DO NOTHING`, userID, day, now, userID, day).Error; err != nil {
			return false, 0, fmt.Errorf("start chat budget: %w", err)
		}
	}
}

// SettleUsage stores one usage row and, in the same transaction, replaces
// the reserved tokens of its day (ReserveTokens) by the tokens it used.
func SettleUsage(ctx context.Context, db *gorm.DB, u *ChatUsage, reserved int64) error {
	if u.Day == "" {
		u.Day = UsageDay(Now())
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = Now()
	}
	err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Omit("id").Create(u).Error; err != nil {
			return err
		}
		return tx.Exec(`INSERT INTO chat_budget (user_id, day, tokens, reserved, updated_at) VALUES (?, ?, ?, 0, ?)
ON CONFLICT (user_id, day) DO UPDATE SET tokens = chat_budget.tokens + excluded.tokens - ?,
  reserved = chat_budget.reserved - ?, updated_at = excluded.updated_at`,
			u.UserID, u.Day, u.TotalTokens, u.CreatedAt, reserved, reserved).Error
	})
	if err != nil {
		return fmt.Errorf("record chat usage: %w", err)
	}
	return nil
}

// TokensUsedOn is the tokens a user spent or reserved on day (the budget
// row, or the usage recorded when the day has none yet).
func TokensUsedOn(ctx context.Context, db *gorm.DB, userID int64, day string) (int64, error) {
	var rows []ChatBudget
	if err := db.WithContext(ctx).Where("user_id = ? AND day = ?", userID, day).Limit(1).Find(&rows).Error; err != nil {
		return 0, fmt.Errorf("read chat budget: %w", err)
	}
	if len(rows) == 1 {
		return rows[0].Tokens, nil
	}
	var n *int64
	err := db.WithContext(ctx).Model(&ChatUsage{}).Where("user_id = ? AND day = ?", userID, day).
		Select("SUM(total_tokens)").Scan(&n).Error
	if err != nil {
		return 0, fmt.Errorf("sum chat usage: %w", err)
	}
	if n == nil {
		return 0, nil
	}
	return *n, nil
}

// UsageSummary is chat usage grouped by user and model (for the dashboard).
type UsageSummary struct {
	UserID      int64  `json:"user_id"`
	Model       string `json:"model"`
	Messages    int64  `json:"messages"`
	TotalTokens int64  `json:"total_tokens"`
	AvgLatency  int64  `json:"avg_latency_ms"`
}

// ChatUsageSince sums the usage recorded on or after the UTC day of since.
func ChatUsageSince(ctx context.Context, db *gorm.DB, since time.Time) ([]UsageSummary, error) {
	var out []UsageSummary
	err := db.WithContext(ctx).Model(&ChatUsage{}).
		Select("user_id, model, COUNT(*) AS messages, COALESCE(SUM(total_tokens), 0) AS total_tokens, CAST(COALESCE(AVG(latency_ms), 0) AS BIGINT) AS avg_latency").
		Where("day >= ?", UsageDay(since)).Group("user_id, model").Order("total_tokens DESC").Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("chat usage summary: %w", err)
	}
	return out, nil
}
