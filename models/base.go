package models

import "time"

// Base is the bookkeeping every record carries (id, optimistic-locking
// version, timestamps). Models outside this package embed it to implement
// Entity, whose setMeta is unexported so that only the Store sets these.
type Base struct {
	ID        int64     `json:"id" gorm:"primaryKey"`
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func (b *Base) GetID() int64      { return b.ID }
func (b *Base) GetVersion() int64 { return b.Version }

//nolint:unused // Entity's setter for embedding models (app/admin's tests); only the Store calls it.
func (b *Base) setMeta(id, version int64, created, updated time.Time) {
	b.ID, b.Version, b.CreatedAt, b.UpdatedAt = id, version, created, updated
}
