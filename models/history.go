package models

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// HistoryEntry records one create, change or delete: who, when, from where,
// and which fields changed from what to what.
type HistoryEntry struct {
	ID         int64  `json:"id" gorm:"primaryKey"`
	ObjectType string `json:"object_type"`
	ObjectID   int64  `json:"object_id"`
	ObjectRepr string `json:"object_repr"`
	Action     string `json:"action"`
	ActorID    *int64 `json:"actor_id"`
	ActorName  string `json:"actor_name"`
	Source     string `json:"source"`
	Changes    string `json:"changes"`
	// Note says why the entry was made, when it says more than the action
	// ("Reverted entry #12").
	Note      string    `json:"note"`
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// TableName is the history table.
func (HistoryEntry) TableName() string { return "history" }

// ChangeMap decodes the recorded changes.
func (h *HistoryEntry) ChangeMap() map[string]Change {
	m := map[string]Change{}
	_ = json.Unmarshal([]byte(h.Changes), &m)
	return m
}

func (s *Store) log(ctx context.Context, tx *gorm.DB, rec Entity, action string, old, new any) error {
	e, err := newHistoryEntry(ctx, rec, action, old, new)
	if err != nil {
		return err
	}
	if err := tx.Omit("id").Create(&e).Error; err != nil {
		return fmt.Errorf("history: %w", err)
	}
	return nil
}

// newHistoryEntry describes rec's change by the actor in ctx.
func newHistoryEntry(ctx context.Context, rec Entity, action string, old, new any) (HistoryEntry, error) {
	a := ActorFrom(ctx)
	changes := map[string]Change{}
	if action != "delete" {
		changes = Diff(old, new)
	}
	b, err := json.Marshal(changes)
	if err != nil {
		return HistoryEntry{}, fmt.Errorf("history: %w", err)
	}
	now := Now()
	e := HistoryEntry{
		ObjectType: typeName(rec), ObjectID: rec.GetID(), ObjectRepr: truncate(rec.String(), 200),
		Action: action, ActorName: a.Username, Source: string(a.Source), Changes: string(b), Note: noteFrom(ctx),
		Version: 1, CreatedAt: now, UpdatedAt: now,
	}
	if a.UserID != 0 {
		id := a.UserID
		e.ActorID = &id
	}
	return e, nil
}

// History returns an object's entries, newest first.
func (s *Store) History(ctx context.Context, objectType string, id int64, limit int) ([]HistoryEntry, error) {
	var out []HistoryEntry
	err := s.DB.WithContext(ctx).Where("object_type = ? AND object_id = ?", objectType, id).
		Order("id DESC").Limit(limit).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("history of %s %d: %w", objectType, id, err)
	}
	return out, nil
}

// RecentHistory returns the latest entries across all objects.
func (s *Store) RecentHistory(ctx context.Context, limit int) ([]HistoryEntry, error) {
	var out []HistoryEntry
	if err := s.DB.WithContext(ctx).Order("id DESC").Limit(limit).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("recent history: %w", err)
	}
	return out, nil
}

type noteKey struct{}

// WithNote attaches a note to the history entries of the writes made with ctx.
func WithNote(ctx context.Context, note string) context.Context {
	return context.WithValue(ctx, noteKey{}, note)
}

func noteFrom(ctx context.Context) string {
	n, _ := ctx.Value(noteKey{}).(string)
	return truncate(n, 200)
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
