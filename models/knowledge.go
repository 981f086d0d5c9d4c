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

// RecordUsage stores one usage row.
func RecordUsage(ctx context.Context, db *gorm.DB, u *ChatUsage) error {
	if u.Day == "" {
		u.Day = UsageDay(Now())
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = Now()
	}
	if err := db.WithContext(ctx).Omit("id").Create(u).Error; err != nil {
		return fmt.Errorf("record chat usage: %w", err)
	}
	return nil
}

// TokensUsedOn sums the tokens a user spent on day.
func TokensUsedOn(ctx context.Context, db *gorm.DB, userID int64, day string) (int64, error) {
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
